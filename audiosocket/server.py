"""asyncio TCP server for Asterisk AudioSocket connections.

Per connection: the first message must be the call's UUID; a handler is made for it and
sending starts at once, emitting silence on the call's 20 ms clock before any inbound audio
(Asterisk issue #2089: some calls get no audio at all when the server waits). Every call's
frames leave from one shared timer (`audiosocket/sender.py`). A reader task per call decodes
inbound frames and feeds the handler; audio faster than real time ends that call
(`audiosocket/inbound.py`). Any protocol error, handler failure or EOF ends only that
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import socket
import uuid
from collections.abc import Callable
from typing import Protocol

from audiosocket.inbound import InboundBudget, InboundLimits, InboundTooFast
from audiosocket.pacing import FrameSource, PacingStats
from audiosocket.protocol import (
    Audio,
    Dtmf,
    Error,
    FrameDecoder,
    Hangup,
    ProtocolError,
    TruncatedMessage,
    Uuid,
    read_message,
)
from audiosocket.sender import BotHangup, FrameSender

log = logging.getLogger(__name__)

# Asterisk sends the UUID within ~1 ms of connecting; anything slower is not Asterisk.
DEFAULT_FIRST_MESSAGE_TIMEOUT = 5.0
# Inbound bytes are read in chunks and decoded together: one wake-up of the reader per TCP
# segment rather than two awaits per message (header, payload).
READ_CHUNK = 64 * 1024


class HangupReason(enum.Enum):
    CALLER = "caller"  # EOF from Asterisk (or an inbound 0x00)
    BOT = "bot"  # the handler asked for it; we sent 0x00
    PROTOCOL_ERROR = "protocol_error"
    HANDLER_ERROR = "handler_error"
    SERVER_CLOSED = "server_closed"
    TOO_FAST = "too_fast"  # inbound audio outran the wall clock (audiosocket/inbound.py)


class CallHandler(Protocol):
    """What the per-call session code implements. Callbacks run on the reader task."""

    @property
    def outbound(self) -> FrameSource:
        """Audio to send; its rate decides the outbound kind (0x10, 0x12, ...)."""
        ...

    async def on_audio(self, pcm: bytes, rate: int) -> None: ...

    async def on_dtmf(self, digit: str) -> None: ...

    async def on_hangup(self, reason: HangupReason) -> None:
        """Called exactly once when the connection ends, whatever the reason."""
        ...


class Call:
    """The connection as the handler sees it: identity and the bot's hang-up."""

    def __init__(self, call_id: uuid.UUID, peer: str) -> None:
        self.id = call_id
        self.peer = peer
        self.stats = PacingStats()
        # Set by the server when the connection is over, before the handler's on_hangup: the
        # edge counts calls on the line by it (post-call work may run on for a while).
        self.closed = False
        self._hangup_requested = False
        self._drain = False

    def hangup(self, *, after_speech: bool = False) -> None:
        """Send 0x00 and close on the next clock tick (or once queued speech has played)."""
        self._hangup_requested = True
        self._drain = after_speech

    @property
    def drains_speech(self) -> bool:
        return self._drain

    def hangup_due(self, source: FrameSource) -> bool:
        """Whether the send loop should send 0x00 now instead of the next frame."""
        return self._hangup_requested and (not self._drain or source.idle)


HandlerFactory = Callable[[Call], CallHandler]


class AudioSocketServer:
    """Listens for AudioSocket connections. `port=0` picks a free port (see `.port`)."""

    def __init__(
        self,
        host: str,
        port: int,
        handler_factory: HandlerFactory,
        *,
        first_message_timeout: float = DEFAULT_FIRST_MESSAGE_TIMEOUT,
        inbound_limits: InboundLimits | None = None,
        reuse_port: bool = False,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._factory = handler_factory
        self._first_message_timeout = first_message_timeout
        self._inbound_limits = inbound_limits or InboundLimits()
        # Several processes on one port (SO_REUSEPORT): the kernel spreads the connections.
        # Only for connections that need no ARI router state (docs/benchmarks.md, B3).
        self._reuse_port = reuse_port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._sender: FrameSender | None = None  # made on the running loop, at start()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._sender = FrameSender()
        self._server = await asyncio.start_server(
            self._on_connect,
            self.host,
            self._requested_port,
            reuse_port=self._reuse_port or None,
        )
        log.info("audiosocket listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> AudioSocketServer:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        sock: socket.socket | None = writer.get_extra_info("socket")
        if sock is not None:
            # Older Asterisk broke on messages split across segments; never delay small writes.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if peername else "?"
        try:
            await self._serve(reader, writer, peer)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("audiosocket %s: unexpected failure", peer)
        finally:
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()
            self._connections.discard(task)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        try:
            async with asyncio.timeout(self._first_message_timeout):
                first = await read_message(reader)
        except TimeoutError:
            log.warning(
                "audiosocket %s: no UUID within %.1f s, closing", peer, self._first_message_timeout
            )
            return
        except ProtocolError as exc:
            log.warning("audiosocket %s: protocol error before UUID, closing: %s", peer, exc)
            return
        if not isinstance(first, Uuid):
            log.warning("audiosocket %s: first message is %r, not a UUID; closing", peer, first)
            return
        call = Call(first.value, peer)
        handler = self._factory(call)
        log.info("audiosocket %s: call %s connected", peer, call.id)
        assert self._sender is not None
        # Silence (or the 0x00 of a refused call) goes out at once, then on the call's clock.
        outbound = self._sender.add(call, handler.outbound, writer.transport)
        receiver = asyncio.create_task(self._receive_loop(reader, call, handler))
        reason = HangupReason.SERVER_CLOSED
        try:
            done, _ = await asyncio.wait(
                {outbound.done, receiver}, return_when=asyncio.FIRST_COMPLETED
            )
            reason = _reason(done.pop(), call)
        finally:
            self._sender.remove(outbound)
            receiver.cancel()
            await asyncio.gather(outbound.done, receiver, return_exceptions=True)
            call.closed = True
            s = call.stats
            log.info(
                "audiosocket %s: call %s ended (%s); sent %d frames, %d late, %d skipped",
                peer,
                call.id,
                reason.value,
                s.sent,
                s.late,
                s.skipped,
            )
            try:
                await handler.on_hangup(reason)
            except Exception:
                log.exception("audiosocket %s: call %s on_hangup failed", peer, call.id)

    async def _receive_loop(
        self, reader: asyncio.StreamReader, call: Call, handler: CallHandler
    ) -> None:
        loop = asyncio.get_running_loop()
        decoder = FrameDecoder()
        budget = InboundBudget(loop.time(), self._inbound_limits)
        on_audio = handler.on_audio
        while True:
            data = await reader.read(READ_CHUNK)
            if not data:
                if decoder.pending:
                    raise TruncatedMessage(
                        f"stream ended inside a message ({decoder.pending} bytes of it)"
                    )
                return
            now = loop.time()
            for message in decoder.feed(data):
                if type(message) is Audio:  # 50 a second per call: checked first, cheaply
                    budget.audio(len(message.pcm), message.rate, now)
                    await on_audio(message.pcm, message.rate)
                    continue
                match message:
                    case Hangup():
                        return
                    case Dtmf(digit):
                        budget.control(now)
                        await handler.on_dtmf(digit)
                    case Error(payload):
                        budget.control(now)
                        log.warning(
                            "audiosocket %s: call %s: Asterisk error %r",
                            call.peer,
                            call.id,
                            payload,
                        )
                    case Uuid(value):
                        raise ProtocolError(f"second UUID {value} on an established call")


def _reason(finished: asyncio.Future[None], call: Call) -> HangupReason:
    exc = finished.exception()
    if exc is None:
        return HangupReason.CALLER
    if isinstance(exc, BotHangup):
        return HangupReason.BOT
    if isinstance(exc, InboundTooFast):
        # Not the caller's speech: a broken or hostile peer. Only this connection ends.
        log.warning("audiosocket %s: call %s: cut off: %s", call.peer, call.id, exc)
        return HangupReason.TOO_FAST
    if isinstance(exc, ProtocolError):
        log.warning("audiosocket %s: call %s: protocol error, closing: %s", call.peer, call.id, exc)
        return HangupReason.PROTOCOL_ERROR
    if isinstance(exc, ConnectionError):
        log.info("audiosocket %s: call %s: connection lost: %s", call.peer, call.id, exc)
        return HangupReason.CALLER
    log.error("audiosocket %s: call %s: handler failed, closing", call.peer, call.id, exc_info=exc)
    return HangupReason.HANDLER_ERROR

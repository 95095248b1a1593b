"""The AudioSocket server over real TCP on 127.0.0.1, with a tiny peer speaking the protocol.

Timing assertions are deliberately loose (a loaded 2-core box stalls the loop now and then);
the measured lateness is printed, not asserted precisely.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import statistics
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiosocket.pacing import FRAME_SECONDS, FrameSource
from audiosocket.protocol import (
    Audio,
    Dtmf,
    Error,
    Hangup,
    Message,
    Uuid,
    encode,
    read_message,
)
from audiosocket.server import AudioSocketServer, Call, HangupReason
from audiosocket.testing import RecordingHandler

TIMEOUT = 10.0
SPEECH = b"\x10\x27" * 160  # one 8 kHz frame of a constant, clearly non-silent sample


@dataclass
class Edge:
    server: AudioSocketServer
    handlers: dict[uuid.UUID, RecordingHandler]
    created: asyncio.Event = field(default_factory=asyncio.Event)

    async def handler(self, call_id: uuid.UUID) -> RecordingHandler:
        async with asyncio.timeout(TIMEOUT):
            while call_id not in self.handlers:
                self.created.clear()
                await self.created.wait()
        return self.handlers[call_id]


@asynccontextmanager
async def edge(rate: int = 8000, *, echo: bool = False) -> AsyncIterator[Edge]:
    handlers: dict[uuid.UUID, RecordingHandler] = {}
    created = asyncio.Event()

    def factory(call: Call) -> RecordingHandler:
        handler = RecordingHandler(call, FrameSource(rate), echo=echo)
        handlers[call.id] = handler
        created.set()
        return handler

    async with AudioSocketServer("127.0.0.1", 0, factory) as server:
        yield Edge(server, handlers, created)


class Peer:
    """Plays Asterisk: sends the UUID first, then whatever the test says; reads paced frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.call_id = uuid.uuid4()

    @classmethod
    async def connect(cls, port: int, *, send_uuid: bool = True) -> Peer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        peer = cls(reader, writer)
        if send_uuid:
            await peer.send(Uuid(peer.call_id))
        return peer

    async def send(self, message: Message) -> None:
        await self.send_raw(encode(message))

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def receive(self) -> Message | None:
        async with asyncio.timeout(TIMEOUT):
            return await read_message(self.reader)

    async def frames(self, count: int) -> list[tuple[float, Audio]]:
        loop = asyncio.get_running_loop()
        out: list[tuple[float, Audio]] = []
        while len(out) < count:
            message = await self.receive()
            assert isinstance(message, Audio), message
            out.append((loop.time(), message))
        return out

    async def closed_by_server(self) -> bool:
        """True once the server closes the socket (EOF), draining anything still in flight."""
        # A reset instead of a FIN also means closed (the server may drop unread bytes).
        with suppress(ConnectionResetError):
            async with asyncio.timeout(TIMEOUT):
                while await self.reader.read(65536):
                    pass
        return True

    async def close(self) -> None:
        self.writer.close()
        with suppress(ConnectionError):
            await self.writer.wait_closed()


async def test_silence_before_any_inbound_audio() -> None:
    async with edge() as e:
        peer = await Peer.connect(e.server.port)
        frames = await peer.frames(5)
        assert all(frame == Audio(8000, bytes(320)) for _, frame in frames)
        handler = await e.handler(peer.call_id)
        assert handler.audio == []
        await peer.close()


async def test_pacing_is_20_ms(capsys: pytest.CaptureFixture[str]) -> None:
    async with edge() as e:
        peer = await Peer.connect(e.server.port)
        frames = await peer.frames(100)
        await peer.close()
    arrivals = [t for t, _ in frames]
    intervals = [b - a for a, b in itertools.pairwise(arrivals)]
    # Lateness against the earliest schedule the arrivals allow: the peer cannot see the
    # server's start time. Frame 0 is skipped because the lead sends it together with frame 1.
    offsets = [t - n * FRAME_SECONDS for n, t in enumerate(arrivals)][1:]
    lateness = sorted(o - min(offsets) for o in offsets)
    p99 = lateness[int(0.99 * (len(lateness) - 1))]
    median = statistics.median(intervals)
    handler = e.handlers[peer.call_id]
    with capsys.disabled():
        print(
            f"\n[pacing] 100 frames: median interval {median * 1000:.1f} ms, "
            f"p99 lateness {p99 * 1000:.1f} ms, max {lateness[-1] * 1000:.1f} ms, "
            f"server late/skipped {handler.call.stats.late}/{handler.call.stats.skipped}"
        )
    assert 0.010 <= median <= 0.040
    # No burst: 100 frames cannot all arrive in a fraction of their play time.
    assert arrivals[-1] - arrivals[0] > 1.0


async def test_garbage_connection_does_not_affect_a_healthy_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="audiosocket.server")
    async with edge() as e:
        healthy = await Peer.connect(e.server.port)
        await healthy.frames(3)

        http = await Peer.connect(e.server.port, send_uuid=False)
        await http.send_raw(b"GET / HTTP/1.1\r\nHost: edge\r\n\r\n")
        assert await http.closed_by_server()

        mid_call = await Peer.connect(e.server.port)
        await mid_call.frames(1)
        await mid_call.send_raw(b"\x10\xff\xff" + b"\x00" * 100)  # oversized audio
        assert await mid_call.closed_by_server()
        assert (await e.handler(mid_call.call_id)).reasons == [HangupReason.PROTOCOL_ERROR]

        frames = await healthy.frames(10)
        assert len(frames) == 10
        assert (await e.handler(healthy.call_id)).reasons == []
        await healthy.close()
        await http.close()
        await mid_call.close()
    assert "protocol error before UUID, closing: unknown message kind 0x47" in caplog.text
    assert "audio payload of 65535 bytes exceeds" in caplog.text


async def test_first_message_must_be_uuid(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="audiosocket.server")
    async with edge() as e:
        peer = await Peer.connect(e.server.port, send_uuid=False)
        await peer.send(Audio(8000, SPEECH))
        assert await peer.closed_by_server()
        await peer.close()
        assert e.handlers == {}
    assert "not a UUID; closing" in caplog.text


async def test_bot_hangup_sends_0x00_then_closes() -> None:
    async with edge() as e:
        peer = await Peer.connect(e.server.port)
        await peer.frames(2)
        handler = await e.handler(peer.call_id)
        handler.call.hangup()
        while isinstance(message := await peer.receive(), Audio):
            pass
        assert message == Hangup()
        assert await peer.receive() is None  # EOF right after the hang-up
        await asyncio.wait_for(handler.ended.wait(), TIMEOUT)
        assert handler.reasons == [HangupReason.BOT]
        await peer.close()


async def test_bot_hangup_after_speech_plays_it_first() -> None:
    async with edge() as e:
        peer = await Peer.connect(e.server.port)
        handler = await e.handler(peer.call_id)
        handler.outbound.enqueue(SPEECH * 3)
        handler.call.hangup(after_speech=True)
        received: list[Message] = []
        while (message := await peer.receive()) is not None:
            received.append(message)
        assert received[-1] == Hangup()
        assert [m for m in received if m == Audio(8000, SPEECH)] == [Audio(8000, SPEECH)] * 3
        await peer.close()


async def test_peer_eof_ends_the_handler() -> None:
    async with edge() as e:
        peer = await Peer.connect(e.server.port)
        await peer.frames(1)
        handler = await e.handler(peer.call_id)
        await peer.close()
        await asyncio.wait_for(handler.ended.wait(), TIMEOUT)
        assert handler.reasons == [HangupReason.CALLER]


async def test_a_second_uuid_is_a_protocol_error() -> None:
    async with edge() as e:
        peer = await Peer.connect(e.server.port)
        handler = await e.handler(peer.call_id)
        await peer.send(Uuid(uuid.uuid4()))
        await asyncio.wait_for(handler.ended.wait(), TIMEOUT)
        assert handler.reasons == [HangupReason.PROTOCOL_ERROR]
        assert await peer.closed_by_server()
        await peer.close()


async def test_server_close_ends_open_calls() -> None:
    async with edge() as e:
        peer = await Peer.connect(e.server.port)
        await peer.frames(1)
        handler = await e.handler(peer.call_id)
    assert handler.reasons == [HangupReason.SERVER_CLOSED]
    assert await peer.closed_by_server()
    await peer.close()


@pytest.mark.parametrize(("rate", "kind", "size"), [(8000, 0x10, 320), (16000, 0x12, 640)])
async def test_rates_and_echo(rate: int, kind: int, size: int) -> None:
    async with edge(rate, echo=True) as e:
        peer = await Peer.connect(e.server.port)
        header = await asyncio.wait_for(peer.reader.readexactly(3), TIMEOUT)
        assert header == bytes([kind]) + size.to_bytes(2, "big")
        await asyncio.wait_for(peer.reader.readexactly(size), TIMEOUT)
        speech = b"\x10\x27" * (size // 2)
        await peer.send(Audio(rate, speech))
        # Variable inbound sizes are normal (short last frames of a playback).
        await peer.send(Audio(rate, b"\x01\x00" * 44))
        while (message := await peer.receive()) != Audio(rate, speech):
            assert message == Audio(rate, bytes(size))
        handler = await e.handler(peer.call_id)
        assert handler.audio == [(rate, speech), (rate, b"\x01\x00" * 44)]
        await peer.close()


async def test_barge_in_switches_to_silence_at_once() -> None:
    async with edge() as e:
        peer = await Peer.connect(e.server.port)
        handler = await e.handler(peer.call_id)
        handler.outbound.enqueue(SPEECH * 200)
        received = 0
        while (await peer.frames(1))[0][1].pcm != SPEECH:
            received += 1
        received += 1
        handler.outbound.clear()
        # Frames already on the wire may still be speech (how many depends on how far the
        # peer lags, not on the server); every frame produced after clear() is silence.
        in_flight = handler.call.stats.sent - received
        await peer.frames(in_flight)
        assert [frame.pcm for _, frame in await peer.frames(5)] == [bytes(320)] * 5
        await peer.close()


async def test_speech_after_silence_leaves_at_once_not_at_the_next_slot() -> None:
    """A reply queued just after a silence frame left used to wait ~20 ms for the next slot
    of the silence grid; its first frame now goes at once, and the rest keep 20 ms apart."""
    waits = []
    async with edge() as e:
        peer = await Peer.connect(e.server.port)
        handler = await e.handler(peer.call_id)
        loop = asyncio.get_running_loop()
        for _ in range(5):
            await peer.frames(3)  # silence; the last one just arrived: its slot is fresh
            queued = loop.time()
            handler.outbound.enqueue(SPEECH * 5)
            # (a stalled loop may have let one more silence frame out before the speech)
            while (first := (await peer.frames(1))[0])[1].pcm != SPEECH:
                pass
            waits.append(first[0] - queued)
            assert [frame.pcm for _, frame in await peer.frames(4)] == [SPEECH] * 4
            # the sixth frame on is silence again, on the call's own grid
            assert (await peer.frames(1))[0][1].pcm == bytes(320)
        await peer.close()
    # Frames already on the wire left before the speech was queued; without the early start
    # every wait is ~20 ms (the lead sends one slot ahead), with it ~0 plus loop wake-ups.
    assert statistics.median(waits) < 0.012, waits


class FailingHandler(RecordingHandler):
    async def on_dtmf(self, digit: str) -> None:
        raise RuntimeError(f"session bug on {digit}")


async def test_handler_failure_closes_only_that_call(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="audiosocket.server")
    handlers: list[RecordingHandler] = []

    def factory(call: Call) -> RecordingHandler:
        handler = FailingHandler(call, FrameSource(8000))
        handlers.append(handler)
        return handler

    async with AudioSocketServer("127.0.0.1", 0, factory) as server:
        healthy = await Peer.connect(server.port)
        failing = await Peer.connect(server.port)
        await failing.send(Error(b"\x02"))  # logged, not fatal
        await failing.send(Dtmf("1"))
        assert await failing.closed_by_server()
        await healthy.frames(5)
        assert [h.reasons for h in handlers] == [[], [HangupReason.HANDLER_ERROR]]
        await healthy.close()
        await failing.close()
    assert "Asterisk error b'\\x02'" in caplog.text
    assert "handler failed, closing" in caplog.text
    assert "session bug on 1" in caplog.text


async def test_dtmf_reaches_the_handler() -> None:
    async with edge() as e:
        peer = await Peer.connect(e.server.port)
        await peer.send(Dtmf("5"))
        await peer.send(Dtmf("#"))
        handler = await e.handler(peer.call_id)
        async with asyncio.timeout(TIMEOUT):
            while len(handler.digits) < 2:
                await handler.dtmf_seen.wait()
                handler.dtmf_seen.clear()
        assert handler.digits == ["5", "#"]
        await peer.close()


# Raw bytes a broken or hostile peer might send after (or instead of) its UUID: random
# noise, oversized or truncated headers, valid frames cut short, unknown kinds.
_KIND = st.sampled_from([0x00, 0x01, 0x03, 0x10, 0x12, 0x18, 0x19, 0x7F, 0xFF])
_FRAME = st.builds(
    lambda kind, length, payload: bytes([kind]) + length.to_bytes(2, "big") + payload,
    _KIND,
    st.integers(0, 0xFFFF),
    st.binary(max_size=700),  # usually fewer bytes than the header promises: truncated
)
_GARBAGE = st.lists(st.one_of(_FRAME, st.binary(min_size=1, max_size=64)), min_size=1, max_size=6)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(garbage=_GARBAGE, after_uuid=st.booleans())
async def test_fuzzed_connections_never_disturb_a_live_call(
    garbage: list[bytes], after_uuid: bool
) -> None:
    """Whatever one connection sends, the server survives it and a live call keeps its
    20 ms audio and its handler; the bad connection ends on its own (error, EOF or timeout)."""
    async with edge() as e:
        healthy = await Peer.connect(e.server.port)
        await healthy.frames(2)
        bad = await Peer.connect(e.server.port, send_uuid=after_uuid)
        with suppress(ConnectionError):
            for chunk in garbage:
                await bad.send_raw(chunk)
        await bad.close()
        assert len(await healthy.frames(5)) == 5
        assert (await e.handler(healthy.call_id)).reasons == []
        # The server still takes new calls.
        late = await Peer.connect(e.server.port)
        assert len(await late.frames(1)) == 1
        await late.close()
        await healthy.close()

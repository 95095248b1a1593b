"""The edge process: AudioSocket server + (optional) ARI call router + speech + Temporal client.

Every AudioSocket connection gets an `EdgeCallSession`. With ARI (`ARI_URL` set) the router
answers callers in the Stasis app and has Asterisk open the AudioSocket leg with a UUID it
chose; the session finds the caller's number by that UUID (waiting briefly: the UUID frame
can arrive before the router registered the call). Without ARI the dialplan `AudioSocket()`
application connects directly and the caller number is unknown (the workflow's withheld
rules apply).

Without STT (`STT_BASE_URL` unset) the edge still starts, with a warning: callers hear the
greeting, keys work, and any speech is answered with an apology and the hint to press 0 for
an operator. Refusing to start would take the whole `voiceorder up` stack down on a laptop
with no speech service, and a phone line that answers honestly beats one that rings out.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from aiohttp import web
from temporalio.client import Client

from audiosocket.admission import BusyCall, Refusal, RefusedCall, UuidGuard
from audiosocket.ari import AriClient
from audiosocket.ari_calls import AriCallRouter
from audiosocket.dtmf import DtmfSource
from audiosocket.end_of_turn import EndOfTurnWaits
from audiosocket.line_rate import FALLBACK_RATE, SPEAKABLE_RATES
from audiosocket.memory import HeapTrimmer
from audiosocket.metrics import EdgeMetrics, metrics_app
from audiosocket.reply_stream import ReplyStreamConfig, ReplyStreamServer
from audiosocket.server import AudioSocketServer, Call, CallHandler
from audiosocket.session import (
    EdgeCallSession,
    FillerCache,
    SessionDeps,
    SessionTimings,
    default_endpointer,
)
from audiosocket.speech import (
    Endpointer,
    Synthesizer,
    Transcriber,
    build_synthesizer,
    build_transcriber,
)
from audiosocket.speech.base import close_provider
from core.settings import DEFAULT_EDGE_MAX_CALLS, Settings
from core.vocabulary import AgentMode
from russian import warm_up as russian_warm_up
from workflows.client import agent_for, lookup_limits_for
from workflows.models import LookupLimits

log = structlog.get_logger("audiosocket.edge")

# externalMedia format: 16 kHz (kind 0x12, 640-byte frames). Asterisk before 20.17 / 21.12 /
# 22.7 / 23.1 labels every rate 8 kHz: use "slin" there (ARI_MEDIA_FORMAT).
MEDIA_FORMAT = "slin16"
# A dialplan connection starts at 8 kHz, what the AudioSocket() application always uses
# (audiosocket.md), and takes up the caller's rate once their frames tell it
# (audiosocket.line_rate): `Dial(AudioSocket/…/c(slin16))` sends 16 kHz.
DIALPLAN_RATE = FALLBACK_RATE
RATES = {"slin": 8000, "slin16": 16000}
# What a caller hears when the edge is full (EDGE_MAX_CALLS) and ARI cannot hand them over.
BUSY_TEXT = "Извините, сейчас все линии заняты. Пожалуйста, перезвоните через несколько минут."


def _warm_up() -> None:
    russian_warm_up()


class EdgeError(RuntimeError):
    """The edge cannot run; the message says what to change."""


class Edge:
    """`async with Edge(...) as edge:` listens on `edge.port` until the block ends."""

    def __init__(
        self,
        *,
        client: Client,
        task_queue: str,
        transcriber: Transcriber | None,
        synthesizer: Synthesizer,
        host: str = "127.0.0.1",
        port: int = 9092,
        ari: AriClient | None = None,
        external_host: str | None = None,
        operator_context: str = "operators",
        metrics_port: int | None = None,
        metrics_host: str = "127.0.0.1",
        timings: SessionTimings | None = None,
        endpointer: Callable[[int], Endpointer] = default_endpointer,
        dialplan_rate: int = DIALPLAN_RATE,
        media_format: str = MEDIA_FORMAT,
        agent: AgentMode = AgentMode.AUTO,
        lookup_limits: LookupLimits | None = None,
        max_calls: int = DEFAULT_EDGE_MAX_CALLS,
        end_of_turn: EndOfTurnWaits | None = None,
        attention_after_s: int = 120,
        reply_stream: ReplyStreamConfig | None = None,
    ) -> None:
        if media_format not in RATES:
            raise EdgeError(f"media format {media_format!r} is not one of {sorted(RATES)}")
        if max_calls < 1:
            raise EdgeError(f"the edge must take at least one call, not {max_calls}")
        self.max_calls = max_calls
        self._media_format = media_format
        self.metrics = EdgeMetrics()
        self.sessions: dict[uuid.UUID, EdgeCallSession] = {}
        self.ended: list[EdgeCallSession] = []  # finished sessions, newest last (kept 100)
        self._ari = ari
        self._external_host = external_host
        self._operator_context = operator_context
        self._metrics_port = metrics_port
        # Not the AudioSocket address: /metrics has no authentication, and an edge listening
        # for Asterisk on 0.0.0.0 must not publish it there by accident (METRICS_HOST).
        self._metrics_host = metrics_host
        self._metrics_runner: web.AppRunner | None = None
        self.router: AriCallRouter | None = None
        self._router_task: asyncio.Task[None] | None = None
        self.failed: asyncio.Future[BaseException] | None = None
        self.deps = SessionDeps(
            client=client,
            task_queue=task_queue,
            transcriber=transcriber,
            synthesizer=synthesizer,
            metrics=self.metrics,
            timings=timings or SessionTimings(),
            endpointer=endpointer,
            fillers=FillerCache(synthesizer),
            agent=agent,
            lookup_limits=lookup_limits or LookupLimits(),
            end_of_turn=end_of_turn or EndOfTurnWaits(),
            attention_after_s=attention_after_s,
        )
        # Synthesised once at start, like the filler: a full edge must not spend TTS per refusal.
        self._busy_phrase = FillerCache(synthesizer, BUSY_TEXT)
        self._busy_pcm: dict[int, bytes] = {}  # by rate, filled by start()
        self.heap = HeapTrimmer()  # gives ended calls' memory back to the system
        self.server = AudioSocketServer(host, port, self._new_session)
        # Outbound audio of a connection without ARI until the caller's frames tell its rate:
        # the AudioSocket() app is always 8 kHz, `Dial(AudioSocket/host:port/uuid/c(slin16))`
        # 16 kHz (audiosocket.line_rate).
        self._dialplan_rate = dialplan_rate
        self._rate = dialplan_rate  # the usual rate: of Stasis legs once ARI is on
        self._watchers: set[asyncio.Task[Any]] = set()
        self._uuids = UuidGuard()
        # Streamed replies (docs/streaming.md): off without a secret.
        self._reply_stream_config = reply_stream
        self.reply_stream: ReplyStreamServer | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, client: Client, *, metrics_port: int | None = None
    ) -> Edge:
        transcriber = build_transcriber(settings)
        if transcriber is None:
            log.warning(
                "stt_not_configured",
                hint="set STT_BASE_URL: until then callers hear an apology for any speech "
                "and can press 0 for an operator",
            )
        ari = None
        if settings.ari_url:
            if not settings.ari_user or not settings.ari_password:
                raise EdgeError("ARI_URL is set, so ARI_USER and ARI_PASSWORD are needed too")
            ari = AriClient(
                settings.ari_url, settings.ari_user, settings.ari_password, settings.ari_app
            )
        return cls(
            client=client,
            task_queue=settings.temporal_task_queue,
            transcriber=transcriber,
            synthesizer=build_synthesizer(settings),
            host=settings.audiosocket_host,
            port=settings.audiosocket_port,
            ari=ari,
            external_host=settings.audiosocket_external_host,
            operator_context=settings.operator_context,
            metrics_port=metrics_port,
            metrics_host=settings.metrics_host,
            media_format=settings.ari_media_format,
            agent=agent_for(settings),
            lookup_limits=lookup_limits_for(settings),
            max_calls=settings.edge_max_calls,
            end_of_turn=EndOfTurnWaits.from_settings(settings),
            attention_after_s=settings.call_attention_after_s,
            reply_stream=(
                ReplyStreamConfig(
                    settings.reply_stream_secret,
                    host=settings.reply_stream_host,
                    port=settings.reply_stream_port,
                    advertise_url=settings.reply_stream_url,
                )
                if settings.reply_stream_secret
                else None
            ),
        )

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """(host, port) the metrics server listens on, once started."""
        if self._metrics_runner is None:
            return None
        for site in self._metrics_runner.sites:
            server = getattr(site, "_server", None)
            if server is not None and server.sockets:
                host, port = server.sockets[0].getsockname()[:2]
                return str(host), int(port)
        return None

    @property
    def metrics_port(self) -> int | None:
        address = self.metrics_address
        return address[1] if address else None

    @property
    def listening(self) -> bool:
        try:
            self.server.port  # noqa: B018 - raises until the server listens
        except RuntimeError:
            return False
        return True

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.failed = loop.create_future()
        if self._ari is not None:
            self._rate = RATES[self._media_format]
        # Whatever is slow on first use happens before the port opens, not during the first
        # calls: imports and dictionaries (pymorphy3 ~0.5 s), VAD models and the filler. In a
        # thread, yet they hold the GIL: run while calls were connecting they stalled every
        # call's 20 ms clock (bench/edge_pacing.py).
        await asyncio.to_thread(_warm_up)
        await asyncio.to_thread(self._preload_vad_models)
        assert self.deps.fillers is not None
        # Every rate a call may speak: a dialplan caller's may turn out to be 16 kHz.
        for rate in sorted({self._rate, *SPEAKABLE_RATES}):
            await self.deps.fillers.get(rate)
        for rate in {self._rate, self._dialplan_rate}:
            self._busy_pcm[rate] = await self._busy_phrase.get(rate)
        if self._reply_stream_config is not None:
            config = self._reply_stream_config
            server = config.server()
            try:
                await server.__aenter__()
            except OSError as exc:
                raise EdgeError(
                    f"cannot listen on {config.host}:{config.port} for streamed replies "
                    f"(REPLY_STREAM_HOST/REPLY_STREAM_PORT): {exc.strerror or exc}"
                ) from None
            self.reply_stream = self.deps.reply_stream = server
        await self.server.start()
        if self._ari is not None:
            # Known only now when port 0 asked for a free port.
            external = self._external_host or f"{self.server.host}:{self.port}"
            self.router = AriCallRouter(
                self._ari,
                external_host=external,
                operator_context=self._operator_context,
                media_format=self._media_format,
            )
            self.router.set_listener(self)
            self.deps.routing = self.router
            self._router_task = asyncio.create_task(self._run_router(), name="ari-router")
        if self._metrics_port is not None:
            self._metrics_runner = web.AppRunner(
                metrics_app(self.metrics, lambda: self.listening), access_log=None
            )
            await self._metrics_runner.setup()
            site = web.TCPSite(self._metrics_runner, self._metrics_host, self._metrics_port)
            await site.start()
        log.info(
            "edge_listening",
            audiosocket=f"{self.server.host}:{self.port}",
            ari="on" if self.router else "off (dialplan AudioSocket() path)",
            stt="on" if self.deps.transcriber else "off",
            metrics_host=self._metrics_host if self._metrics_port is not None else None,
            metrics_port=self.metrics_port,
            reply_stream=self.reply_stream.base_url if self.reply_stream else "off",
        )

    def _preload_vad_models(self) -> None:
        """Load the shared VAD model of each rate a call can come at: loading one takes ~40 ms
        with the GIL held, which would stall every call's clock if the first call did it."""
        for rate in {self._rate, self._dialplan_rate}:
            self.deps.endpointer(rate).close()

    async def close(self) -> None:
        await self.server.close()  # ends every open call (their sessions clean up)
        pending = [s.finished.wait() for s in list(self.sessions.values())]
        if pending:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await asyncio.gather(*pending)
        # Sessions ended above had the router hand their callers to the operators; only now
        # does the router stop.
        if self._router_task is not None:
            self._router_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._router_task
            self._router_task = None
        if self._ari is not None:
            await self._ari.close()
        if self.reply_stream is not None:
            await self.reply_stream.__aexit__(None, None, None)
            self.reply_stream = self.deps.reply_stream = None
        if self._metrics_runner is not None:
            await self._metrics_runner.cleanup()
            self._metrics_runner = None
        await close_provider(self.deps.transcriber)
        await close_provider(self.deps.synthesizer)
        await self.heap.close()

    async def __aenter__(self) -> Edge:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def serve(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; raises what ended the ARI router (e.g. bad credentials)."""
        assert self.failed is not None
        stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        failed: asyncio.Future[Any] = self.failed
        try:
            await asyncio.wait({stopped, failed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if self.failed.done():
            raise self.failed.result()

    async def _run_router(self) -> None:
        assert self.router is not None and self.failed is not None
        try:
            await self.router.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("ari_router_stopped", error=str(exc))
            if not self.failed.done():
                self.failed.set_result(exc)

    # --- sessions ------------------------------------------------------------------------------

    def _new_session(self, call: Call) -> CallHandler:
        refusal = self._uuids.check(call.id)
        if refusal is not None:
            log.warning("call_refused", reason=refusal.value, peer=call.peer)
            self.metrics.call_refused(refusal.value)
            return RefusedCall(call, self._rate_of(call))
        if self.calls_on_line >= self.max_calls:
            return self._busy(call)
        session = EdgeCallSession(
            call,
            self.deps,
            rate=self._rate_of(call),
            follows_caller=not self._is_stasis_leg(call),
        )
        self.sessions[call.id] = session
        task = asyncio.create_task(self._forget_when_finished(session))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)
        return session

    @property
    def calls_on_line(self) -> int:
        """Admitted calls whose connection is still open (post-call work does not count)."""
        return sum(1 for session in self.sessions.values() if not session.call.closed)

    def _busy(self, call: Call) -> CallHandler:
        """No room: no workflow starts; a Stasis caller goes to the operators, anyone else
        hears the busy phrase and is hung up (the dialplan then goes on after AudioSocket())."""
        reason = Refusal.EDGE_FULL.value
        self.metrics.call_refused(reason)
        line = self.router.lookup(call.id) if self.router is not None else None
        rate = self._rate_of(call)
        if self.router is not None and line is not None and not line.via_dialplan:
            log.warning("call_refused", reason=reason, peer=call.peer, to="operators")
            self._spawn(self.router.transfer(call.id))
            return RefusedCall(call, rate)
        log.warning("call_refused", reason=reason, peer=call.peer, to="busy_phrase")
        return BusyCall(call, rate, self._busy_pcm.get(rate, b""))

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(work)
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    def _rate_of(self, call: Call) -> int:
        """Outbound rate of a new connection. A Stasis call is registered before Asterisk
        dials the edge, so its leg is known to be externalMedia's format; any other
        connection comes from the dialplan and starts at 8 kHz (every Asterisk takes it)
        until the caller's frames tell its rate."""
        if self._is_stasis_leg(call):
            return RATES[self._media_format]
        return self._dialplan_rate

    def _is_stasis_leg(self, call: Call) -> bool:
        if self.router is None:
            return False
        line = self.router.lookup(call.id)
        return line is not None and not line.via_dialplan

    async def _forget_when_finished(self, session: EdgeCallSession) -> None:
        await session.finished.wait()
        self.sessions.pop(session.call.id, None)
        self.ended.append(session)
        del self.ended[:-100]
        self.heap.calls_ended()

    async def session(
        self,
        audiosocket_id: uuid.UUID,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> EdgeCallSession:
        """The session of a call (for tests and tools), waiting for it to connect."""
        async with asyncio.timeout(timeout):
            while True:
                found = self.sessions.get(audiosocket_id) or next(
                    (s for s in self.ended if s.call.id == audiosocket_id), None
                )
                if found is not None:
                    return found
                await asyncio.sleep(0.01)

    # --- AriCallListener -----------------------------------------------------------------------

    async def on_caller_dtmf(self, audiosocket_id: uuid.UUID, digit: str) -> None:
        session = self.sessions.get(audiosocket_id)
        if session is not None:
            session.key(digit, DtmfSource.ARI)

    async def on_caller_hangup(self, audiosocket_id: uuid.UUID) -> None:
        session = self.sessions.get(audiosocket_id)
        if session is not None:
            session.caller_hung_up()

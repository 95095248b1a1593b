"""One phone call at the edge: audio in → VAD → STT → CallWorkflow → TTS → audio out.

`EdgeCallSession` is the AudioSocket server's `CallHandler` for one connection. It starts the
call workflow while silence already flows (the server's send loop runs from the first
moment), plays the greeting, and then serves caller turns one at a time:

- speech: the Endpointer runs on the wall clock (a ticker calls `tick`, because Asterisk
  sends no frames while the caller is silent); an ended utterance is transcribed and sent as
  `caller_said`; an empty transcript is ignored;
- keys: de-duplicated (AudioSocket 0x03 and ARI report each key) and grouped by
  `DigitCollector`, then sent as `caller_pressed`;
- silence: ~7 s of caller silence after the bot finished speaking → `caller_silent`.

How long a silence ends the caller's turn follows what the last reply expects
(`audiosocket.end_of_turn`); with END_OF_TURN_EARLY_STT_MS an utterance is transcribed at a
pause already (`audiosocket.early_transcript`). A dialplan connection is answered at the
caller's rate once their frames tell it (`audiosocket.line_rate`).

The reply is spoken sentence by sentence (the first plays while the next is synthesised).
With the reply stream on (REPLY_STREAM_SECRET), a caller's turn carries the edge's stream
target and the agent's sentences are spoken as the model writes them, before the workflow
has answered (`audiosocket.streamed_reply`); the workflow's reply then adds only what it
holds beyond them.
The caller's voice while the bot speaks pauses it at the onset (`audiosocket.interruption`):
a sound that fades or an utterance transcribed as nothing lets the bot go on; words (or a
key) are a barge-in: queued audio is dropped and the workflow learns how much of the reply
was played (counted from the frames the send loop took). Inbound audio passes the echo gate
first (`audiosocket.speech.echo_gate`), so the bot's own voice coming back on the line is
never taken for the caller. A reply that ends the call (`hangup`/`transfer`) plays to the
end; then ARI hangs up or transfers the caller channel and the AudioSocket leg gets 0x00.
When the caller hangs up the workflow gets the `hang_up` signal exactly once. Failures of
STT, TTS, the workflow or ARI are spoken as an apology where possible and logged; they never
touch other calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from opentelemetry import trace
from temporalio.client import Client

from audiosocket.admission import CallRefused, Refusal
from audiosocket.dtmf import DigitCollector, DtmfDeduper, DtmfSource
from audiosocket.early_transcript import EarlyTranscripts
from audiosocket.end_of_turn import EndOfTurnWaits
from audiosocket.interruption import BargeIn, Phase
from audiosocket.line_rate import LineRate
from audiosocket.metrics import EdgeMetrics, TurnLatency
from audiosocket.playout import PlayoutSource
from audiosocket.reply_stream import ReplyStreamServer
from audiosocket.server import Call, HangupReason
from audiosocket.speech import (
    Endpointer,
    OnsetFaded,
    SpeechEnded,
    SpeechOnset,
    SpeechPaused,
    SpeechStarted,
    Synthesizer,
    Transcriber,
    resample,
)
from audiosocket.speech.echo_gate import EchoGate
from audiosocket.speech.endpointer import EndpointerEvent
from audiosocket.streamed_reply import StreamedReply
from core.vocabulary import Action, AgentMode, Expectation
from russian.text import normalise_for_tts
from workflows.client import CallIdInUse, CallSession
from workflows.models import CallStart, LookupLimits, Reply

log = structlog.get_logger("audiosocket.session")
# A no-op until the process installs a tracer provider (core/tracing.py).
tracer = trace.get_tracer("voiceorder.edge")

FILLER_TEXT = "Секунду, проверяю…"
NO_STT = [
    "Извините, я сейчас не могу разобрать речь.",
    "Чтобы поговорить с оператором, нажмите ноль.",
]
WORKFLOW_TROUBLE = ["Извините, произошёл сбой.", "Повторите, пожалуйста."]
SERVICE_DOWN = ["Извините, сервис сейчас недоступен.", "Пожалуйста, перезвоните позже."]
# After this many turns in a row the workflow could not answer, the edge gives up politely.
MAX_WORKFLOW_FAILURES = 3
VAD_RATES = (8000, 16000)
START_WAIT_AFTER_HANGUP_S = 30.0
RUN_STOP_S = 2.0
# Voice this long over the bot pauses it (two VAD windows); speech proper starts at 120 ms.
BARGE_IN_ONSET_MS = 64


@dataclass(frozen=True)
class SessionTimings:
    """Knobs of the voice behaviour (dialog.md); tests shorten the slow ones."""

    tick_s: float = 0.03  # wall-clock endpointing, key and silence timers
    filler_after_s: float = 1.5
    silence_reprompt_s: float = 7.0
    ari_wait_s: float = 1.0  # the UUID frame can beat ARI's externalMedia reply
    inter_digit_s: float = 2.5
    dtmf_dedupe_s: float = 0.5
    # A false barge-in paused at least this long resumes from the start of the sentence,
    # a shorter one where it stopped (audiosocket.interruption).
    rewind_after_pause_s: float = 0.4
    # A dialplan connection's greeting waits this long from the connection for the caller's
    # first frame, to speak at its rate (audiosocket.line_rate); the workflow's start runs
    # meanwhile, so a caller hears no more delay than what is left of it.
    first_frame_wait_s: float = 0.15


class AriLine(Protocol):
    """What the session needs of an ARI call (audiosocket.ari_calls.AriCall)."""

    @property
    def caller_number(self) -> str | None: ...

    @property
    def caller_channel_id(self) -> str: ...


class CallRouting(Protocol):
    """The ARI side of calls (audiosocket.ari_calls.AriCallRouter)."""

    def lookup(self, audiosocket_id: uuid.UUID) -> AriLine | None: ...

    async def wait_for(  # the contract's name for it
        self,
        audiosocket_id: uuid.UUID,
        timeout: float,  # noqa: ASYNC109
    ) -> AriLine | None: ...

    async def hang_up(self, audiosocket_id: uuid.UUID) -> object: ...

    async def transfer(self, audiosocket_id: uuid.UUID) -> object: ...


class FillerCache:
    """The filler phrase, synthesised once per sample rate and reused by every call."""

    def __init__(self, synthesizer: Synthesizer, text: str = FILLER_TEXT) -> None:
        self._synthesizer = synthesizer
        self._text = text
        self._pcm: dict[int, bytes] = {}
        self._lock = asyncio.Lock()

    async def get(self, rate: int) -> bytes:
        """The filler at `rate`; empty when TTS failed (the failure is logged once)."""
        async with self._lock:
            if rate not in self._pcm:
                try:
                    chunks = [
                        chunk
                        async for chunk in self._synthesizer.synthesize(
                            normalise_for_tts(self._text), rate, call_id="edge-filler"
                        )
                    ]
                    self._pcm[rate] = b"".join(chunks)
                except Exception as exc:
                    log.warning("filler_synthesis_failed", rate=rate, error=str(exc))
                    self._pcm[rate] = b""
            return self._pcm[rate]


def default_endpointer(rate: int) -> Endpointer:
    # Calls share model runs (speech/vad.py); onsets pause the bot (interruption.py).
    return Endpointer(rate, onset_ms=BARGE_IN_ONSET_MS, batched=True)


@dataclass
class SessionDeps:
    """What every call of one edge shares."""

    client: Client
    task_queue: str
    transcriber: Transcriber | None
    synthesizer: Synthesizer
    metrics: EdgeMetrics = field(default_factory=EdgeMetrics)
    routing: CallRouting | None = None
    timings: SessionTimings = field(default_factory=SessionTimings)
    endpointer: Callable[[int], Endpointer] = default_endpointer
    fillers: FillerCache | None = None
    # Who leads the dialog (workflows.client.agent_for): with `auto` a call whose LLM fails
    # goes on with the guided agent.
    agent: AgentMode = AgentMode.AUTO
    # Caps on guessing order numbers (workflows.client.lookup_limits_for).
    lookup_limits: LookupLimits = field(default_factory=LookupLimits)
    # The silence that ends a caller's turn, by what the bot expects (settings END_OF_TURN_*).
    end_of_turn: EndOfTurnWaits = field(default_factory=EndOfTurnWaits)
    # Post-call work failing this long sets the call's Attention (CALL_ATTENTION_AFTER_S).
    attention_after_s: int = 120
    # The edge's reply-stream endpoint (docs/streaming.md); None: replies come whole.
    reply_stream: ReplyStreamServer | None = None

    def __post_init__(self) -> None:
        if self.fillers is None:
            self.fillers = FillerCache(self.synthesizer)


@dataclass(frozen=True)
class _Utterance:
    pcm: bytes
    rate: int
    ended_at: float
    voiced_ms: int = 0
    # Set when it was transcribed already (an utterance that interrupted the bot).
    transcript: str | None = None
    stt_done: float | None = None
    end_of_turn_ms: int | None = None  # the silence that ended it
    # Its transcript made at a pause, while the end-of-turn wait ran (None: none that held).
    early: asyncio.Task[str | None] | None = None


@dataclass(frozen=True)
class _Keys:
    digits: str
    at: float


@dataclass(frozen=True)
class _Silence:
    at: float


_Input = _Utterance | _Keys | _Silence


@dataclass
class _Spoken:
    """What the bot says next: a workflow reply, or the edge's own apology."""

    sentences: list[str]
    action: Action = Action.CONTINUE
    reply: Reply | None = None  # playback is reported only for workflow replies
    # Its start, spoken while the workflow was still working; `sentences` follow it.
    streamed: StreamedReply | None = None


class EdgeCallSession:
    """The CallHandler of one AudioSocket connection (see the module docstring)."""

    def __init__(
        self, call: Call, deps: SessionDeps, *, rate: int, follows_caller: bool = False
    ) -> None:
        """`rate` is the outbound rate to start with; with `follows_caller` (a dialplan
        connection, whose rate nobody announced) it changes to the caller's."""
        self.call = call
        self.deps = deps
        self.timings = deps.timings
        self._loop = asyncio.get_running_loop()
        self._connected_at = self._loop.time()
        self._line = LineRate(rate, follows_caller=follows_caller)
        self._echo = EchoGate(rate)
        self.outbound = PlayoutSource(rate, tap=self._played)
        self.call_id = f"call-{call.id}"
        self.caller_number: str | None = None
        self.channel_id: str | None = None
        self.finished = asyncio.Event()  # set once the call is over and cleaned up
        self.workflow: CallSession | None = None
        self._log = log.bind(call_id=self.call_id)
        self._inputs: asyncio.Queue[_Input] = asyncio.Queue()
        self._endpointer: Endpointer | None = None
        # The caller's frames normally come at our outbound rate; the model loads meanwhile.
        self._endpointer_ready = asyncio.ensure_future(asyncio.to_thread(deps.endpointer, rate))
        self._endpointer_ready_rate = rate
        self._endpointer_taken = False
        # What the bot's last reply expects: the end-of-turn wait of the caller's answer.
        self._expects = Expectation.FREE
        self._early = EarlyTranscripts(self._transcribe_pcm, call_id=self.call_id)
        self.latencies: list[TurnLatency] = []  # every turn's record (tests, tools)
        self._wire_rate = 0  # the rate of the last inbound frame
        self._vad_rate = rate
        self._deduper = DtmfDeduper(deps.timings.dtmf_dedupe_s)
        self._digits = DigitCollector(deps.timings.inter_digit_s)
        self._speaker: asyncio.Task[None] | None = None
        self._streamed: StreamedReply | None = None  # the reply of the turn in progress
        self._reply_mark = 0
        self._reply_playing: Reply | None = None  # a workflow reply not yet reported
        self._final_words = False  # the call ends after this speech: no barge-in
        self._barge = BargeIn(
            self.outbound,
            deps.metrics,
            rewind_after_s=deps.timings.rewind_after_pause_s,
            call_id=self.call_id,
        )
        self._settling: set[asyncio.Task[None]] = set()  # STT of utterances that interrupted
        self._idle_since: float | None = None  # waiting for the caller since then
        self._last_activity = self._loop.time()
        self._bot_ended = False
        self._caller_left = False  # ARI reported the caller's hang-up
        self._gone = False
        self._workflow_failures = 0
        self._filler: asyncio.Task[None] | None = None
        # The whole call is one trace: the workflow's spans hang under the start's context,
        # so they share its trace id with every turn's span (core/tracing.py).
        self.span = tracer.start_span("call", attributes={"voiceorder.call_id": self.call_id})
        deps.metrics.call_started()
        # Not cancelled with the call: a started workflow must still learn of the hang-up.
        self._start_task = asyncio.create_task(self._start(), name=f"{self.call_id}-start")
        self._run_task = asyncio.create_task(self._run(), name=f"{self.call_id}-run")
        self._ticker_task = asyncio.create_task(self._ticker(), name=f"{self.call_id}-tick")

    # --- CallHandler --------------------------------------------------------------------

    async def on_audio(self, pcm: bytes, rate: int) -> None:
        if self._gone or not pcm:
            return
        if rate != self._wire_rate:
            await self._new_inbound_rate(rate)
        assert self._endpointer is not None
        now = self._loop.time()
        pcm = self._echo.filter(pcm, rate, now)
        if rate != self._vad_rate:
            pcm = resample(pcm, rate, self._vad_rate)
        for event in self._endpointer.feed(pcm, now):
            self._on_vad(event, now)

    async def on_dtmf(self, digit: str) -> None:
        self.key(digit, DtmfSource.AUDIOSOCKET)

    async def on_hangup(self, reason: HangupReason) -> None:
        if self._gone:
            return
        self._gone = True
        if self._caller_left:
            reason = HangupReason.CALLER
        self._log.info("call_ended", reason=reason.value, bot_ended=self._bot_ended)
        tasks = (self._ticker_task, self._speaker, self._filler, *self._settling, self._run_task)
        for task in tasks:
            if task is not None:
                task.cancel()
        self._early.close()
        if self._streamed is not None:
            self._streamed.close()
        # Bounded: a client call may turn the cancellation into its own error; the
        # conversation then sees `_gone` and stops by itself.
        await asyncio.wait({self._run_task}, timeout=RUN_STOP_S)
        try:
            with trace.use_span(self.span, end_on_exit=False):
                await self._after_call(reason)
        finally:
            self.span.set_attribute("voiceorder.hangup_reason", reason.value)
            self.span.end()
            self.deps.metrics.call_ended(reason.value)
            self.finished.set()

    # --- ARI (AriCallListener, through the edge) ------------------------------------------

    def key(self, digit: str, source: DtmfSource) -> None:
        """A key from AudioSocket (0x03) or ARI (ChannelDtmfReceived); each counted once."""
        if self._gone or self._bot_ended:
            return
        now = self._loop.time()
        if not self._deduper.accept(digit, source, now):
            self.deps.metrics.dtmf_duplicate()
            self._log.debug("dtmf_duplicate", source=source.value)
            return
        # Not the digit: a caller may key in a phone number (SEC4: none in logs).
        self._log.info("dtmf", source=source.value)
        self._last_activity = now
        self._cut("dtmf")
        stage = (
            self.workflow.last_reply.stage if self.workflow and self.workflow.last_reply else None
        )
        digits = self._digits.press(digit, now, stage=stage)
        if digits is not None:
            self._inputs.put_nowait(_Keys(digits, now))

    def caller_hung_up(self) -> None:
        """ARI says the caller hung up. The AudioSocket leg stays up until it is deleted, so
        our side sends 0x00 too; the connection's end then counts as the caller's hang-up."""
        if self._gone:
            return
        self._caller_left = True
        self.call.hangup()

    # --- inbound audio ------------------------------------------------------------------------

    async def _new_inbound_rate(self, rate: int) -> None:
        self._wire_rate = rate
        self._line.caller_frame(rate)
        self._speak_at_line_rate()
        if rate != self._line.rate:
            # A line whose rate was announced (a Stasis leg) keeps it: Asterisk takes each
            # frame at the rate its kind says.
            self._log.warning("inbound_rate_differs", inbound=rate, outbound=self._line.rate)
        vad_rate = rate if rate in VAD_RATES else 16000
        if self._endpointer is not None:
            if vad_rate == self._vad_rate:
                return
            self._close_endpointer()
        if not self._endpointer_taken and vad_rate == self._endpointer_ready_rate:
            # Made in a thread at connect: loading the VAD model would stall every call.
            self._endpointer_taken = True
            self._endpointer = await self._endpointer_ready
        else:
            self._close_endpointer()  # the one made at connect is for another rate
            self._endpointer = await asyncio.to_thread(self.deps.endpointer, vad_rate)
        self._vad_rate = vad_rate
        self._listen_for(self._expects)

    def _speak_at_line_rate(self) -> None:
        """Take up the line's rate if it changed, only while the bot is silent (never inside
        a reply: its audio is synthesised at the rate it started with)."""
        rate = self._line.rate
        if rate == self.outbound.rate or self._speaking:
            return
        self._log.info("outbound_rate_changed", rate=rate, was=self.outbound.rate)
        self.outbound.change_rate(rate)
        self._echo.outbound_rate(rate)

    def _listen_for(self, expects: Expectation) -> None:
        """The caller's next turn answers a reply that expects `expects`: its wait."""
        self._expects = expects
        if self._endpointer is not None:
            self._endpointer.end_silence_ms = self.deps.end_of_turn.wait_ms(expects)
            if self.deps.transcriber is not None:
                self._endpointer.early_ms = self.deps.end_of_turn.early_stt_ms

    def _played(self, frame: bytes) -> None:
        """Every outbound frame as the send loop takes it: the echo gate's reference."""
        self._echo.played(frame, self._loop.time())

    def _on_vad(self, event: EndpointerEvent, now: float) -> None:
        if isinstance(event, SpeechPaused):  # not an end, nor new activity
            self._early.paused(event)
            return
        self._last_activity = now
        interruptible = self._speaking and not self._final_words
        match event:
            case SpeechOnset():
                if interruptible:
                    self._barge.pause(now, **self._echo.describe())
            case OnsetFaded():
                if self._barge.phase is Phase.PAUSED:
                    self._barge.no_words(now, "onset_faded")
            case SpeechStarted():
                if interruptible or self._barge.phase is not None:
                    self._barge.speech(now, **self._echo.describe())
            case SpeechEnded():
                utterance = _Utterance(
                    event.pcm,
                    event.rate,
                    event.at,
                    event.voiced_ms,
                    end_of_turn_ms=event.end_silence_ms,
                    early=self._early.ended(event),
                )
                if self._barge.phase is Phase.HEARD:
                    settling = asyncio.create_task(self._settle(utterance))
                    self._settling.add(settling)
                    settling.add_done_callback(self._settling.discard)
                else:
                    self._inputs.put_nowait(utterance)

    async def _settle(self, utterance: _Utterance) -> None:
        """The utterance that paused the bot ended: words cut the reply, nothing resumes it."""
        heard = await self._transcribe(utterance)
        now = self._loop.time()
        paused = self._barge.phase is Phase.HEARD
        if heard == "":
            self._log.info(
                "empty_transcript",
                audio_ms=_ms(utterance.pcm, utterance.rate),
                voiced_ms=utterance.voiced_ms,  # a cough is short, a mumble is not
            )
            if paused:
                self._barge.no_words(now, "empty_transcript")
            return
        # Words, or STT is down (the turn then apologises): the caller has the floor.
        if paused:
            self._cut("speech")
        self._inputs.put_nowait(
            dataclasses.replace(utterance, transcript=heard, stt_done=now)
            if heard is not None
            else utterance
        )

    def _cut(self, why: str) -> None:
        """A real barge-in: stop bot audio at once; tell the workflow how much of its reply
        was heard."""
        self._barge.give_way()
        if self._final_words or not self._speaking:
            return
        played_ms = self.outbound.played_ms_since(self._reply_mark)
        self.outbound.clear()
        if self._streamed is not None and self._streamed.started:
            # Reported with the reply when it is not in yet (see `_say`).
            self._streamed.cut(played_ms)
        if self._speaker is not None:
            self._speaker.cancel()
        if self._filler is not None:
            self._filler.cancel()
        reply = self._reply_playing
        if reply is not None and self.workflow is not None:
            self.workflow.report_playback(False, played_ms)
            self._reply_playing = None
        self.deps.metrics.barge_in()
        self._log.info("barge_in", why=why, played_ms=played_ms, reply_id=reply and reply.reply_id)

    @property
    def _speaking(self) -> bool:
        speaker_busy = self._speaker is not None and not self._speaker.done()
        streaming = self._streamed is not None and self._streamed.speaking
        return speaker_busy or streaming or not self.outbound.idle

    # --- timers -------------------------------------------------------------------------------

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self._next_tick_in())
            now = self._loop.time()
            if self._endpointer is not None:
                for event in self._endpointer.tick(now):
                    self._on_vad(event, now)
            digits = self._digits.due(now)
            if digits is not None:
                self._inputs.put_nowait(_Keys(digits, now))
            if self._silence_due(now):
                self._log.info("caller_silent", after_s=round(now - self._last_activity, 1))
                self._idle_since = None
                self._inputs.put_nowait(_Silence(now))

    def _next_tick_in(self) -> float:
        """The periodic tick, or sooner when the caller's turn ends sooner: the end of a turn
        waits for no tick (every 30 ms of it would be dead air on the line)."""
        delay = self.timings.tick_s
        deadline = self._endpointer.deadline() if self._endpointer is not None else None
        if deadline is not None:
            # A hair past it: the endpointer ends the turn at or after its deadline.
            delay = min(delay, max(0.0, deadline - self._loop.time() + 0.0005))
        return delay

    def _silence_due(self, now: float) -> bool:
        if self._idle_since is None or self._speaking or self._digits.pending:
            return False
        if self._endpointer is not None and self._endpointer.in_speech:
            return False
        quiet_from = max(self._idle_since, self._last_activity)
        return now - quiet_from >= self.timings.silence_reprompt_s

    # --- the call -------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._converse()
        except Exception as exc:
            # A bug must not leave the caller in silence: end this call, keep the others.
            self.deps.metrics.failure("session")
            self._log.exception("session_failed", error=repr(exc))
            self.call.hangup()

    async def _converse(self) -> None:
        try:
            greeting = await asyncio.shield(self._start_task)
        except CallRefused as refused:
            self.deps.metrics.call_refused(refused.reason.value)
            self._log.warning("call_refused", reason=refused.reason.value, peer=self.call.peer)
            self.call.hangup()
            return
        except Exception as exc:
            self.deps.metrics.failure("start")
            self._log.error("call_start_failed", error=repr(exc))
            await self._say(_Spoken(SERVICE_DOWN, action=Action.HANGUP), latency=None)
            return
        if self._line.follows_caller:
            waited = self._loop.time() - self._connected_at
            await self._line.first_frame(self.timings.first_frame_wait_s - waited)
        await self._say(_Spoken(greeting.sentences, greeting.action, greeting), latency=None)
        while not (self._bot_ended or self._gone):
            self._idle_since = self._loop.time()
            item = await self._inputs.get()
            self._idle_since = None
            spoken, latency = await self._turn(item)
            if spoken is not None:
                await self._say(spoken, latency=latency)
            self._last_activity = self._loop.time()

    async def _start(self) -> Reply:
        with trace.use_span(self.span, end_on_exit=False):
            return await self._start_workflow()

    async def _start_workflow(self) -> Reply:
        routing = self.deps.routing
        if routing is not None:
            line = routing.lookup(self.call.id) or await routing.wait_for(
                self.call.id, self.timings.ari_wait_s
            )
            if line is None:
                # Neither a Stasis call nor a dialplan channel carrying this UUID: not a call
                # Asterisk placed for us (issue: an unauthenticated port takes any UUID).
                raise CallRefused(Refusal.UNKNOWN_UUID)
            self.caller_number, self.channel_id = line.caller_number, line.caller_channel_id
        try:
            self.workflow = await CallSession.start(
                self.deps.client,
                self.deps.task_queue,
                CallStart(
                    caller_number=self.caller_number,
                    channel_id=self.channel_id,
                    audiosocket_id=str(self.call.id),
                    source="edge",
                    agent=self.deps.agent,
                    lookup_limits=self.deps.lookup_limits,
                    attention_after_s=self.deps.attention_after_s,
                ),
                call_id=self.call_id,
                auto_played=False,
            )
        except CallIdInUse:
            # Served before, by another edge or before a restart (Temporal remembers).
            raise CallRefused(Refusal.UUID_REUSED) from None
        assert self.workflow.last_reply is not None
        self._log.info(
            "call_started",
            caller="known" if self.caller_number else "withheld",
            peer=self.call.peer,
        )
        return self.workflow.last_reply

    async def _turn(self, item: _Input) -> tuple[_Spoken | None, _LatencyClock | None]:
        started = item.ended_at if isinstance(item, _Utterance) else item.at
        kind = {_Utterance: "speech", _Keys: "dtmf", _Silence: "silence"}[type(item)]
        clock = _LatencyClock(self, kind, started)
        if isinstance(item, _Utterance):
            clock.end_of_turn_ms = item.end_of_turn_ms
            clock.early_stt = item.early is not None
        self._filler = asyncio.create_task(self._filler_after(self.timings.filler_after_s))
        try:
            # The turn's span is the parent of the update call, and through Temporal's
            # headers of the workflow's handler and the activities (core/tracing.py).
            with trace.use_span(clock.span, end_on_exit=False):
                text = ""
                if isinstance(item, _Utterance):
                    if item.transcript is not None:
                        heard: str | None = item.transcript
                        clock.stt_done = item.stt_done
                    else:
                        heard = await self._transcribe(item)
                        clock.stt_done = self._loop.time()
                    if heard is None:
                        return _Spoken(NO_STT), clock
                    if not heard:
                        self._log.info("empty_transcript", audio_ms=_ms(item.pcm, item.rate))
                        clock.span.end()
                        return None, None
                    text = heard
                    self._log.info("caller_said", chars=len(text))
                return await self._ask_workflow(item, text, clock), clock
        finally:
            self._filler.cancel()
            clock.replied(self._loop.time())

    async def _transcribe(self, item: _Utterance) -> str | None:
        """The transcript ('' if nothing was heard); None when STT is missing or down."""
        if item.early is not None:
            early = await item.early
            if early is not None:
                return early
        transcriber = self.deps.transcriber
        if transcriber is None:
            return None
        try:
            text = await transcriber.transcribe(item.pcm, item.rate, call_id=self.call_id)
        except Exception as exc:  # SpeechUnavailable, or an unexpected client failure
            self.deps.metrics.failure("stt")
            self._log.error("stt_failed", error=repr(exc))
            return None
        return text.strip()

    async def _transcribe_pcm(self, pcm: bytes, rate: int) -> str:
        """An early transcript (audiosocket.early_transcript); its failures are its own."""
        assert self.deps.transcriber is not None
        return await self.deps.transcriber.transcribe(pcm, rate, call_id=self.call_id)

    async def _ask_workflow(self, item: _Input, text: str, clock: _LatencyClock) -> _Spoken:
        assert self.workflow is not None
        streamed = None if isinstance(item, _Silence) else self._stream_reply(clock)
        target = streamed.target if streamed is not None else None
        try:
            if isinstance(item, _Utterance):
                reply = await self.workflow.say(text, stream=target)
            elif isinstance(item, _Keys):
                reply = await self.workflow.press(item.digits, stream=target)
            else:
                reply = await self.workflow.silence()
        except Exception as exc:
            if streamed is not None:
                streamed.close()
                self._streamed = None
            if self._gone:  # the SDK reports our own cancellation as its error
                raise asyncio.CancelledError from exc
            self._workflow_failures += 1
            self.deps.metrics.failure("workflow")
            self._log.error(
                "workflow_turn_failed", error=repr(exc), failures=self._workflow_failures
            )
            if self._workflow_failures >= MAX_WORKFLOW_FAILURES:
                return _Spoken(SERVICE_DOWN, action=Action.HANGUP)
            return _Spoken(WORKFLOW_TROUBLE)
        self._workflow_failures = 0
        self._log.info("reply", reply_id=reply.reply_id, stage=reply.stage, action=reply.action)
        if streamed is None:
            return _Spoken(reply.sentences, reply.action, reply)
        clock.streamed = streamed.spoken
        return _Spoken(streamed.rest(reply), reply.action, reply, streamed)

    def _stream_reply(self, clock: _LatencyClock) -> StreamedReply | None:
        """Listen for the turn's streamed sentences and speak them as they come."""
        server = self.deps.reply_stream
        if server is None:
            return None

        def starting() -> None:
            clock.first_sentence = self._loop.time()
            if self._filler is not None:
                self._filler.cancel()
            # The reply's audio starts here: played_ms counts from its first sentence.
            self._reply_mark = self.outbound.mark()

        self._streamed = StreamedReply(
            server.subscribe(self.call_id),
            lambda sentence, audio: self._speak_one(sentence, clock, audio),
            starting,
            self._synthesize,
        )
        return self._streamed

    async def _filler_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._speaking or (self._endpointer is not None and self._endpointer.in_speech):
            return
        assert self.deps.fillers is not None
        rate = self.outbound.rate
        pcm = await self.deps.fillers.get(rate)
        if pcm and not self._speaking and self.outbound.rate == rate:
            self.outbound.begin_sentence()
            self.outbound.enqueue(pcm)
            self.deps.metrics.filler()
            self._log.info("filler")

    async def _say(self, spoken: _Spoken, *, latency: _LatencyClock | None) -> None:
        """Speak, then carry out the action once the speech has played."""
        ends_call = spoken.action in (Action.HANGUP, Action.TRANSFER)
        self._speak_at_line_rate()
        if spoken.reply is not None:
            # From now on: an answer spoken over the reply ends with this wait too.
            self._listen_for(spoken.reply.expects)
        self._final_words = ends_call
        streamed = spoken.streamed
        if streamed is None or not streamed.started:
            self._reply_mark = self.outbound.mark()
        self._reply_playing = spoken.reply
        if streamed is not None and streamed.cut_ms is not None and not ends_call:
            # The caller's words cut the reply while it was still being streamed.
            self._streamed = None
            if spoken.reply is not None and self.workflow is not None:
                self.workflow.report_playback(False, streamed.cut_ms)
            self._reply_playing = None
            if latency is not None:
                latency.record()
            return
        self._speaker = asyncio.create_task(self._speak(spoken.sentences, latency, streamed))
        await asyncio.wait({self._speaker})
        self._streamed = None
        if latency is not None:
            latency.record()
        heard_all = not self._speaker.cancelled() and self._reply_playing is spoken.reply
        if heard_all and spoken.reply is not None and self.workflow is not None:
            played = self.outbound.played_ms_since(self._reply_mark)
            self.workflow.report_playback(True, played)
            self._reply_playing = None
        if ends_call:
            await self._end_call(spoken.action)

    async def _speak(
        self,
        sentences: list[str],
        latency: _LatencyClock | None,
        streamed: StreamedReply | None = None,
    ) -> None:
        if streamed is not None:
            await streamed.drain()  # the streamed start of the reply first
        for sentence in sentences:
            await self._speak_one(sentence, latency)
        await self.outbound.drained.wait()

    def _synthesize(self, sentence: str) -> AsyncIterator[bytes]:
        return self.deps.synthesizer.synthesize(
            normalise_for_tts(sentence).strip(), self.outbound.rate, call_id=self.call_id
        )

    async def _speak_one(
        self,
        sentence: str,
        latency: _LatencyClock | None,
        audio: AsyncIterator[bytes] | None = None,
    ) -> None:
        """Queue one sentence's audio as it comes: `audio` when it was started early (a
        hinted sentence), else synthesised now."""
        text = normalise_for_tts(sentence).strip()
        if not text:
            return
        self.outbound.begin_sentence()
        try:
            async for chunk in audio if audio is not None else self._synthesize(sentence):
                if chunk:
                    self.outbound.enqueue(chunk)
                    if latency is not None:
                        latency.first_audio_queued()
        except Exception as exc:  # SpeechUnavailable, or a provider bug: skip the sentence
            self.deps.metrics.failure("tts")
            self._log.error("tts_failed", error=repr(exc), sentence_chars=len(text))

    async def _end_call(self, action: Action) -> None:
        self._bot_ended = True
        routing = self.deps.routing
        if routing is not None and self.channel_id is not None:
            try:
                if action is Action.TRANSFER:
                    await routing.transfer(self.call.id)
                else:
                    await routing.hang_up(self.call.id)
            except Exception as exc:
                self.deps.metrics.failure("ari")
                self._log.error("ari_end_failed", action=action, error=repr(exc))
        self._log.info("bot_ends_call", action=action.value)
        self.call.hangup(after_speech=True)

    async def _after_call(self, reason: HangupReason) -> None:
        self._close_endpointer()
        if self._bot_ended:
            return
        routing = self.deps.routing
        if (
            routing is not None
            and self.channel_id is not None
            and reason is not HangupReason.CALLER
        ):
            # Our side broke (or the edge is shutting down) while the caller may still be on
            # the line: a human takes over rather than silence or a dead line.
            try:
                await routing.transfer(self.call.id)
                self._log.warning("caller_sent_to_operators", reason=reason.value)
            except Exception as exc:
                self.deps.metrics.failure("ari")
                self._log.error("ari_transfer_failed", error=repr(exc))
        try:
            # Bounded: the start is one update-with-start; a Temporal outage must not hold us.
            async with asyncio.timeout(START_WAIT_AFTER_HANGUP_S):
                await asyncio.wait({self._start_task})
        except TimeoutError:
            self._log.error("hang_up_before_start_finished")
            self._start_task.cancel()
        if self._start_task.done() and not self._start_task.cancelled():
            self._start_task.exception()  # retrieved; already logged by the conversation
        if self.workflow is not None:
            try:
                await self.workflow.hang_up(reason.value)
            except Exception as exc:
                self.deps.metrics.failure("workflow")
                self._log.error("hang_up_signal_failed", error=repr(exc))

    def _close_endpointer(self) -> None:
        """Give the VAD model back for reuse (also the one made at connect and never used)."""
        if not self._endpointer_taken:
            self._endpointer_taken = True
            self._endpointer_ready.add_done_callback(_close_made_endpointer)
        endpointer, self._endpointer = self._endpointer, None
        if endpointer is not None:
            endpointer.close()


def _close_made_endpointer(made: asyncio.Future[Endpointer]) -> None:
    if not made.cancelled() and made.exception() is None:
        made.result().close()


class _LatencyClock:
    """Stamps of one turn: input end → STT → (first streamed sentence) → reply → first audio
    (TurnLatency once both the reply and the first audio are in, or the turn is over)."""

    def __init__(self, session: EdgeCallSession, kind: str, input_end: float) -> None:
        self._session = session
        self.kind = kind
        self.input_end = input_end
        self.stt_done: float | None = None
        self.first_sentence: float | None = None
        self.streamed = 0  # sentences spoken before the reply came
        self.reply_done: float | None = None
        self.first_audio: float | None = None
        self.end_of_turn_ms: int | None = None
        self.early_stt = False
        self._recorded = False
        # From the end of the caller's input (in the past by now) to the first audio.
        ago_ns = int((session._loop.time() - input_end) * 1e9)
        self.span = tracer.start_span(
            "turn",
            context=trace.set_span_in_context(session.span),
            start_time=time.time_ns() - max(0, ago_ns),
            attributes={"voiceorder.call_id": session.call_id, "voiceorder.turn.kind": kind},
        )

    def first_audio_queued(self) -> None:
        if self.first_audio is None:
            self.first_audio = self._session._loop.time()
            if self.reply_done is not None:  # a streamed reply is recorded when it is in
                self.record()

    def replied(self, now: float) -> None:
        self.reply_done = now
        if self.first_audio is not None:
            self.record()

    def record(self) -> None:
        if self._recorded:
            return
        self._recorded = True
        latency = TurnLatency(
            call_id=self._session.call_id,
            kind=self.kind,
            input_end=self.input_end,
            stt_done=self.stt_done,
            reply_done=self.reply_done,
            first_audio=self.first_audio,
            end_of_turn_ms=self.end_of_turn_ms,
            early_stt=self.early_stt,
            first_sentence=self.first_sentence,
            streamed=self.streamed,
        )
        self._session.latencies.append(latency)
        self._session.deps.metrics.turn(latency)
        log.info("turn_latency", **latency.as_log())
        for name, value in latency.as_log().items():
            if isinstance(value, float):
                self.span.set_attribute(f"voiceorder.turn.{name}", value)
        self.span.end()


def _ms(pcm: bytes, rate: int) -> int:
    return len(pcm) * 1000 // (2 * rate)

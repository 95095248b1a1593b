"""Runs a call script against the edge through an AudioSocketPeer and prints a timeline.

The caller's phrases are synthesised before the call (so synthesis time never shows up as
caller hesitation), then played in real time. After each phrase or DTMF the caller waits
until the bot has been quiet for a while after speaking — unless the next phrase barges in.
Bot speech is reported live as each span completes, with the response latency (end of the
caller's turn → the bot's first audio).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import statistics
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from audiosocket.simulator.peer import (
    DEFAULT_JOIN_MS,
    DEFAULT_QUIET_MS,
    AudioSocketPeer,
    InboundPacing,
    PeerProtocolError,
    SpeechSpan,
)
from audiosocket.simulator.script import HangUp, PressDigits, Say, Silence, Step, Wait

DEFAULT_REPLY_TIMEOUT_S = 20.0
# Gap between digits of one `#dtmf 123` (a person presses keys about this fast).
DIGIT_GAP_S = 0.25
# How often the live reporter looks for completed bot speech.
REPORT_INTERVAL_S = 0.05
# Bot speech ending this little before a barge-in began still counts as cut by it.
BARGE_IN_SLACK_S = 0.1


class Voice(Protocol):
    """What the caller speaks with: audiosocket.speech's Synthesizer has this shape."""

    def synthesize(self, text: str, rate: int, *, call_id: str) -> AsyncIterator[bytes]: ...


class Outcome(enum.Enum):
    COMPLETED = "completed"  # every step ran
    BOT_HUNG_UP_EARLY = "bot_hung_up_early"  # steps were left when the bot ended the call
    PROTOCOL_ERROR = "protocol_error"  # the edge sent something Asterisk would reject

    @property
    def exit_code(self) -> int:
        return {Outcome.COMPLETED: 0, Outcome.BOT_HUNG_UP_EARLY: 3, Outcome.PROTOCOL_ERROR: 4}[self]


@dataclass
class Turn:
    """One thing the caller did that expects an answer: a phrase or DTMF digits."""

    label: str
    start: float
    end: float
    barge_in: bool = False
    reply_at: float | None = None  # the bot's first audio after `end`
    bot_stopped_at: float | None = None  # barge-in: when the interrupted speech ended

    @property
    def latency(self) -> float | None:
        return None if self.reply_at is None else self.reply_at - self.end


@dataclass
class CallReport:
    outcome: Outcome
    steps_done: int
    steps_total: int
    turns: list[Turn]
    pacing: InboundPacing
    bot_speech: list[SpeechSpan]
    error: str | None = None

    @property
    def latencies(self) -> list[float]:
        return [t.latency for t in self.turns if t.latency is not None]


class Timeline:
    """`+12.34s  text` lines relative to the call's start, printed in time order.

    Bot speech is only known once a span completes, after the caller's lines that came later
    may have been noted, so lines wait until `release(upto)` says nothing earlier can come.
    """

    def __init__(self, start: float, echo: Callable[[str], None]) -> None:
        self.start = start
        self.echo = echo
        self._pending: list[tuple[float, int, str]] = []
        self._seq = 0

    def at(self, when: float, text: str) -> None:
        self._seq += 1
        self._pending.append((when, self._seq, text))

    def release(self, upto: float | None = None) -> None:
        """Print the noted lines up to `upto` (all of them with None), in time order."""
        self._pending.sort()
        while self._pending and (upto is None or self._pending[0][0] <= upto):
            when, _, text = self._pending.pop(0)
            self.echo(f"{f'+{when - self.start:.2f}s':>9}  {text}")


class PhraseBook:
    """Caller phrases synthesised once per rate (the ARI path learns the rate late)."""

    def __init__(self, voice: Voice, call_id: str) -> None:
        self.voice = voice
        self.call_id = call_id
        self._pcm: dict[tuple[str, int], bytes] = {}

    async def prepare(self, steps: list[Step], rate: int) -> None:
        for step in steps:
            if isinstance(step, Say):
                await self.pcm(step.text, rate)

    async def pcm(self, text: str, rate: int) -> bytes:
        key = (text, rate)
        if key not in self._pcm:
            chunks = [c async for c in self.voice.synthesize(text, rate, call_id=self.call_id)]
            pcm = b"".join(chunks)
            if not pcm:
                raise ValueError(f"the synthesiser produced no audio for {text!r}")
            self._pcm[key] = pcm
        return self._pcm[key]


def summary_lines(report: CallReport) -> list[str]:
    lines: list[str] = []
    lat = report.latencies
    answered = f"{len(lat)} answered"
    if lat:
        answered += f"; response latency p50 {statistics.median(lat):.2f} s, max {max(lat):.2f} s"
    lines.append(f"summary: {len(report.turns)} caller turns, {answered}")
    cuts = [t.bot_stopped_at - t.start for t in report.turns if t.bot_stopped_at is not None]
    if cuts:
        lines.append(
            f"barge-in: the bot stopped {statistics.median(cuts):.2f} s (p50) after the caller "
            f"started, max {max(cuts):.2f} s"
        )
    p = report.pacing
    spoke = sum(s.duration for s in report.bot_speech)
    lines.append(
        f"bot stream: {p.frames} frames ({p.audio_seconds:.1f} s, speech {spoke:.1f} s); "
        f"lateness p50 {p.lateness_p50_ms:.1f} ms, p99 {p.lateness_p99_ms:.1f} ms, "
        f"max {p.lateness_max_ms:.1f} ms; {p.gaps} gaps (max {p.max_gap_ms:.0f} ms)"
    )
    lines.append(f"steps: {report.steps_done} of {report.steps_total}; {report.outcome.value}")
    if report.error:
        lines.append(f"error: {report.error}")
    return lines


@dataclass
class CallerActions:
    """How the caller's hang-up and DTMF reach the edge; the ARI path adds its own."""

    press: Callable[[str], Awaitable[None]]
    hang_up: Callable[[], Awaitable[None]]


@dataclass
class CallRunner:
    peer: AudioSocketPeer
    steps: list[Step]
    phrases: PhraseBook
    timeline: Timeline
    actions: CallerActions | None = None
    quiet_ms: int = DEFAULT_QUIET_MS
    reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S
    # Called on every reporter tick and once at the end: lets the ARI path note what the edge
    # did over ARI on the same timeline.
    observe: Callable[[], None] | None = None
    turns: list[Turn] = field(default_factory=list)
    _reported: int = 0
    _hangup_noted: bool = False
    # A barge-in's cut is only known after the phrase; timeline lines wait for it.
    _hold_from: float | None = None

    def __post_init__(self) -> None:
        if self.quiet_ms <= DEFAULT_JOIN_MS:
            # A printed span must not grow afterwards by joining speech that resumes.
            raise ValueError(f"quiet_ms must exceed the span join window ({DEFAULT_JOIN_MS} ms)")

    async def run(self) -> CallReport:
        peer = self.peer
        actions = self.actions or CallerActions(peer.send_dtmf, peer.hang_up)
        reporter = asyncio.create_task(self._report_live())
        done = 0
        error: str | None = None
        try:
            # The greeting (or whatever the bot does first).
            await self._await_bot(self.timeline.start, 0)
            for index, step in enumerate(self.steps):
                if peer.ended.is_set():
                    break
                await self._do(step, index, actions)
                done += 1
            if done == len(self.steps) and not peer.ended.is_set():
                self.timeline.at(self._now(), "script done; the caller hangs up")
                await actions.hang_up()
        except PeerProtocolError as exc:
            error = str(exc)
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
            if peer.connected:
                await peer.hang_up()
        self._flush_spans(final=True)
        if self.observe is not None:
            self.observe()
        if peer.error is not None:
            error = str(peer.error)
        self._note_bot_hangup()
        if error is not None:
            outcome = Outcome.PROTOCOL_ERROR
        elif done < len(self.steps):
            left = self.steps[done]
            self.timeline.at(
                self._now(), f"the call ended before script line {left.line} could run"
            )
            outcome = Outcome.BOT_HUNG_UP_EARLY
        else:
            outcome = Outcome.COMPLETED
        self._match_replies()
        self.timeline.release()
        return CallReport(
            outcome,
            done,
            len(self.steps),
            self.turns,
            peer.pacing(),
            peer.speech_spans(),
            error,
        )

    # -- steps ------------------------------------------------------------------------------

    async def _do(self, step: Step, index: int, actions: CallerActions) -> None:
        peer = self.peer
        match step:
            case Say(text, _, _):
                pcm = await self.phrases.pcm(text, peer.rate)
                start = self._now()
                if step.barge_in:
                    self._hold_from = start
                seconds = len(pcm) / (peer.rate * 2)
                label = "caller (barge-in)" if step.barge_in else "caller"
                self.timeline.at(start, f"{label}: {text}  ({seconds:.1f} s)")
                await peer.play(pcm)
                turn = self._turn(text, start, step.barge_in)
                await self._await_bot(self._now(), index + 1)
                if step.barge_in:
                    self._report_cut(turn)
                    self._hold_from = None
            case PressDigits(digits, _):
                start = self._now()
                for position, digit in enumerate(digits):
                    if position:
                        await asyncio.sleep(DIGIT_GAP_S)
                    self.timeline.at(self._now(), f"caller presses {digit}")
                    await actions.press(digit)
                self._turn(f"DTMF {digits}", start, False)
                await self._await_bot(self._now(), index + 1)
            case Wait(seconds, _):
                self.timeline.at(self._now(), f"caller waits {seconds:g} s")
                await self._sleep_unless_ended(seconds)
            case Silence(seconds, _):
                self.timeline.at(self._now(), f"caller stays silent for {seconds:g} s")
                await self._sleep_unless_ended(seconds)
                if peer.bot_speaking():
                    await self._await_bot(self._now(), index + 1, require_speech=False)
            case HangUp():
                self.timeline.at(self._now(), "caller hangs up")
                await actions.hang_up()

    def _turn(self, label: str, start: float, barge_in: bool) -> Turn:
        turn = Turn(label, start, self._now(), barge_in)
        self.turns.append(turn)
        return turn

    def _report_cut(self, turn: Turn) -> None:
        """Barge-in: when did the speech the caller talked over end?"""
        for span in self.peer.speech_spans():
            # Frames are stamped when the reader task runs, so on a busy loop an immediate
            # cut can look a few ms older than the caller's start: allow a little slack.
            if span.start <= turn.start < span.end + BARGE_IN_SLACK_S:
                if span.end > turn.end:
                    self.timeline.at(turn.end, "(the bot kept talking over the whole barge-in)")
                    return
                turn.bot_stopped_at = max(span.end, turn.start)
                cut = turn.bot_stopped_at - turn.start
                self.timeline.at(
                    turn.bot_stopped_at, f"bot stopped {cut:.2f} s after the caller barged in"
                )
                return

    async def _await_bot(
        self, since: float | None, next_index: int, *, require_speech: bool = True
    ) -> None:
        """Let the bot answer: until it is quiet after speaking, or (if the next phrase barges
        in) until it has been speaking for the barge-in delay."""
        peer = self.peer
        since = self._now() if since is None else since
        upcoming = self.steps[next_index] if next_index < len(self.steps) else None
        try:
            if isinstance(upcoming, Say) and upcoming.barge_in_after_s is not None:
                started = await peer.wait_for_bot_speech(
                    since=since, timeout_s=self.reply_timeout_s
                )
                delay = started + upcoming.barge_in_after_s - self._now()
                if delay > 0:
                    await self._sleep_unless_ended(delay)
                if not peer.bot_speaking():
                    self.timeline.at(self._now(), "(the bot had already finished: no barge-in)")
            else:
                await peer.wait_until_bot_quiet(
                    self.quiet_ms,
                    since=since,
                    timeout_s=self.reply_timeout_s,
                    require_speech=require_speech,
                )
                # The bot is quiet, so its speech so far is complete: print it before the
                # caller's next step, keeping the timeline in order.
                self._flush_spans(final=True)
        except TimeoutError:
            spoke = bool(peer.speech_spans(since=since))
            what = "finish its reply" if spoke or not require_speech else "start speaking"
            self.timeline.at(
                self._now(), f"(the bot did not {what} within {self.reply_timeout_s:g} s)"
            )
        except ConnectionError:
            pass  # the call ended; run() reports how

    async def _sleep_unless_ended(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.peer.ended.wait()

    # -- reporting --------------------------------------------------------------------------

    async def _report_live(self) -> None:
        join = DEFAULT_JOIN_MS / 1000
        while True:
            await asyncio.sleep(REPORT_INTERVAL_S)
            self._flush_spans(final=False)
            self._note_bot_hangup()
            if self.observe is not None:
                self.observe()
            # Lines older than the join window are final, except while a bot span that began
            # earlier is still open (it will be printed at its start).
            watermark = self._now() - join
            spans = self.peer.speech_spans()
            if self._reported < len(spans):
                watermark = min(watermark, spans[self._reported].start - 1e-6)
            if self._hold_from is not None:
                # The interrupted span may have started before the barge-in.
                held = [s.start for s in spans if s.end > self._hold_from] + [self._hold_from]
                watermark = min(watermark, min(held) - 1e-6)
            self.timeline.release(watermark)

    def _note_bot_hangup(self) -> None:
        peer = self.peer
        if self._hangup_noted or peer.bot_hangup_at is None:
            return
        self._hangup_noted = True
        how = {"0x00": "sent 0x00", "eof": "closed the socket", "reset": "reset the connection"}
        kind = peer.bot_hangup_kind or ""
        self.timeline.at(peer.bot_hangup_at, f"bot hung up ({how.get(kind, kind)})")

    def _flush_spans(self, *, final: bool) -> None:
        """Print bot speech spans that are complete (no speech for the join window)."""
        spans = self.peer.speech_spans()
        horizon = self._now() - DEFAULT_JOIN_MS / 1000
        while self._reported < len(spans):
            span = spans[self._reported]
            if not final and span.end > horizon and self._reported == len(spans) - 1:
                return
            self._reported += 1
            self.timeline.at(span.start, f"bot speaks ({span.duration:.1f} s){self._note(span)}")

    def _note(self, span: SpeechSpan) -> str:
        for turn in reversed(self.turns):
            if turn.start <= span.start < turn.end:
                return "  (while the caller talks)"
            if turn.end <= span.start:
                if _reply_start(turn.end, self.peer.speech_spans()) == span.start:
                    return f"  ← {span.start - turn.end:.2f} s after the caller"
                return ""
        return ""

    def _match_replies(self) -> None:
        """Each turn's reply: the first bot speech that *starts* after the turn (speech already
        under way then is not an answer to it), before the caller's next turn."""
        spans = self.peer.speech_spans()
        for index, turn in enumerate(self.turns):
            next_start = self.turns[index + 1].start if index + 1 < len(self.turns) else None
            reply = _reply_start(turn.end, spans)
            if reply is not None and (next_start is None or reply < next_start):
                turn.reply_at = reply

    def _now(self) -> float:
        return asyncio.get_running_loop().time()


def _reply_start(turn_end: float, spans: list[SpeechSpan]) -> float | None:
    return next((span.start for span in spans if span.start >= turn_end), None)

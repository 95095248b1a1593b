"""Utterance endpointing on the wall clock, driven by silero voice activity.

Asterisk stops sending inbound frames while the caller is silent (no `transmit_silence`), so
the end of an utterance cannot be found by counting frames: `tick(now)` ends it when no
voiced audio has arrived for `end_silence_ms` of wall time. When frames do keep coming
(silence frames, or audio fed in bursts as tests and the simulator do), the trailing
unvoiced audio counts too, whichever comes first.

Speech starts after `start_ms` of voiced windows in a row (one unvoiced window between them
is tolerated; shorter blips are ignored). A window counts as voiced at the continuation
threshold (threshold − 0.15, silero's own hysteresis) as long as one window of the run
reaches the full threshold: silero's score rises slowly over a plosive onset ("по-до-").
With 32 ms windows the default 120 ms is four windows: on espeak Russian phrases after
silence or line hiss, speech starts a median 160 ms (90th percentile 240 ms) after the first
loud sample; later when the first sound is a hiss (з, с), which silero rightly scores like
noise. When frames stop, the last partial window is scored as if silence followed (on the
next tick, after 200 ms without frames), so a lone short word still counts.

The utterance handed to STT starts `lead_in_ms` before the onset (the first syllable is
often below the threshold) and ends `tail_ms` after the last voiced window. Positions are
kept as byte offsets in the stream, since frame sizes vary.

How long a silence ends the turn depends on what the bot asked (`end_silence_ms` may change
between turns: short after a yes/no question, long while digits are dictated). With
`early_ms` shorter than that, SpeechPaused hands over the utterance so far once the caller
has been silent that long, so it can be transcribed while the end-of-turn wait still runs;
SpeechEnded then says whether the caller stayed silent since (`pause_held`), which makes
that early transcript the whole utterance's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from audiosocket.speech.resample import SAMPLE_WIDTH
from audiosocket.speech.vad import WINDOW_SECONDS, VoiceActivity

EndReason = Literal["silence", "max_length", "flushed"]

# Once speech runs, a window only counts as a pause below threshold - 0.15 (silero's own
# hysteresis): probabilities dip inside words and must not end an utterance early. An onset
# counts windows from that level too.
_HYSTERESIS: Final = 0.15
_MIN_CONTINUE_THRESHOLD: Final = 0.05
# A short syllable ("стоп", "да") can dip below the threshold for one window between its
# consonants and vowel; one such window inside an onset neither counts nor breaks it.
_MAX_ONSET_DIPS: Final = 1
# Frames come every 20 ms; a wait this long means Asterisk stopped sending (caller silence),
# not jitter.
_GAP_S: Final = 0.2


@dataclass
class SpeechOnset:
    """Voice began (`onset_ms` of it), not yet enough to call it speech: a barge-in can
    pause the bot here and take it back if the voice fades (OnsetFaded)."""

    at: float


@dataclass
class OnsetFaded:
    """The voice of the last SpeechOnset stopped before it became speech (a click, a
    breath, a cough)."""

    at: float


@dataclass
class SpeechStarted:
    at: float  # the `now` of the feed that detected it


@dataclass
class SpeechPaused:
    """The caller has been silent `early_ms` inside an utterance that has not ended yet: the
    utterance so far (it may still go on; SpeechEnded.pause_held tells)."""

    at: float
    pcm: bytes
    rate: int


@dataclass
class SpeechEnded:
    at: float  # the `now` of the feed or tick that ended it
    pcm: bytes  # the utterance: 16-bit mono PCM at `rate`, lead-in included
    rate: int
    reason: EndReason = "silence"
    # From the onset to the end of the last voiced window: a cough or a click is short,
    # a word is not (lead-in and tail are not counted).
    voiced_ms: int = 0
    # The end-of-turn silence in force when it ended.
    end_silence_ms: int = 0
    # No voice since this utterance's last SpeechPaused: the audio it carried held every
    # word (only trailing silence may differ).
    pause_held: bool = False


EndpointerEvent = SpeechOnset | OnsetFaded | SpeechStarted | SpeechPaused | SpeechEnded


class Endpointer:
    """Turns a caller's audio stream into SpeechStarted / SpeechEnded events (and, with
    `onset_ms`, SpeechOnset / OnsetFaded before speech is certain)."""

    def __init__(
        self,
        rate: int,
        *,
        start_ms: int = 120,
        end_silence_ms: int = 700,
        max_utterance_s: float = 20.0,
        vad: VoiceActivity | None = None,
        lead_in_ms: int = 200,
        tail_ms: int = 300,
        onset_ms: int | None = None,
        batched: bool = False,
        early_ms: int | None = None,
    ) -> None:
        if vad is not None and vad.rate != rate:
            raise ValueError(f"the VAD takes {vad.rate} Hz audio, the endpointer {rate} Hz")
        if start_ms < 0 or end_silence_ms <= 0 or max_utterance_s <= 0:
            raise ValueError("start_ms ≥ 0, end_silence_ms > 0 and max_utterance_s > 0 needed")
        if lead_in_ms < 0 or tail_ms < 0:
            raise ValueError("lead_in_ms and tail_ms must not be negative")
        if onset_ms is not None and not 0 < onset_ms < start_ms:
            raise ValueError("onset_ms must be positive and shorter than start_ms")
        self.rate = rate
        self._owns_vad = vad is None
        # batched: the VAD scores this call's windows together with every other call's, and
        # their probabilities arrive on a later feed or tick (speech/vad.py)
        self._vad = vad if vad is not None else VoiceActivity(rate, batched=batched)
        self._bytes_per_s = rate * SAMPLE_WIDTH
        self._window = self._vad.window_bytes
        self._start_windows = max(1, math.ceil(start_ms / 1000 / WINDOW_SECONDS))
        # With onset_ms, SpeechOnset comes that much voice before SpeechStarted.
        self._onset_windows = (
            None if onset_ms is None else max(1, math.ceil(onset_ms / 1000 / WINDOW_SECONDS))
        )
        self.end_silence_ms = end_silence_ms
        self.early_ms = early_ms
        self._max_s = max_utterance_s
        self._max_bytes = self._to_bytes(max_utterance_s)
        self._lead_in = self._to_bytes(lead_in_ms / 1000)
        self._tail = self._to_bytes(tail_ms / 1000)
        self._continue_threshold = max(_MIN_CONTINUE_THRESHOLD, self._vad.threshold - _HYSTERESIS)
        # Stream positions are byte offsets from the first byte ever fed.
        self._audio = bytearray()
        self._audio_start = 0  # stream position of _audio[0]
        self._fed = 0  # stream position after the last byte fed
        self._vad_pos = 0  # stream position after the last window the VAD scored
        self._last_feed_wall: float | None = None
        self._gap_closed = False  # the VAD was flushed since the last frame
        # idle: the current run of voiced windows
        self._run_start: int | None = None
        self._run_windows = 0
        self._run_dips = 0  # unvoiced windows in a row inside the run
        self._run_confident = False  # a window of the run reached the full threshold
        self._run_announced = False  # SpeechOnset was sent for the run
        # in speech
        self._speaking = False
        self._utterance_start = 0
        self._onset = 0  # stream position where the voiced run that started speech began
        self._last_voice_end = 0
        self._last_voice_wall = 0.0
        self._started_wall = 0.0
        self._paused_at: int | None = None  # _last_voice_end when SpeechPaused was sent

    @property
    def in_speech(self) -> bool:
        return self._speaking

    @property
    def end_silence_ms(self) -> int:
        """Silence that ends an utterance; may change at any time (the next turn's)."""
        return self._end_silence_ms

    @end_silence_ms.setter
    def end_silence_ms(self, value: int) -> None:
        if value <= 0:
            raise ValueError(f"end_silence_ms must be positive, got {value}")
        self._end_silence_ms = value
        self._end_silence_s = value / 1000
        self._end_silence_bytes = self._to_bytes(self._end_silence_s)

    @property
    def early_ms(self) -> int | None:
        """Silence after which SpeechPaused hands over the utterance so far (None: never;
        only while shorter than `end_silence_ms`)."""
        return self._early_ms

    @early_ms.setter
    def early_ms(self, value: int | None) -> None:
        if value is not None and value <= 0:
            raise ValueError(f"early_ms must be positive or None, got {value}")
        self._early_ms = value

    def feed(self, pcm: bytes, now: float) -> list[EndpointerEvent]:
        """Add inbound audio received at wall time `now` (monotonic seconds)."""
        if len(pcm) % SAMPLE_WIDTH:
            raise ValueError(f"16-bit PCM must have an even number of bytes, got {len(pcm)}")
        events = self._close_gap(now) if self._frames_stopped(now) else []
        self._last_feed_wall = now
        self._gap_closed = False
        self._audio += pcm
        self._fed += len(pcm)
        for probability in self._vad.feed(pcm):
            if event := self._on_window(probability, self._window, now):
                events.append(event)
        events.extend(self._check_timers(now))
        self._trim()
        return events

    def tick(self, now: float) -> list[EndpointerEvent]:
        """Call periodically (e.g. every 20–50 ms): ends an utterance on wall-clock silence.

        When frames have stopped, the last partial VAD window is scored here, so a short
        word at the very end of the audio can still start speech (SpeechStarted).
        """
        if self._frames_stopped(now):
            events = self._close_gap(now)
        else:
            events = [
                event
                for probability in self._vad.ready()
                if (event := self._on_window(probability, self._window, now)) is not None
            ]
        events.extend(self._check_timers(now))
        self._trim()
        return events

    def deadline(self) -> float | None:
        """The wall time at which `tick` ends the utterance in progress unless voice comes
        first; None when no utterance is in progress. A caller that ticks at this moment
        ends the turn without waiting for its next periodic tick."""
        if not self._speaking:
            return None
        return self._last_voice_wall + self._end_silence_s

    def flush(self, now: float) -> list[SpeechEnded]:
        """End an utterance in progress at once (the caller hung up, the call is ending)."""
        if not self._speaking:
            return []
        return [self._end(now, self._fed, "flushed")]

    def close(self) -> None:
        """Release the VAD model if this endpointer made it."""
        if self._owns_vad:
            self._vad.close()

    # -- the state machine --

    def _frames_stopped(self, now: float) -> bool:
        last = self._last_feed_wall
        return not self._gap_closed and last is not None and now - last > _GAP_S

    def _close_gap(self, now: float) -> list[EndpointerEvent]:
        # Frames stopped: the audio after the gap will not continue this audio, so the VAD
        # scores its partial window now and starts afresh, a voiced run does not carry over
        # (two blips must not add up to speech), and idle audio is no lead-in for what comes.
        # Whole windows still being scored (batched) come first; the last one holds the rest.
        probabilities = self._vad.flush()
        events: list[EndpointerEvent] = []
        for i, probability in enumerate(probabilities):
            size = self._window if i < len(probabilities) - 1 else self._fed - self._vad_pos
            if (event := self._on_window(probability, size, now)) is not None:
                events.append(event)
        self._vad_pos = self._fed
        if self._reset_run():
            events.append(OnsetFaded(at=now))
        if not self._speaking:
            self._drop_audio_before(self._fed)
        self._gap_closed = True
        return events

    def _on_window(self, probability: float, size: int, now: float) -> EndpointerEvent | None:
        start, end = self._vad_pos, min(self._vad_pos + size, self._fed)
        self._vad_pos = end
        assert self._last_feed_wall is not None
        wall = self._last_feed_wall - (self._fed - end) / self._bytes_per_s  # when it arrived
        if self._speaking:
            return self._continue(probability, end, wall, now)
        return self._begin(probability, start, end, wall, now)

    def _check_timers(self, now: float) -> list[SpeechPaused | SpeechEnded]:
        if not self._speaking:
            return []
        silent_s = now - self._last_voice_wall
        # The same sum as `deadline()`: `now - last >= wait` can miss by a rounding error at
        # the very moment `deadline()` named, and the turn would wait a whole tick more.
        if now >= self._last_voice_wall + self._end_silence_s:
            return [self._end(now, self._last_voice_end + self._tail, "silence")]
        if now - self._started_wall >= self._max_s:
            return [self._end(now, self._fed, "max_length")]
        early = self._early_ms
        if (
            early is not None
            and early < self._end_silence_ms
            and silent_s >= early / 1000
            and self._paused_at != self._last_voice_end
        ):
            self._paused_at = self._last_voice_end
            pcm = self._utterance(self._paused_at + self._tail)
            return [SpeechPaused(at=now, pcm=pcm, rate=self.rate)]
        return []

    def _begin(
        self, probability: float, window_start: int, window_end: int, wall: float, now: float
    ) -> SpeechOnset | OnsetFaded | SpeechStarted | None:
        if probability < self._continue_threshold:
            self._run_dips += 1
            if self._run_dips > _MAX_ONSET_DIPS and self._reset_run():  # a blip, or nothing
                return OnsetFaded(at=now)
            return None
        self._run_dips = 0
        if self._run_start is None:
            self._run_start = window_start
        self._run_windows += 1
        self._run_confident = self._run_confident or probability >= self._vad.threshold
        if not self._run_confident:
            return None
        if self._run_windows < self._start_windows:
            if self._run_announced or self._onset_windows is None:
                return None
            if self._run_windows < self._onset_windows:
                return None
            self._run_announced = True
            return SpeechOnset(at=now)
        self._speaking = True
        self._paused_at = None
        self._onset = self._run_start
        self._utterance_start = max(self._audio_start, self._run_start - self._lead_in)
        self._last_voice_end = window_end
        self._last_voice_wall = wall
        self._started_wall = now
        self._reset_run()
        return SpeechStarted(at=now)

    def _reset_run(self) -> bool:
        """Forget the voiced run; True if a SpeechOnset was sent for it and speech did not
        start (the onset faded)."""
        faded = self._run_announced and not self._speaking
        self._run_start, self._run_windows, self._run_dips = None, 0, 0
        self._run_confident = False
        self._run_announced = False
        return faded

    def _continue(
        self, probability: float, window_end: int, wall: float, now: float
    ) -> SpeechEnded | None:
        if probability >= self._continue_threshold:
            self._last_voice_end = window_end
            self._last_voice_wall = wall
        elif window_end - self._last_voice_end >= self._end_silence_bytes:
            return self._end(now, self._last_voice_end + self._tail, "silence")
        if window_end - self._utterance_start >= self._max_bytes:
            return self._end(now, window_end, "max_length")
        return None

    def _utterance(self, end: int) -> bytes:
        """The utterance's audio up to stream position `end` (at most what was fed)."""
        start = self._utterance_start - self._audio_start
        return bytes(self._audio[start : min(end, self._fed) - self._audio_start])

    def _end(self, now: float, end: int, reason: EndReason) -> SpeechEnded:
        end = min(end, self._fed)
        pcm = self._utterance(end)
        voiced = max(0, min(self._last_voice_end, end) - self._onset)
        self._speaking = False
        self._drop_audio_before(end)
        return SpeechEnded(
            at=now,
            pcm=pcm,
            rate=self.rate,
            reason=reason,
            voiced_ms=voiced * 1000 // self._bytes_per_s,
            end_silence_ms=self._end_silence_ms,
            pause_held=self._paused_at == self._last_voice_end,
        )

    # -- the audio buffer --

    def _to_bytes(self, seconds: float) -> int:
        return round(seconds * self.rate) * SAMPLE_WIDTH

    def _drop_audio_before(self, position: int) -> None:
        cut = min(max(0, position - self._audio_start), len(self._audio))
        del self._audio[:cut]
        self._audio_start += cut

    def _trim(self) -> None:
        if self._speaking:
            self._drop_audio_before(self._utterance_start)
            return
        # idle: keep what a start could need: the voiced run so far (or the audio the VAD has
        # not scored yet) and lead_in_ms before it
        anchor = self._run_start if self._run_start is not None else self._vad_pos
        self._drop_audio_before(anchor - self._lead_in)

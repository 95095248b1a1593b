"""Utterance endpointing on the wall clock, driven by silero voice activity.

Asterisk stops sending inbound frames while the caller is silent (no `transmit_silence`), so
the end of an utterance cannot be found by counting frames: `tick(now)` ends it when no
voiced audio has arrived for `end_silence_ms` of wall time. When frames do keep coming
(silence frames, or audio fed in bursts as tests and the simulator do), the trailing
unvoiced audio counts too, whichever comes first.

Speech starts after `start_ms` of consecutive voiced windows (shorter blips are ignored);
with 32 ms windows the default 120 ms is four windows, so barge-in fires about 130–160 ms
after the caller's onset. The utterance handed to STT starts `lead_in_ms` before the onset
(the first syllable is often below the threshold) and ends `tail_ms` after the last voiced
window. Positions are kept as byte offsets in the stream, since frame sizes vary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from audiosocket.speech.resample import SAMPLE_WIDTH
from audiosocket.speech.vad import WINDOW_SECONDS, VoiceActivity

EndReason = Literal["silence", "max_length", "flushed"]

# Once speech runs, a window only counts as a pause below threshold - 0.15 (silero's own
# hysteresis): probabilities dip inside words and must not end an utterance early.
_HYSTERESIS: Final = 0.15
_MIN_CONTINUE_THRESHOLD: Final = 0.05
# Frames come every 20 ms; a longer wait means Asterisk stopped sending (caller silence).
_GAP_S: Final = 0.1


@dataclass
class SpeechStarted:
    at: float  # the `now` of the feed that detected it


@dataclass
class SpeechEnded:
    at: float  # the `now` of the feed or tick that ended it
    pcm: bytes  # the utterance: 16-bit mono PCM at `rate`, lead-in included
    rate: int
    reason: EndReason = "silence"


class Endpointer:
    """Turns a caller's audio stream into SpeechStarted / SpeechEnded events."""

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
    ) -> None:
        if vad is not None and vad.rate != rate:
            raise ValueError(f"the VAD takes {vad.rate} Hz audio, the endpointer {rate} Hz")
        if start_ms < 0 or end_silence_ms <= 0 or max_utterance_s <= 0:
            raise ValueError("start_ms ≥ 0, end_silence_ms > 0 and max_utterance_s > 0 needed")
        if lead_in_ms < 0 or tail_ms < 0:
            raise ValueError("lead_in_ms and tail_ms must not be negative")
        self.rate = rate
        self._owns_vad = vad is None
        self._vad = vad if vad is not None else VoiceActivity(rate)
        self._bytes_per_s = rate * SAMPLE_WIDTH
        self._window = self._vad.window_bytes
        self._start_windows = max(1, math.ceil(start_ms / 1000 / WINDOW_SECONDS))
        self._end_silence_s = end_silence_ms / 1000
        self._end_silence_bytes = self._to_bytes(self._end_silence_s)
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
        # idle: the current run of voiced windows
        self._run_start: int | None = None
        self._run_windows = 0
        # in speech
        self._speaking = False
        self._utterance_start = 0
        self._last_voice_end = 0
        self._last_voice_wall = 0.0
        self._started_wall = 0.0

    @property
    def in_speech(self) -> bool:
        return self._speaking

    def feed(self, pcm: bytes, now: float) -> list[SpeechStarted | SpeechEnded]:
        """Add inbound audio received at wall time `now` (monotonic seconds)."""
        if len(pcm) % SAMPLE_WIDTH:
            raise ValueError(f"16-bit PCM must have an even number of bytes, got {len(pcm)}")
        events: list[SpeechStarted | SpeechEnded] = []
        if self._last_feed_wall is not None and now - self._last_feed_wall > _GAP_S:
            self._after_gap()
        self._last_feed_wall = now
        self._audio += pcm
        self._fed += len(pcm)
        for probability in self._vad.feed(pcm):
            window_start, window_end = self._vad_pos, self._vad_pos + self._window
            self._vad_pos = window_end
            window_wall = now - (self._fed - window_end) / self._bytes_per_s
            if self._speaking:
                ended = self._continue(probability, window_end, window_wall, now)
                if ended is not None:
                    events.append(ended)
            elif self._begin(probability, window_start, window_end, window_wall, now):
                events.append(SpeechStarted(at=now))
        events.extend(self.tick(now))
        self._trim()
        return events

    def tick(self, now: float) -> list[SpeechEnded]:
        """Call periodically (e.g. every 20–50 ms): ends an utterance on wall-clock silence."""
        if not self._speaking:
            return []
        if now - self._last_voice_wall >= self._end_silence_s:
            return [self._end(now, self._last_voice_end + self._tail, "silence")]
        if now - self._started_wall >= self._max_s:
            return [self._end(now, self._fed, "max_length")]
        return []

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

    def _after_gap(self) -> None:
        # Frames stopped and resumed: the audio on both sides was not continuous, so a voiced
        # run and the VAD's context do not carry over (two blips must not add up to speech),
        # and the old audio is no lead-in for what comes now.
        self._vad.reset()
        self._vad_pos = self._fed
        self._run_start, self._run_windows = None, 0
        if not self._speaking:
            self._drop_audio_before(self._fed)

    def _begin(
        self, probability: float, window_start: int, window_end: int, wall: float, now: float
    ) -> bool:
        if probability < self._vad.threshold:
            self._run_start, self._run_windows = None, 0  # a blip, or nothing
            return False
        if self._run_start is None:
            self._run_start = window_start
        self._run_windows += 1
        if self._run_windows < self._start_windows:
            return False
        self._speaking = True
        self._utterance_start = max(self._audio_start, self._run_start - self._lead_in)
        self._last_voice_end = window_end
        self._last_voice_wall = wall
        self._started_wall = now
        self._run_start, self._run_windows = None, 0
        return True

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

    def _end(self, now: float, end: int, reason: EndReason) -> SpeechEnded:
        end = min(end, self._fed)
        start = self._utterance_start - self._audio_start
        pcm = bytes(self._audio[start : end - self._audio_start])
        self._speaking = False
        self._drop_audio_before(end)
        return SpeechEnded(at=now, pcm=pcm, rate=self.rate, reason=reason)

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

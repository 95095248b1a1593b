"""silero voice activity on real espeak speech and on line sounds (tone, noise, hum)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from audiosocket.speech import VoiceActivity
from tests.audiosocket.speech.audio import frames, hum, silence, speech, tone, white_noise

RATES = [8000, 16000]


def probabilities(
    pcm: bytes, rate: int, *, model_rate: int | None = None, silence_floor: float | None = None
) -> list[float]:
    vad = (
        VoiceActivity(rate, model_rate=model_rate)
        if silence_floor is None
        else VoiceActivity(rate, model_rate=model_rate, silence_floor=silence_floor)
    )
    try:
        return vad.feed(pcm)
    finally:
        vad.close()


@pytest.mark.parametrize("rate", RATES)
def test_russian_speech_scores_high(rate: int) -> None:
    scores = probabilities(speech(rate), rate)
    voiced = sum(score >= 0.5 for score in scores) / len(scores)
    assert sum(scores) / len(scores) > 0.6
    assert voiced > 0.6


def test_eight_khz_can_run_on_the_16_khz_model() -> None:
    scores = probabilities(speech(8000), 8000, model_rate=16000)
    assert sum(scores) / len(scores) > 0.5


LINE_SOUNDS: dict[str, Callable[[float, int], bytes]] = {
    "tone 440 Hz": tone,
    "dial tone 425 Hz": lambda d, r: tone(d, r, hz=425),
    "tone 1 kHz": lambda d, r: tone(d, r, hz=1000),
    "white noise": white_noise,
    "mains hum": hum,
    "silence": silence,
}


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("sound", sorted(LINE_SOUNDS))
def test_line_sounds_are_not_speech(sound: str, rate: int) -> None:
    scores = probabilities(LINE_SOUNDS[sound](3.0, rate), rate)
    assert len(scores) == pytest.approx(3.0 / 0.032, abs=2)
    assert max(scores) < 0.2, f"{sound}: max probability {max(scores):.3f}"


@pytest.mark.parametrize("rate", RATES)
def test_frames_of_any_size_give_the_same_windows(rate: int) -> None:
    pcm = speech(rate)
    whole = probabilities(pcm, rate)
    vad = VoiceActivity(rate)
    pieces = [score for frame in frames(pcm, [416, 88, 640, 320, 2]) for score in vad.feed(frame)]
    vad.close()
    assert len(whole) == len(pcm) // vad.window_bytes
    assert pieces == pytest.approx(whole, abs=1e-4)


def test_an_odd_byte_waits_for_the_next_piece() -> None:
    pcm = speech(16000)[:4096]
    vad = VoiceActivity(16000)
    scores = vad.feed(pcm[:1001]) + vad.feed(pcm[1001:])
    vad.close()
    assert scores == pytest.approx(probabilities(pcm, 16000), abs=1e-4)


def test_reset_starts_a_fresh_stream() -> None:
    pcm = speech(16000)
    vad = VoiceActivity(16000)
    first = vad.feed(pcm[:3000])  # leaves a partial window behind
    vad.reset()
    assert vad.feed(pcm) == pytest.approx(probabilities(pcm, 16000), abs=1e-4)
    assert first
    vad.close()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="8000 or 16000"):
        VoiceActivity(44100)
    with pytest.raises(ValueError, match="threshold"):
        VoiceActivity(8000, threshold=1.5)
    with pytest.raises(ValueError, match="model_rate"):
        VoiceActivity(16000, model_rate=8000)
    vad = VoiceActivity(8000)
    vad.close()
    with pytest.raises(RuntimeError, match="closed"):
        vad.feed(bytes(320))


def test_flush_scores_the_partial_window_as_if_silence_followed() -> None:
    pcm = speech(16000)
    vad = VoiceActivity(16000)
    cut = 10 * vad.window_bytes + 300  # ten windows and a bit
    assert len(vad.feed(pcm[:cut])) == 10
    (last,) = vad.flush()
    padded = pcm[:cut] + bytes(vad.window_bytes - 300)
    assert last == pytest.approx(probabilities(padded, 16000)[-1], abs=1e-4)
    assert vad.flush() == []  # nothing left
    # afresh: the next audio starts a new stream
    assert vad.feed(pcm) == pytest.approx(probabilities(pcm, 16000), abs=1e-4)
    vad.close()


def test_near_silence_skips_the_model() -> None:
    quiet = white_noise(1.0, 8000, level=10)  # peaks around -60 dBFS: a dead line
    assert set(probabilities(quiet, 8000)) == {0.0}
    gated_off = probabilities(quiet, 8000, silence_floor=0)
    assert gated_off and all(0.0 < score < 0.2 for score in gated_off)

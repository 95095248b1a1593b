"""soxr resampling of int16 mono PCM, whole and streamed."""

from __future__ import annotations

import numpy as np
import pytest

from audiosocket.speech import StreamResampler, resample
from tests.audiosocket.speech.audio import tone


def dominant_hz(pcm: bytes, rate: int) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize(("source", "target"), [(22050, 8000), (24000, 16000), (8000, 16000)])
def test_a_tone_keeps_its_pitch_and_length(source: int, target: int) -> None:
    out = resample(tone(1.0, source, hz=700), source, target)
    assert len(out) == 2 * target
    assert dominant_hz(out, target) == pytest.approx(700, abs=2)


def test_same_rate_and_empty_input_pass_through() -> None:
    pcm = tone(0.1, 8000)
    assert resample(pcm, 8000, 8000) == pcm
    assert resample(b"", 24000, 8000) == b""


def test_streaming_in_ragged_pieces_matches_the_whole() -> None:
    pcm = tone(1.0, 24000, hz=700)
    stream = StreamResampler(24000, 8000)
    pieces = [stream.feed(pcm[i : i + 777]) for i in range(0, len(pcm), 777)]  # odd sizes
    out = b"".join(pieces) + stream.flush()
    assert all(len(piece) % 2 == 0 for piece in pieces)
    assert len(out) == len(resample(pcm, 24000, 8000))
    assert dominant_hz(out, 8000) == pytest.approx(700, abs=2)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="even number"):
        resample(b"\x00", 8000, 16000)
    with pytest.raises(ValueError, match="positive"):
        resample(b"", 0, 16000)
    with pytest.raises(ValueError, match="positive"):
        StreamResampler(8000, -1)

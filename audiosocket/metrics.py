"""In-process metrics of the edge, rendered in the Prometheus text format, and the per-turn
latency record (VAD end → STT done → workflow reply → first TTS audio queued).

The edge has a handful of counters and four latency histograms; a small renderer is simpler
than a client library and keeps the exposition under test.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web

# Milliseconds: a turn's stages range from ~1 ms (a cached reply) to seconds (a slow LLM).
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
)


PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Histogram:
    buckets: tuple[float, ...] = LATENCY_BUCKETS_MS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        index = bisect.bisect_left(self.buckets, value)
        if index < len(self.counts):
            self.counts[index] += 1
        self.total += value
        self.count += 1

    def lines(self, name: str) -> Iterable[str]:
        cumulative = 0
        for bound, count in zip(self.buckets, self.counts, strict=True):
            cumulative += count
            yield f'{name}_bucket{{le="{_number(bound)}"}} {cumulative}'
        yield f'{name}_bucket{{le="+Inf"}} {self.count}'
        yield f"{name}_sum {_number(self.total)}"
        yield f"{name}_count {self.count}"


@dataclass(frozen=True)
class TurnLatency:
    """One caller turn, stamped on the event loop's clock (seconds). None: stage not reached."""

    call_id: str
    kind: str  # "speech", "dtmf" or "silence"
    input_end: float  # VAD decided the utterance ended / the key or pause that made the turn
    stt_done: float | None
    reply_done: float | None
    first_audio: float | None

    def _ms(self, start: float | None, end: float | None) -> float | None:
        if start is None or end is None:
            return None
        return round((end - start) * 1000, 1)

    @property
    def stt_ms(self) -> float | None:
        return self._ms(self.input_end, self.stt_done)

    @property
    def update_ms(self) -> float | None:
        return self._ms(
            self.stt_done if self.stt_done is not None else self.input_end, self.reply_done
        )

    @property
    def tts_first_ms(self) -> float | None:
        return self._ms(self.reply_done, self.first_audio)

    @property
    def total_ms(self) -> float | None:
        return self._ms(self.input_end, self.first_audio)

    def as_log(self) -> dict[str, object]:
        return {
            "call_id": self.call_id,
            "kind": self.kind,
            "stt_ms": self.stt_ms,
            "update_ms": self.update_ms,
            "tts_first_audio_ms": self.tts_first_ms,
            "total_ms": self.total_ms,
        }


@dataclass
class EdgeMetrics:
    calls_started: int = 0
    calls_active: int = 0
    calls_ended: dict[str, int] = field(default_factory=dict)
    turns: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    barge_ins: int = 0  # real interruptions: the caller's words cut the reply
    false_barge_ins: int = 0  # onsets that paused the bot but held no words: it resumed
    fillers: int = 0
    dtmf_duplicates: int = 0
    stt_ms: Histogram = field(default_factory=Histogram)
    update_ms: Histogram = field(default_factory=Histogram)
    tts_first_ms: Histogram = field(default_factory=Histogram)
    total_ms: Histogram = field(default_factory=Histogram)

    def call_started(self) -> None:
        self.calls_started += 1
        self.calls_active += 1

    def call_ended(self, reason: str) -> None:
        self.calls_active -= 1
        self.calls_ended[reason] = self.calls_ended.get(reason, 0) + 1

    def failure(self, what: str) -> None:
        """`what`: stt, tts, workflow, start, ari."""
        self.failures[what] = self.failures.get(what, 0) + 1

    def turn(self, latency: TurnLatency) -> None:
        self.turns[latency.kind] = self.turns.get(latency.kind, 0) + 1
        for histogram, value in (
            (self.stt_ms, latency.stt_ms),
            (self.update_ms, latency.update_ms),
            (self.tts_first_ms, latency.tts_first_ms),
            (self.total_ms, latency.total_ms),
        ):
            if value is not None:
                histogram.observe(value)

    def render(self) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        out: list[str] = []

        def metric(name: str, kind: str, help_text: str, lines: Iterable[str]) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(lines)

        def labelled(name: str, label: str, values: dict[str, int]) -> list[str]:
            return [f'{name}{{{label}="{key}"}} {value}' for key, value in sorted(values.items())]

        p = "voiceorder_edge"
        metric(
            f"{p}_calls_started_total",
            "counter",
            "Calls connected.",
            [f"{p}_calls_started_total {self.calls_started}"],
        )
        metric(
            f"{p}_calls_active",
            "gauge",
            "Calls in progress.",
            [f"{p}_calls_active {self.calls_active}"],
        )
        metric(
            f"{p}_calls_ended_total",
            "counter",
            "Calls ended, by reason.",
            labelled(f"{p}_calls_ended_total", "reason", self.calls_ended),
        )
        metric(
            f"{p}_turns_total",
            "counter",
            "Caller turns, by kind.",
            labelled(f"{p}_turns_total", "kind", self.turns),
        )
        metric(
            f"{p}_failures_total",
            "counter",
            "Failures, by part.",
            labelled(f"{p}_failures_total", "part", self.failures),
        )
        metric(
            f"{p}_barge_ins_total",
            "counter",
            "Bot speech cut by the caller.",
            [f"{p}_barge_ins_total {self.barge_ins}"],
        )
        metric(
            f"{p}_false_barge_ins_total",
            "counter",
            "Caller sounds that paused bot speech but held no words (the bot resumed).",
            [f"{p}_false_barge_ins_total {self.false_barge_ins}"],
        )
        metric(
            f"{p}_fillers_total",
            "counter",
            "Fillers played during slow turns.",
            [f"{p}_fillers_total {self.fillers}"],
        )
        metric(
            f"{p}_dtmf_duplicates_total",
            "counter",
            "Keys reported twice, kept once.",
            [f"{p}_dtmf_duplicates_total {self.dtmf_duplicates}"],
        )
        for name, histogram, help_text in (
            ("stt_ms", self.stt_ms, "VAD end to transcript, ms."),
            ("update_ms", self.update_ms, "Transcript to workflow reply, ms."),
            ("tts_first_audio_ms", self.tts_first_ms, "Reply to first TTS audio queued, ms."),
            ("turn_ms", self.total_ms, "VAD end to first TTS audio queued, ms."),
        ):
            metric(f"{p}_{name}", "histogram", help_text, histogram.lines(f"{p}_{name}"))
        return "\n".join(out) + "\n"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(round(value, 3))


def metrics_app(metrics: EdgeMetrics, healthy: Callable[[], bool]) -> web.Application:
    """`GET /metrics` (Prometheus text) and `GET /health` (200 while the edge listens)."""

    async def get_metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=metrics.render().encode(), headers={"Content-Type": PROMETHEUS_CONTENT_TYPE}
        )

    async def get_health(_: web.Request) -> web.Response:
        if healthy():
            return web.json_response({"status": "ok", "calls_active": metrics.calls_active})
        return web.json_response({"status": "starting"}, status=503)

    app = web.Application()
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/health", get_health)
    return app

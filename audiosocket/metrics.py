"""The edge's metrics on `prometheus_client`, and the per-turn latency record (VAD end →
STT done → first streamed sentence → workflow reply → first TTS audio queued).

Every `EdgeMetrics` has a `CollectorRegistry` of its own rather than the library's global
one: several edges in one process (the tests, a benchmark) would otherwise collide on the
metric names, and one edge's numbers would leak into another's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.aiohttp import make_aiohttp_handler

from audiosocket.admission import Refusal
from audiosocket.server import HangupReason

PREFIX = "voiceorder_edge"

# Seconds (Prometheus' base unit). A turn's stages run from ~1 ms (a cached reply, a key
# press) to seconds (a slow LLM, a long STT): fine steps where the voice-to-voice budget
# lives (0.1–1.5 s), coarse ones beyond, where only "slow" matters.
TURN_BUCKETS_S: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
)

# Label values known up front are exported at 0 from the start, so that Prometheus'
# rate()/increase() see a series' first increment instead of its first appearance.
TURN_KINDS = ("speech", "dtmf", "silence")
FAILURE_PARTS = ("ari", "session", "start", "stt", "tts", "workflow")


@dataclass(frozen=True)
class TurnLatency:
    """One caller turn, stamped on the event loop's clock (seconds). None: stage not reached."""

    call_id: str
    kind: str  # "speech", "dtmf" or "silence"
    input_end: float  # VAD decided the utterance ended / the key or pause that made the turn
    stt_done: float | None
    reply_done: float | None
    first_audio: float | None
    # The silence that ended the caller's speech (before `input_end`, so in no stage here):
    # it follows what the bot asked (audiosocket.end_of_turn). None for keys and silence.
    end_of_turn_ms: int | None = None
    # The transcript was made at a pause, during that wait: `stt_ms` is what was left of it.
    early_stt: bool = False
    # A streamed reply (docs/streaming.md): when its first sentence arrived, and how many
    # sentences were spoken before the workflow's reply came.
    first_sentence: float | None = None
    streamed: int = 0

    def _ms(self, start: float | None, end: float | None) -> float | None:
        if start is None or end is None:
            return None
        return round((end - start) * 1000, 1)

    @property
    def stt_ms(self) -> float | None:
        return self._ms(self.input_end, self.stt_done)

    @property
    def _asked(self) -> float:
        """When the turn went to the workflow."""
        return self.stt_done if self.stt_done is not None else self.input_end

    @property
    def update_ms(self) -> float | None:
        return self._ms(self._asked, self.reply_done)

    @property
    def first_sentence_ms(self) -> float | None:
        """To the first streamed sentence: the agent's time to its first sentence, and the
        hops there and back."""
        return self._ms(self._asked, self.first_sentence)

    @property
    def tts_first_ms(self) -> float | None:
        """From the text to speak (the first streamed sentence, else the reply) to its first
        audio."""
        spoken_from = self.first_sentence if self.first_sentence is not None else self.reply_done
        return self._ms(spoken_from, self.first_audio)

    @property
    def total_ms(self) -> float | None:
        return self._ms(self.input_end, self.first_audio)

    def as_log(self) -> dict[str, object]:
        return {
            "call_id": self.call_id,
            "kind": self.kind,
            "stt_ms": self.stt_ms,
            "first_sentence_ms": self.first_sentence_ms,
            "update_ms": self.update_ms,
            "tts_first_audio_ms": self.tts_first_ms,
            "total_ms": self.total_ms,
            "end_of_turn_ms": self.end_of_turn_ms,
            "early_stt": self.early_stt,
            "streamed": self.streamed,
        }


class EdgeMetrics:
    """What one edge counts. The session calls the methods; tests and /health read the
    properties, which read the registry back (one source of truth)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._calls_started = Counter(f"{PREFIX}_calls_started", "Calls connected.", registry=r)
        self._calls_active = Gauge(f"{PREFIX}_calls_active", "Calls in progress.", registry=r)
        self._calls_ended = Counter(
            f"{PREFIX}_calls_ended", "Calls ended, by reason.", ["reason"], registry=r
        )
        self._turns = Counter(f"{PREFIX}_turns", "Caller turns, by kind.", ["kind"], registry=r)
        self._failures = Counter(f"{PREFIX}_failures", "Failures, by part.", ["part"], registry=r)
        self._barge_ins = Counter(
            f"{PREFIX}_barge_ins", "Bot speech cut by the caller's words.", registry=r
        )
        self._false_barge_ins = Counter(
            f"{PREFIX}_false_barge_ins",
            "Onsets that paused the bot but held no words (a cough, a click): it resumed.",
            registry=r,
        )
        self._fillers = Counter(
            f"{PREFIX}_fillers", "Fillers played during slow turns.", registry=r
        )
        self._dtmf_duplicates = Counter(
            f"{PREFIX}_dtmf_duplicates", "Keys reported twice, kept once.", registry=r
        )
        self._calls_refused = Counter(
            f"{PREFIX}_calls_refused",
            "Connections refused before a call started, by reason.",
            ["reason"],
            registry=r,
        )
        for reason in HangupReason:
            self._calls_ended.labels(reason.value)
        for kind in TURN_KINDS:
            self._turns.labels(kind)
        for part in FAILURE_PARTS:
            self._failures.labels(part)
        for refusal in Refusal:
            self._calls_refused.labels(refusal.value)

        def stage(name: str, help_text: str) -> Histogram:
            return Histogram(
                f"{PREFIX}_{name}_seconds", help_text, buckets=TURN_BUCKETS_S, registry=r
            )

        self._stt = stage("stt", "VAD end to transcript.")
        self._first_sentence = stage(
            "first_sentence", "Transcript (or key) to the first streamed sentence of the reply."
        )
        self._update = stage("update", "Transcript (or key/pause) to workflow reply.")
        self._tts_first = stage(
            "tts_first_audio", "First streamed sentence (else the reply) to first audio queued."
        )
        self._turn = stage("turn", "VAD end to first TTS audio queued.")
        self._end_of_turn = stage(
            "end_of_turn_wait",
            "The silence that ended a spoken turn, chosen by what the bot asked (END_OF_TURN_*);"
            " before the VAD end, so in no other stage.",
        )
        self._early_stt_turns = Counter(
            f"{PREFIX}_early_stt_turns",
            "Spoken turns whose transcript was made during the end-of-turn wait.",
            registry=r,
        )
        self._streamed_turns = Counter(
            f"{PREFIX}_streamed_turns",
            "Turns whose reply began to play before the workflow answered.",
            registry=r,
        )

    # --- what the session reports ----------------------------------------------------------

    def call_started(self) -> None:
        self._calls_started.inc()
        self._calls_active.inc()

    def call_ended(self, reason: str) -> None:
        self._calls_active.dec()
        self._calls_ended.labels(reason).inc()

    def failure(self, what: str) -> None:
        """`what`: one of FAILURE_PARTS."""
        self._failures.labels(what).inc()

    def barge_in(self) -> None:
        self._barge_ins.inc()

    def false_barge_in(self) -> None:
        self._false_barge_ins.inc()

    def filler(self) -> None:
        self._fillers.inc()

    def call_refused(self, reason: str) -> None:
        """A connection that did not become a call (audiosocket.admission.Refusal)."""
        self._calls_refused.labels(reason).inc()

    def dtmf_duplicate(self) -> None:
        self._dtmf_duplicates.inc()

    def turn(self, latency: TurnLatency) -> None:
        self._turns.labels(latency.kind).inc()
        if latency.streamed:
            self._streamed_turns.inc()
        if latency.early_stt:
            self._early_stt_turns.inc()
        for histogram, ms in (
            (self._stt, latency.stt_ms),
            (self._first_sentence, latency.first_sentence_ms),
            (self._update, latency.update_ms),
            (self._tts_first, latency.tts_first_ms),
            (self._turn, latency.total_ms),
            (self._end_of_turn, latency.end_of_turn_ms),
        ):
            if ms is not None:
                histogram.observe(ms / 1000)

    # --- reading back ----------------------------------------------------------------------

    def _value(self, name: str, **labels: str) -> int:
        return int(self.registry.get_sample_value(f"{PREFIX}_{name}", labels) or 0)

    def _by_label(self, counter: Counter, label: str) -> dict[str, int]:
        return {
            sample.labels[label]: int(sample.value)
            for family in counter.collect()
            for sample in family.samples
            if sample.name.endswith("_total")
        }

    @property
    def calls_started(self) -> int:
        return self._value("calls_started_total")

    @property
    def calls_active(self) -> int:
        return self._value("calls_active")

    @property
    def barge_ins(self) -> int:
        return self._value("barge_ins_total")

    @property
    def false_barge_ins(self) -> int:
        return self._value("false_barge_ins_total")

    @property
    def streamed_turns(self) -> int:
        return self._value("streamed_turns_total")

    @property
    def early_stt_turns(self) -> int:
        return self._value("early_stt_turns_total")

    @property
    def fillers(self) -> int:
        return self._value("fillers_total")

    @property
    def dtmf_duplicates(self) -> int:
        return self._value("dtmf_duplicates_total")

    @property
    def calls_ended(self) -> dict[str, int]:
        return self._by_label(self._calls_ended, "reason")

    @property
    def turns(self) -> dict[str, int]:
        return self._by_label(self._turns, "kind")

    @property
    def failures(self) -> dict[str, int]:
        return self._by_label(self._failures, "part")

    @property
    def refused(self) -> dict[str, int]:
        return self._by_label(self._calls_refused, "reason")

    def render(self) -> str:
        """The Prometheus text exposition (what GET /metrics serves without content
        negotiation)."""
        return generate_latest(self.registry).decode()


def metrics_app(metrics: EdgeMetrics, healthy: Callable[[], bool]) -> web.Application:
    """`GET /metrics` (Prometheus text, or OpenMetrics when the scraper asks for it) and
    `GET /health` (200 while the edge listens)."""

    async def get_health(_: web.Request) -> web.Response:
        if healthy():
            return web.json_response({"status": "ok", "calls_active": metrics.calls_active})
        return web.json_response({"status": "starting"}, status=503)

    app = web.Application()
    app.router.add_get("/metrics", make_aiohttp_handler(metrics.registry))
    app.router.add_get("/health", get_health)
    return app

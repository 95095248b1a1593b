"""A turn followed across processes, and the fleet's metrics: one call through a real edge
and a real worker whose Temporal clients carry `TracingInterceptor` and whose runtime
exports the SDK's metrics for Prometheus (core/tracing.py, workers/metrics.py).

- A call is one trace: the edge's `call` span, each `turn` under it with its update call,
  and on the worker the workflow's update handler (which links the update call) and the
  activities the turn ran all share one trace id (an in-memory span exporter stands in for
  the OTLP collector).
- The worker's /metrics serves the Temporal SDK's metrics, and every metric the Grafana
  dashboard (deploy/grafana/dashboards/voiceorder.json) queries exists: in the edge's
  registry, or among the SDK's documented metrics, which this run's scrape confirms.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.testing import WorkflowEnvironment

import audiosocket.session
from audiosocket.metrics import EdgeMetrics
from core.settings import Settings
from core.temporal import DATA_CONVERTER
from tests.audiosocket.conftest import EdgeCalls, running_edge
from tests.support.fake_llm import FakeLLM
from tests.support.fake_openai_audio import FakeSpeech
from tests.support.servers import free_port
from tests.workflows.scripts import say, search
from workers.metrics import FAILURE_ONLY, SDK_METRICS, metrics_runtime
from workers.worker import activity_set, build_worker

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
TURN_TIMEOUT_S = 60
# What PromQL writes around metric names; whatever else is an identifier is a metric.
PROMQL_WORDS = {
    "sum", "rate", "irate", "increase", "histogram_quantile", "count", "avg", "min", "max",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "topk", "bottomk", "clamp_min", "clamp_max", "abs", "delta", "deriv", "offset",
}  # fmt: skip
# Prometheus's own per-target series.
PROMETHEUS_SERIES = {"up"}


@pytest.fixture
async def traced(
    temporal_env: WorkflowEnvironment, call_settings: Settings
) -> AsyncIterator[tuple[Client, InMemorySpanExporter, int, Settings]]:
    """A worker on its own task queue, on a client that traces and exports SDK metrics."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics_port = free_port()
    client = await Client.connect(
        temporal_env.client.service_client.config.target_host,
        namespace=temporal_env.client.namespace,
        data_converter=DATA_CONVERTER,
        interceptors=[TracingInterceptor(provider.get_tracer("test"))],
        runtime=metrics_runtime("127.0.0.1", metrics_port),
    )
    settings = call_settings.model_copy(
        update={"temporal_task_queue": f"traced-{uuid.uuid4().hex[:8]}"}
    )
    # The edge's own span: the module's tracer, here from the test's provider.
    edge_tracer = audiosocket.session.tracer
    audiosocket.session.tracer = provider.get_tracer("voiceorder.edge")
    try:
        async with (
            activity_set(settings) as activities,
            build_worker(client, settings, activities),
        ):
            yield client, exporter, metrics_port, settings
    finally:
        audiosocket.session.tracer = edge_tracer
        provider.shutdown()


async def test_one_turn_is_one_trace_and_the_dashboard_names_real_metrics(
    traced: tuple[Client, InMemorySpanExporter, int, Settings],
    fake_llm: FakeLLM,
    fake_speech: FakeSpeech,
) -> None:
    client, exporter, metrics_port, settings = traced
    async with running_edge(client, settings, fake_speech) as edge:
        calls = EdgeCalls(edge, fake_llm, fake_speech, settings)
        peer, session = await calls.dial(
            llm=[search("гречка"), say("Гречка есть.")], heard=["Есть гречка?"]
        )
        try:
            await peer.wait_for_bot_speech(timeout_s=TURN_TIMEOUT_S)
            await peer.wait_until_bot_quiet(500, timeout_s=TURN_TIMEOUT_S)
            await calls.say(peer, "Есть гречка?")
            await peer.wait_until_bot_quiet(500, timeout_s=TURN_TIMEOUT_S)
        finally:
            await peer.hang_up()
        await session.finished.wait()

    spans = exporter.get_finished_spans()
    call, turn = _one(spans, "call"), _one(spans, "turn")
    trace_id = call.context.trace_id
    in_trace = {s.name: s for s in spans if s.context.trace_id == trace_id}
    for name in (
        "turn",
        "StartUpdateWithStartWorkflow:CallWorkflow",  # the edge starts the call
        "RunWorkflow:CallWorkflow",
        "StartWorkflowUpdate:caller_said",  # the edge's update call
        "HandleUpdate:caller_said",  # the workflow's handler, on the worker
        "RunActivity:search_products",  # the turn's Store API step
        "RunActivity:agent_turn",
    ):
        assert name in in_trace, (name, sorted(in_trace))
    assert turn.parent is not None and turn.parent.span_id == call.context.span_id
    update_call = in_trace["StartWorkflowUpdate:caller_said"]
    assert update_call.parent is not None and update_call.parent.span_id == turn.context.span_id
    # The handler hangs under the workflow's context and links the update call that ran it.
    handler = in_trace["HandleUpdate:caller_said"]
    assert any(link.context.span_id == update_call.context.span_id for link in handler.links)
    assert turn.attributes is not None and call.attributes is not None
    assert turn.attributes["voiceorder.call_id"] == session.call_id
    assert "voiceorder.turn.total_ms" in turn.attributes, "ended at the first audio"
    assert call.attributes["voiceorder.hangup_reason"] == "caller"

    async with httpx.AsyncClient(timeout=10) as http:
        scraped = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    served = _sample_bases(scraped)
    assert {
        "temporal_workflow_task_schedule_to_start_latency",
        "temporal_local_activity_execution_latency",
        "temporal_worker_task_slots_used",
    } <= served, sorted(served)
    assert served <= SDK_METRICS | _undocumented(served), "names as documented"

    edge_names = _sample_names(EdgeMetrics().render())
    for metric in _dashboard_metrics():
        if metric.startswith("voiceorder_edge_"):
            assert metric in edge_names, f"the dashboard queries {metric}, the edge has none"
        elif metric.startswith("temporal_"):
            base = re.sub(r"_(bucket|sum|count)$", "", metric)
            assert base in SDK_METRICS, f"{metric} is not a documented SDK metric"
            assert base in served or base in FAILURE_ONLY, f"{metric}: no worker serves it"
        else:
            assert metric in PROMETHEUS_SERIES, f"the dashboard queries unknown {metric}"


def _one(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


def _sample_names(exposition: str) -> set[str]:
    return {
        line.split("{")[0].split(" ")[0]
        for line in exposition.splitlines()
        if line and not line.startswith("#")
    }


def _sample_bases(exposition: str) -> set[str]:
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in _sample_names(exposition)}


def _undocumented(served: set[str]) -> set[str]:
    """What the SDK serves beyond its reference (e.g. temporal_worker_start): allowed on the
    page, never queried by the dashboard (checked below)."""
    return served - SDK_METRICS


def _dashboard_metrics() -> set[str]:
    metrics: set[str] = set()
    for path in DASHBOARD.glob("*.json"):
        dashboard = json.loads(path.read_text("utf-8"))
        panels = [p for p in dashboard["panels"] if p["type"] != "row"]
        assert panels, path
        for panel in panels:
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                found = _metrics_in(target["expr"])
                assert found, (panel["title"], target["expr"])
                metrics |= found
    return metrics


def _metrics_in(expr: str) -> set[str]:
    text = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    text = re.sub(r"\b(by|without)\s*\([^)]*\)", "", text)  # grouping labels
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    words = set(re.findall(r"(?<![\w$])[A-Za-z_:][\w:]*", text))
    return words - PROMQL_WORDS

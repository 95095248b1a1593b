"""Following a call and its turns across processes with OpenTelemetry.

Off unless TRACING_OTLP_ENDPOINT names an OTLP/HTTP collector (Jaeger, Tempo, the
OpenTelemetry Collector all take it on port 4318). Then the process exports its spans there
under its own service name, and its Temporal client carries the trace context in Temporal
headers (`temporalio.contrib.opentelemetry.TracingInterceptor`; a worker built on such a
client traces its side with the same interceptor).

One call is one trace. The edge's `call` span is the parent of the update-with-start that
starts the workflow, and the interceptor hangs every workflow-side span under that start's
context; each `turn` span (from the end of the caller's words to the bot's first audio) is a
child of `call` and the parent of its update call. On the worker, the update's handler
(`HandleUpdate:caller_said`, which links that update call) and the activities the turn runs
(`RunActivity:…`) carry the same trace id: edge → update → activities → first audio.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

from core.settings import Settings

TRACES_PATH = "/v1/traces"


def tracing_interceptors(settings: Settings, service: str) -> list[Interceptor]:
    """Install the exporting tracer provider for this process and return the client
    interceptors that propagate the trace; none (and no provider) when tracing is off."""
    endpoint = settings.tracing_otlp_endpoint
    if not endpoint:
        return []
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    url = endpoint if endpoint.endswith(TRACES_PATH) else f"{endpoint}{TRACES_PATH}"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    trace.set_tracer_provider(provider)
    return [TracingInterceptor()]


def flush_tracing() -> None:
    """Send what is still buffered; the service commands leave with os._exit."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()

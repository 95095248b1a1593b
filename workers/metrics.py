"""The worker's Prometheus metrics: the Temporal SDK's own, served by its Rust core.

Workflow and activity task latencies (schedule-to-start is the backlog a fleet needs to see),
slots in use, polls, failures and sticky-cache hits, as documented in Temporal's "SDK
metrics" reference, with the `temporal_` prefix. Durations are in seconds like the edge's
histograms, so a dashboard reads both alike.
"""

from __future__ import annotations

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

METRIC_PREFIX = "temporal_"


class MetricsExportError(RuntimeError):
    """The metrics endpoint cannot be served (the port is taken, the host is unknown)."""


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def metrics_runtime(host: str, port: int) -> Runtime:
    """A Temporal runtime whose metrics are served at http://host:port/metrics; clients
    (and the workers on them) connected with it report there."""
    address = bind_address(host, port)
    try:
        return Runtime(
            telemetry=TelemetryConfig(
                metrics=PrometheusConfig(bind_address=address, durations_as_seconds=True),
                metric_prefix=METRIC_PREFIX,
            )
        )
    except Exception as exc:  # the Rust core reports a bind failure as a plain exception
        raise MetricsExportError(
            f"cannot serve worker metrics on {address} (METRICS_HOST/--metrics-port): {exc}"
        ) from None

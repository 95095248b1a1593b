"""The worker's Prometheus metrics: the Temporal SDK's own, served by its Rust core.

Workflow and activity task latencies (schedule-to-start is the backlog a fleet needs to see),
slots in use, polls, failures and sticky-cache hits, as documented in Temporal's "SDK
metrics" reference, with the `temporal_` prefix. Durations are in seconds like the edge's
histograms, so a dashboard reads both alike.
"""

from __future__ import annotations

import ipaddress
import socket

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

METRIC_PREFIX = "temporal_"


class MetricsExportError(RuntimeError):
    """The metrics endpoint cannot be served (the port is taken, the host is unknown)."""


def bind_address(host: str, port: int) -> str:
    """`ip:port` for the SDK's exporter, which binds an address, not a name (METRICS_HOST may
    be either)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:
            ip = ipaddress.ip_address(socket.getaddrinfo(host, port)[0][4][0])
        except (OSError, ValueError) as exc:
            raise MetricsExportError(
                f"cannot serve worker metrics on {host} (METRICS_HOST): {exc}"
            ) from None
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


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


# The Core SDK's metrics as Temporal's "SDK metrics" reference documents them (with the
# prefix): the names a dashboard may rely on. Failure counters appear once something failed.
SDK_METRICS: frozenset[str] = frozenset(
    f"{METRIC_PREFIX}{name}"
    for name in (
        "request",
        "request_failure",
        "request_latency",
        "long_request",
        "long_request_failure",
        "long_request_latency",
        "workflow_completed",
        "workflow_failed",
        "workflow_canceled",
        "workflow_continue_as_new",
        "workflow_endtoend_latency",
        "workflow_task_queue_poll_succeed",
        "workflow_task_queue_poll_empty",
        "workflow_task_schedule_to_start_latency",
        "workflow_task_execution_latency",
        "workflow_task_replay_latency",
        "workflow_task_execution_failed",
        "activity_poll_no_task",
        "activity_schedule_to_start_latency",
        "activity_execution_latency",
        "activity_succeed_endtoend_latency",
        "activity_execution_failed",
        "activity_execution_cancelled",
        "local_activity_total",
        "local_activity_execution_latency",
        "local_activity_succeed_endtoend_latency",
        "local_activity_execution_failed",
        "local_activity_execution_cancelled",
        "sticky_cache_hit",
        "sticky_cache_miss",
        "sticky_cache_size",
        "sticky_cache_total_forced_eviction",
        "worker_task_slots_available",
        "worker_task_slots_used",
        "num_pollers",
    )
)
FAILURE_ONLY: frozenset[str] = frozenset(
    name
    for name in SDK_METRICS
    if name.endswith(("_failed", "_failure", "_cancelled", "_canceled", "_miss", "_eviction"))
    or name.endswith(("poll_empty", "poll_no_task", "_continue_as_new"))
)

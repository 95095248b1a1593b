"""Connecting to Temporal the same way everywhere: one data converter for pydantic models,
and the same TLS / API key settings for a local dev server, a cluster or Temporal Cloud."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from core.settings import ConfigurationError, Settings

DATA_CONVERTER = pydantic_data_converter


def tls_config(settings: Settings) -> TLSConfig | bool:
    """What `Client.connect(tls=...)` takes: False (plain gRPC, the local dev server), True
    (TLS with the system's roots: Temporal Cloud with an API key), or a TLSConfig with the
    client certificate, the CA and the server name from the TEMPORAL_TLS_* settings."""
    if not settings.temporal_uses_tls:
        return False
    if not (
        settings.temporal_tls_cert or settings.temporal_tls_ca or settings.temporal_tls_server_name
    ):
        return True
    return TLSConfig(
        server_root_ca_cert=_pem(settings.temporal_tls_ca, "TEMPORAL_TLS_CA"),
        domain=settings.temporal_tls_server_name,
        client_cert=_pem(settings.temporal_tls_cert, "TEMPORAL_TLS_CERT"),
        client_private_key=_pem(settings.temporal_tls_key, "TEMPORAL_TLS_KEY"),
    )


def _pem(path: Path | None, variable: str) -> bytes | None:
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"invalid configuration: {variable}: cannot read {path}: {exc.strerror or exc}"
        ) from None
    if b"-----BEGIN " not in data:
        raise ConfigurationError(f"invalid configuration: {variable}: {path} is not a PEM file")
    return data


async def connect(
    settings: Settings,
    *,
    address: str | None = None,
    interceptors: Sequence[Interceptor] = (),
    runtime: Runtime | None = None,
) -> Client:
    """`interceptors`: e.g. tracing (core/tracing.py); a worker built on this client uses
    those that are worker interceptors too. `runtime`: e.g. one exporting SDK metrics."""
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key,
        interceptors=interceptors,
        runtime=runtime,
    )


def ui_link(settings: Settings, workflow_id: str) -> str:
    host = settings.temporal_address.rsplit(":", 1)[0]
    return (
        f"http://{host}:{settings.temporal_ui_port}/namespaces/"
        f"{settings.temporal_namespace}/workflows/{workflow_id}"
    )

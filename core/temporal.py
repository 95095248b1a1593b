"""Connecting to Temporal the same way everywhere: one data converter for every client,
worker and replayer — pydantic models, encrypted with the payload keys when there are any —
and the same TLS / API key settings for a local dev server, a cluster or Temporal Cloud.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from temporalio.api.failure.v1 import Failure
from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter, DefaultFailureConverter, PayloadConverter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from core.payload_codec import EncryptionCodec
from core.payload_keys import PayloadKeys
from core.payload_keys_config import payload_keys_for
from core.refusal import Refusal
from core.settings import ConfigurationError, Settings


class EncryptedFailureConverter(DefaultFailureConverter):
    """Failures with their message and stack trace in an (encrypted) payload, except a
    `Refusal`, whose words are for the operator who sent the update (core/refusal.py)."""

    def __init__(self) -> None:
        super().__init__(encode_common_attributes=True)
        self._readable = DefaultFailureConverter()

    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure
    ) -> None:
        if isinstance(exception, Refusal):
            self._readable.to_failure(exception, payload_converter, failure)
        else:
            super().to_failure(exception, payload_converter, failure)


def data_converter(keys: PayloadKeys | None) -> DataConverter:
    """Pydantic payloads; with keys, every payload AES-GCM encrypted (core/payload_codec.py).

    With keys, failures carry their message and stack trace as an encrypted payload too
    (Temporal's "encoded attributes"): an activity's error text can quote what a caller
    said. The failure's type (`StoreUnavailable`, …) stays readable, and so does an update's
    `Refusal`.
    """
    return DataConverter(
        payload_converter_class=PydanticPayloadConverter,
        # Without keys the codec writes plaintext but still names the key of an encrypted
        # payload it cannot open, instead of handing ciphertext to the pydantic converter.
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=(EncryptedFailureConverter if keys else DefaultFailureConverter),
    )


def converter_for(settings: Settings) -> DataConverter:
    """The converter of this process's settings; raises ConfigurationError on bad keys."""
    return data_converter(payload_keys_for(settings))


def encrypts(converter: DataConverter) -> bool:
    codec = converter.payload_codec
    return isinstance(codec, EncryptionCodec) and codec.encrypting


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
    converter: DataConverter | None = None,
) -> Client:
    """`interceptors`: e.g. tracing (core/tracing.py); a worker built on this client uses
    those that are worker interceptors too. `runtime`: e.g. one exporting SDK metrics.
    `converter`: this process's (`converter_for(settings)` unless given)."""
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=converter or converter_for(settings),
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

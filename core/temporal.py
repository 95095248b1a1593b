"""Connecting to Temporal the same way everywhere: one data converter for every client,
worker and replayer — pydantic models, encrypted with the payload keys when there are any.
"""

from __future__ import annotations

from temporalio.api.failure.v1 import Failure
from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter, DefaultFailureConverter, PayloadConverter

from core.payload_codec import EncryptionCodec
from core.payload_keys import PayloadKeys
from core.payload_keys_config import payload_keys_for
from core.refusal import Refusal
from core.settings import Settings


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


async def connect(
    settings: Settings, *, address: str | None = None, converter: DataConverter | None = None
) -> Client:
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=converter or converter_for(settings),
    )


def ui_link(settings: Settings, workflow_id: str) -> str:
    host = settings.temporal_address.rsplit(":", 1)[0]
    return (
        f"http://{host}:{settings.temporal_ui_port}/namespaces/"
        f"{settings.temporal_namespace}/workflows/{workflow_id}"
    )

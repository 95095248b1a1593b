"""core/payload_codec.py and the data converter of core/temporal.py: what leaves a process
for Temporal is ciphertext under a key id; keys rotate; a payload that cannot be opened is
an error that names its key id, never garbage."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from core.payload_codec import (
    ENCODING,
    KEY_ID,
    NONCE_BYTES,
    EncryptionCodec,
    PayloadDecryptionError,
    is_encrypted,
)
from core.payload_keys import PayloadKeys, key_entry
from core.refusal import Refusal
from core.temporal import data_converter, encrypts

OLD = key_entry("2024", bytes(range(32)))
NEW = key_entry("2025", bytes(range(1, 33)))
CALLER = "Москва, улица Тверская, дом 7, кв. 12; +79161234567"


class Said(BaseModel):
    text: str
    phone: str


def keys(text: str, current: str | None = None) -> PayloadKeys:
    return PayloadKeys.parse(text, source="PAYLOAD_KEYS", current=current)


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def test_a_payload_becomes_ciphertext_under_the_current_key_id() -> None:
    codec = EncryptionCodec(keys(f"{OLD},{NEW}"))
    [sealed] = await codec.encode([plain(CALLER)])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"2025"
    assert set(sealed.metadata) == {"encoding", KEY_ID}, "the inner encoding is hidden too"
    assert CALLER.encode() not in sealed.data and b"json/plain" not in sealed.data
    assert b"79161234567" not in sealed.data
    [opened] = await codec.decode([sealed])
    assert opened == plain(CALLER)


async def test_the_same_payload_twice_is_two_different_ciphertexts() -> None:
    codec = EncryptionCodec(keys(NEW))
    first, second = await codec.encode([plain(CALLER), plain(CALLER)])
    assert first.data[:NONCE_BYTES] != second.data[:NONCE_BYTES]
    assert first.data != second.data


async def test_rotation_old_payloads_stay_readable_new_ones_use_the_new_key() -> None:
    [written_last_year] = await EncryptionCodec(keys(OLD)).encode([plain("старое")])
    rotated = EncryptionCodec(keys(f"{OLD},{NEW}"))
    assert await rotated.decode([written_last_year]) == [plain("старое")]
    [written_now] = await rotated.encode([plain("новое")])
    assert written_now.metadata[KEY_ID] == b"2025"
    with pytest.raises(PayloadDecryptionError, match="'2025', which is not configured"):
        await EncryptionCodec(keys(OLD)).decode([written_now])


async def test_an_unknown_key_id_is_named_with_the_configured_ones() -> None:
    [sealed] = await EncryptionCodec(keys(NEW)).encode([plain(CALLER)])
    with pytest.raises(PayloadDecryptionError) as info:
        await EncryptionCodec(keys(OLD)).decode([sealed])
    assert str(info.value) == (
        "payload encrypted with key id '2025', which is not configured "
        "(PAYLOAD_KEYS has: 2024); add that key to decrypt it"
    )


async def test_without_keys_plaintext_is_written_and_ciphertext_is_explained() -> None:
    codec = EncryptionCodec(None)
    assert not codec.encrypting
    assert await codec.encode([plain("x")]) == [plain("x")]
    [sealed] = await EncryptionCodec(keys(NEW)).encode([plain(CALLER)])
    with pytest.raises(PayloadDecryptionError, match=r"key id '2025'.*no PAYLOAD_KEYS"):
        await codec.decode([sealed])


async def test_a_different_key_under_the_same_id_or_an_altered_payload_fails() -> None:
    [sealed] = await EncryptionCodec(keys(NEW)).encode([plain(CALLER)])
    impostor = EncryptionCodec(keys(key_entry("2025", bytes(32))))
    with pytest.raises(PayloadDecryptionError, match="key id '2025' does not decrypt"):
        await impostor.decode([sealed])
    flipped = Payload()
    flipped.CopyFrom(sealed)
    flipped.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError, match="or the payload was altered"):
        await EncryptionCodec(keys(NEW)).decode([flipped])
    truncated = Payload(metadata=dict(sealed.metadata), data=sealed.data[:5])
    with pytest.raises(PayloadDecryptionError):
        await EncryptionCodec(keys(NEW)).decode([truncated])


async def test_moving_a_payload_under_another_key_id_fails() -> None:
    # Both ids hold the same key: only the authenticated key id tells them apart.
    same = bytes(range(32))
    codec = EncryptionCodec(keys(f"{key_entry('a', same)},{key_entry('b', same)}"))
    [sealed] = await codec.encode([plain(CALLER)])
    sealed.metadata[KEY_ID] = b"a"
    with pytest.raises(PayloadDecryptionError, match="'a' does not decrypt"):
        await codec.decode([sealed])


async def test_an_encrypted_payload_without_a_key_id_is_refused() -> None:
    bare = Payload(metadata={"encoding": ENCODING}, data=b"\x00" * 40)
    with pytest.raises(PayloadDecryptionError, match="no encryption-key-id"):
        await EncryptionCodec(keys(NEW)).decode([bare])


async def test_plaintext_from_before_encryption_passes_through() -> None:
    codec = EncryptionCodec(keys(NEW))
    assert await codec.decode([plain("recorded in 2024")]) == [plain("recorded in 2024")]


async def test_the_converter_round_trips_models_as_ciphertext() -> None:
    converter = data_converter(keys(NEW))
    assert encrypts(converter) and not encrypts(data_converter(None))
    [payload] = await converter.encode([Said(text=CALLER, phone="+79161234567")])
    assert is_encrypted(payload) and b"79161234567" not in payload.data
    assert await converter.decode([payload], [Said]) == [Said(text=CALLER, phone="+79161234567")]


async def test_failure_messages_are_encrypted_and_the_type_stays_readable() -> None:
    converter = data_converter(keys(NEW))
    failure = Failure()
    await converter.encode_failure(ApplicationError(f"no such street: {CALLER}", type="X"), failure)
    assert CALLER not in failure.message and CALLER not in failure.SerializeToString().decode(
        "utf-8", "replace"
    )
    assert failure.application_failure_info.type == "X"
    assert is_encrypted(failure.encoded_attributes)
    error = await converter.decode_failure(failure)
    assert isinstance(error, ApplicationError) and CALLER in error.message


async def test_a_refusal_stays_readable_for_the_operator_who_sent_the_update() -> None:
    converter = data_converter(keys(NEW))
    failure = Failure()
    await converter.encode_failure(Refusal("This call has no order to cancel."), failure)
    assert failure.message == "This call has no order to cancel."
    assert not failure.HasField("encoded_attributes")
    plain_failure = Failure()
    await converter.encode_failure(ValueError("Тверская, 7"), plain_failure)
    assert plain_failure.message == "Encoded failure", "any other error is encrypted"

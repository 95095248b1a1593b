"""AES-256-GCM for every payload written to Temporal, with the key id in the payload.

An encrypted payload is `{"encoding": "binary/encrypted", "encryption-key-id": <id>}` with
data = 12-byte nonce ‖ ciphertext ‖ 16-byte tag of the whole original payload (its metadata
too: the encoding names the type of what is inside). The key id is also authenticated (it is
the associated data), so moving a payload under another id fails like a wrong key does.

Decoding passes through a payload that is not `binary/encrypted`: histories recorded before
encryption, and input from a tool without the codec, stay readable. A payload that is
encrypted but cannot be decrypted raises `PayloadDecryptionError` naming the key id — never
garbage, never a silent pass-through.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from core.payload_keys import PayloadKeys

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
_AAD_PREFIX = b"voiceorder/payload/v1:"


class PayloadDecryptionError(RuntimeError):
    """An encrypted payload that these keys cannot open; the message names its key id."""


class EncryptionCodec(PayloadCodec):
    """Encrypts with the current key, decrypts with any configured one.

    Without keys (a dev setup that has none) it writes plaintext, and still explains an
    encrypted payload it meets instead of handing ciphertext to the converter.
    """

    def __init__(self, keys: PayloadKeys | None) -> None:
        self._ciphers = {key_id: AESGCM(key) for key_id, key in (keys.keys if keys else {}).items()}
        self._current = keys.current if keys else None
        self._source = keys.source if keys else "no PAYLOAD_KEYS"

    @property
    def encrypting(self) -> bool:
        return self._current is not None

    @property
    def current_key_id(self) -> str | None:
        return self._current

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if self._current is None:
            return list(payloads)
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._current
        if key_id is None:
            raise PayloadDecryptionError("no payload key to encrypt with")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), _aad(key_id))
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        raw_id = payload.metadata.get(KEY_ID)
        if raw_id is None:
            raise PayloadDecryptionError(f"an encrypted payload has no {KEY_ID} in its metadata")
        key_id = raw_id.decode("utf-8", errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            have = (
                f"{self._source} has: {', '.join(self._ciphers)}" if self._ciphers else self._source
            )
            raise PayloadDecryptionError(
                f"payload encrypted with key id {key_id!r}, which is not configured "
                f"({have}); add that key to decrypt it"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, _aad(key_id))
        except (InvalidTag, ValueError):
            raise PayloadDecryptionError(
                f"payload with key id {key_id!r} does not decrypt: the key configured under "
                "that id is not the one that encrypted it, or the payload was altered"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == ENCODING


def _aad(key_id: str) -> bytes:
    return _AAD_PREFIX + key_id.encode()

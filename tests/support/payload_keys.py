"""The test suite's payload key: fixed, committed, and therefore no secret at all.

That is fine because it protects nothing real: the tests' callers are the demo personas of
store_api/seed, and histories recorded under tests/histories/ with it must replay on every
checkout, so the key has to travel with them. Production keys come from PAYLOAD_KEYS or
PAYLOAD_KEYS_FILE and are never this one (a test checks that `voiceorder payload-keys new`
makes a different key every time).

Every Temporal server, client, worker and replayer of the tests uses TEST_DATA_CONVERTER (the
same `core.temporal.data_converter` production uses, with this key); subprocesses get the key
through `key_env()`.
"""

from __future__ import annotations

from core.payload_keys import PayloadKeys
from core.temporal import data_converter

TEST_KEY_ID = "test-key-1"
# base64(sha256("voiceorder tests: not a secret"))
TEST_PAYLOAD_KEYS_TEXT = f"{TEST_KEY_ID}:aoQJDHlyZWrR6uZhr9np2WDaN2de64BWAzHuuFw0IYk="
TEST_PAYLOAD_KEYS = PayloadKeys.parse(TEST_PAYLOAD_KEYS_TEXT, source="the test key")
TEST_DATA_CONVERTER = data_converter(TEST_PAYLOAD_KEYS)


def key_env() -> dict[str, str]:
    """Environment for a `voiceorder` subprocess that talks to the tests' Temporal."""
    return {"PAYLOAD_KEYS": TEST_PAYLOAD_KEYS_TEXT, "PAYLOAD_KEYS_FILE": "", "PAYLOAD_KEY_ID": ""}

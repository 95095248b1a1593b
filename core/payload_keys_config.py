"""Which payload keys this process uses: PAYLOAD_KEYS, PAYLOAD_KEYS_FILE, or the local key.

The local key is the file `voiceorder up` makes in DATA_DIR on its first start, so `./dev
chat`, `./dev ops` and `./dev history` next to a running `./dev up` read and write what its
worker does without any setting. Production (STORE_API_MODE=prod) never falls back to it
and refuses to run without configured keys; elsewhere no key at all means plaintext
payloads, which `connect_or_explain` warns about.
"""

from __future__ import annotations

from pathlib import Path

from core.payload_keys import PayloadKeys, PayloadKeysError
from core.settings import ConfigurationError, Settings

LOCAL_KEY_FILE = "payload-keys"


def local_key_file(settings: Settings) -> Path:
    return settings.data_dir / LOCAL_KEY_FILE


def payload_keys_for(settings: Settings) -> PayloadKeys | None:
    """The configured keys, or None (plaintext) outside prod; ConfigurationError if wrong."""
    current = settings.payload_key_id
    try:
        if settings.payload_keys is not None:
            text = settings.payload_keys.get_secret_value()
            return PayloadKeys.parse(text, source="PAYLOAD_KEYS", current=current)
        if settings.payload_keys_file is not None:
            return PayloadKeys.from_file(settings.payload_keys_file, current=current)
        local = local_key_file(settings)
        if not settings.production and local.is_file():
            return PayloadKeys.from_file(local, current=current)
    except PayloadKeysError as exc:
        raise ConfigurationError(f"invalid configuration: {exc}") from None
    if settings.production:
        raise ConfigurationError(
            "STORE_API_MODE=prod needs payload keys: set PAYLOAD_KEYS or PAYLOAD_KEYS_FILE "
            "(make a key with `voiceorder payload-keys new`; see docs/privacy.md)"
        )
    if current:
        raise ConfigurationError(
            f"PAYLOAD_KEY_ID is {current!r} but no keys are configured "
            "(PAYLOAD_KEYS or PAYLOAD_KEYS_FILE)"
        )
    return None

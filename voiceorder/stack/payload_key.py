"""The payload key of the local stack: configured ones win, else a local key in DATA_DIR.

`voiceorder up` makes the local key on its first start (and after `--reset`, which deletes
the history it protected) and hands it to every child as PAYLOAD_KEYS_FILE; client commands
next to the stack find the same file through DATA_DIR (core/payload_keys_config.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.payload_keys import create_key_file, dated_key_id
from core.payload_keys_config import LOCAL_KEY_FILE, payload_keys_for
from core.settings import ConfigurationError, Settings


@dataclass(frozen=True)
class StackKeys:
    local_file: Path | None  # None: PAYLOAD_KEYS or PAYLOAD_KEYS_FILE, passed on as they are
    created: bool
    current: str


def prepare_stack_keys(settings: Settings, data_dir: Path) -> StackKeys:
    """Check configured keys, or make (once) and check the local one; raises
    ConfigurationError when keys are wrong, or missing in prod mode."""
    if settings.payload_keys is not None or settings.payload_keys_file is not None:
        keys = payload_keys_for(settings)
        assert keys is not None
        return StackKeys(None, False, keys.current)
    if settings.production:
        payload_keys_for(settings)  # raises: prod mode needs configured keys
    local = data_dir / LOCAL_KEY_FILE
    created = create_key_file(local, dated_key_id("local"))
    keys = payload_keys_for(settings.model_copy(update={"payload_keys_file": local}))
    if keys is None:  # pragma: no cover - a key file always gives keys or an error
        raise ConfigurationError(f"no key in {local}")
    return StackKeys(local, created, keys.current)

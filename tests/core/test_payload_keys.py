"""core/payload_keys.py and core/payload_keys_config.py: the text form of the keys, checked
with messages that name the entry and never the key; where a process finds its keys."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from core.payload_keys import (
    PayloadKeys,
    PayloadKeysError,
    create_key_file,
    key_entry,
    new_key,
    parse_key_entries,
)
from core.payload_keys_config import LOCAL_KEY_FILE, payload_keys_for
from core.settings import ConfigurationError, Settings, StoreApiMode

K1 = bytes(range(32))
K2 = bytes(range(32, 64))
SECRET_B64 = base64.b64encode(K1).decode()


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_entries_in_order_and_the_last_one_encrypts() -> None:
    keys = PayloadKeys.parse(f"{key_entry('old', K1)},{key_entry('new', K2)}", source="X")
    assert list(keys.keys) == ["old", "new"]
    assert keys.keys["old"] == K1 and keys.current == "new"
    assert K1.hex() not in repr(keys) and SECRET_B64 not in repr(keys)


def test_payload_key_id_picks_an_older_key() -> None:
    text = f"{key_entry('old', K1)},{key_entry('new', K2)}"
    assert PayloadKeys.parse(text, source="X", current="old").current == "old"


def test_a_key_id_that_is_not_configured_is_named_with_the_ones_that_are() -> None:
    with pytest.raises(PayloadKeysError, match=r"'gone'.*it has: old, new"):
        PayloadKeys.parse(
            f"{key_entry('old', K1)},{key_entry('new', K2)}", source="X", current="gone"
        )


def test_file_form_allows_comments_blank_lines_and_urlsafe_base64(tmp_path: Path) -> None:
    urlsafe = base64.urlsafe_b64encode(bytes([251] * 32)).decode().rstrip("=")
    path = tmp_path / "keys"
    path.write_text(f"# rotated yearly\n\n{key_entry('y2024', K1)}\ny2025:{urlsafe}  # newest\n")
    keys = PayloadKeys.from_file(path)
    assert keys.current == "y2025" and keys.keys["y2025"] == bytes([251] * 32)
    assert keys.source == str(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no key in it"),
        ("k1", "entry 1 is not `id:base64key`"),
        (f"k1:{SECRET_B64},k2", "entry 2 is not `id:base64key`"),
        (f"bad id:{SECRET_B64}", "entry 1 ('bad id'): a key id is"),
        (f":{SECRET_B64}", "entry 1 (''): a key id is"),
        ("k1:not*base64!", "entry 1 ('k1'): is not base64"),
        (f"k1:{base64.b64encode(bytes(16)).decode()}", "the key is 16 bytes, AES-256 needs 32"),
        (f"k1:{SECRET_B64},k1:{SECRET_B64}", "entry 2: key id 'k1' is listed twice"),
    ],
)
def test_bad_entries_are_named_without_the_key(text: str, problem: str) -> None:
    with pytest.raises(PayloadKeysError) as info:
        parse_key_entries(text)
    assert problem in str(info.value)
    assert SECRET_B64 not in str(info.value)


def test_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# comment\n{key_entry('a', K1)}\nb:{base64.b64encode(bytes(8)).decode()}\n")
    with pytest.raises(PayloadKeysError, match=rf"^{path}: line 3 \('b'\): the key is 8 bytes"):
        PayloadKeys.from_file(path)
    with pytest.raises(PayloadKeysError, match="does not exist"):
        PayloadKeys.from_file(tmp_path / "missing")


def test_new_keys_are_random_and_the_committed_test_key_is_not_one_of_them() -> None:
    from tests.support.payload_keys import TEST_PAYLOAD_KEYS

    made = {new_key() for _ in range(50)}
    assert len(made) == 50 and all(len(k) == 32 for k in made)
    assert TEST_PAYLOAD_KEYS.keys[TEST_PAYLOAD_KEYS.current] not in made


def test_a_key_file_is_made_once_for_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "payload-keys"
    assert create_key_file(path, "local-1")
    first = path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not create_key_file(path, "local-2"), "an existing key is never replaced"
    assert path.read_text() == first
    assert PayloadKeys.from_file(path).current == "local-1"


# --- where a process finds its keys ------------------------------------------------------


def test_payload_keys_win(tmp_path: Path) -> None:
    keys = payload_keys_for(settings(tmp_path, payload_keys=key_entry("env", K1)))
    assert keys is not None and keys.current == "env" and keys.source == "PAYLOAD_KEYS"


def test_a_keys_file(tmp_path: Path) -> None:
    path = tmp_path / "secret-keys"
    path.write_text(key_entry("file", K1))
    keys = payload_keys_for(settings(tmp_path, payload_keys_file=path))
    assert keys is not None and keys.current == "file"


def test_the_local_key_of_voiceorder_up_outside_prod(tmp_path: Path) -> None:
    assert payload_keys_for(settings(tmp_path)) is None, "no key anywhere: plaintext in dev"
    create_key_file(tmp_path / LOCAL_KEY_FILE, "local-1")
    keys = payload_keys_for(settings(tmp_path))
    assert keys is not None and keys.current == "local-1"


def test_prod_needs_configured_keys_and_ignores_a_local_one(tmp_path: Path) -> None:
    create_key_file(tmp_path / LOCAL_KEY_FILE, "local-1")
    prod = settings(tmp_path, store_api_mode=StoreApiMode.PROD)
    with pytest.raises(ConfigurationError, match="STORE_API_MODE=prod needs payload keys"):
        payload_keys_for(prod)
    keys = payload_keys_for(
        prod.model_copy(update={"payload_keys": SecretStr(key_entry("prod", K1))})
    )
    assert keys is not None and keys.current == "prod"


def test_a_broken_keys_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("nonsense\n")
    with pytest.raises(ConfigurationError, match=r"invalid configuration: .*line 1 is not"):
        payload_keys_for(settings(tmp_path, payload_keys_file=path))


def test_a_key_id_without_keys_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="PAYLOAD_KEY_ID is 'k9' but no keys"):
        payload_keys_for(settings(tmp_path, payload_key_id="k9"))

"""The keys that encrypt Temporal payloads: their text form, checked, and new ones.

A key list is `id:base64key` entries, oldest first, separated by commas or new lines (the
file form also allows blank lines and `#` comments). Each key is 32 random bytes (AES-256);
the id travels in every encrypted payload, so a key can be retired only once no history that
anyone still reads was written with it. Messages name entries by position, never by value:
a key must not end up in a log line or a terminal scroll-back.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

KEY_BYTES = 32
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class PayloadKeysError(ValueError):
    """A key list, a key file or PAYLOAD_KEY_ID is wrong; the message says where, not the key."""


def check_key_id(key_id: str) -> str:
    if _KEY_ID.fullmatch(key_id) is None:
        raise PayloadKeysError(
            "a key id is 1–64 characters of A-Z, a-z, 0-9, `.`, `_`, `-`, starting with a "
            "letter or digit"
        )
    return key_id


def _decode_key(text: str) -> bytes:
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadKeysError("is not base64") from None


def parse_key_entries(text: str, *, where: str = "entry") -> dict[str, bytes]:
    """`id:base64key` entries (commas or new lines between them) → id → key, in order."""
    keys: dict[str, bytes] = {}
    entries = [
        (number, entry.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        for entry in line.split("#", 1)[0].split(",")
    ]
    position = 0
    for line_number, entry in entries:
        if not entry:
            continue
        position += 1
        label = f"line {line_number}" if where == "line" else f"entry {position}"
        key_id, sep, encoded = entry.partition(":")
        if not sep:
            raise PayloadKeysError(f"{label} is not `id:base64key`")
        try:
            check_key_id(key_id.strip())
            key = _decode_key(encoded)
        except PayloadKeysError as exc:
            raise PayloadKeysError(f"{label} ({key_id.strip()!r}): {exc}") from None
        if len(key) != KEY_BYTES:
            raise PayloadKeysError(
                f"{label} ({key_id.strip()!r}): the key is {len(key)} bytes, AES-256 needs "
                f"{KEY_BYTES} (make one with `voiceorder payload-keys new`)"
            )
        if key_id.strip() in keys:
            raise PayloadKeysError(f"{label}: key id {key_id.strip()!r} is listed twice")
        keys[key_id.strip()] = key
    if not keys:
        raise PayloadKeysError("no key in it")
    return keys


@dataclass(frozen=True)
class PayloadKeys:
    """Every key that may decrypt, and the one that encrypts new payloads."""

    keys: Mapping[str, bytes] = field(repr=False)
    current: str
    source: str  # where they came from, for messages: "PAYLOAD_KEYS", a file path, …

    def __post_init__(self) -> None:
        if not self.keys:
            raise PayloadKeysError(f"{self.source}: no key in it")
        if self.current not in self.keys:
            raise PayloadKeysError(
                f"PAYLOAD_KEY_ID is {self.current!r}, but {self.source} has no such key "
                f"(it has: {', '.join(self.keys)})"
            )

    @classmethod
    def parse(
        cls, text: str, *, source: str, current: str | None = None, by_line: bool = False
    ) -> PayloadKeys:
        """Keys from their text form; without `current`, new payloads use the last key.
        Messages count entries, or lines (`by_line`) for a file."""
        try:
            keys = parse_key_entries(text, where="line" if by_line else "entry")
        except PayloadKeysError as exc:
            raise PayloadKeysError(f"{source}: {exc}") from None
        return cls(keys, current or list(keys)[-1], source)

    @classmethod
    def from_file(cls, path: Path, *, current: str | None = None) -> PayloadKeys:
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            raise PayloadKeysError(f"PAYLOAD_KEYS_FILE {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PayloadKeysError(f"cannot read PAYLOAD_KEYS_FILE {path}: {exc}") from None
        return cls.parse(text, source=str(path), current=current, by_line=True)


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def key_entry(key_id: str, key: bytes) -> str:
    """The text form of one key: `id:base64key`."""
    return f"{check_key_id(key_id)}:{base64.b64encode(key).decode('ascii')}"


def dated_key_id(prefix: str, now: dt.datetime | None = None) -> str:
    """An id that says when the key was made, e.g. `local-20250301`: rotation reads well."""
    return f"{prefix}-{(now or dt.datetime.now(dt.UTC)):%Y%m%d}"


def create_key_file(path: Path, key_id: str) -> bool:
    """Write a new one-key file readable only by its owner; False if one is there already.

    Made with O_EXCL: two processes starting at once cannot write two different keys.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(
            "# Keys that encrypt this stack's Temporal payloads (voiceorder up made it).\n"
            "# Deleting it makes every call recorded so far unreadable. Newest key last.\n"
            f"{key_entry(key_id, new_key())}\n"
        )
    return True

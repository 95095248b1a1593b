"""Text and JSON as PostgreSQL will store them.

PostgreSQL `text` cannot hold NUL, `jsonb` refuses `\\u0000`, NaN and Infinity, and a lone
surrogate cannot be encoded as UTF-8 at all. Caller text is cleaned where it enters
(core/caller_text.py), but records also carry what the LLM wrote (replies, tool arguments,
reasons) and what a tool returned. A refused row would be a record lost, so the writers pass
every value through here first: the few unstorable characters become U+FFFD, visibly.
"""

from __future__ import annotations

import math
import re

from pydantic import JsonValue

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    """`text` with NUL and lone surrogates replaced by U+FFFD (everything else kept)."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def storable_optional(text: str | None) -> str | None:
    return None if text is None else storable_text(text)


def storable_json(value: JsonValue) -> JsonValue:
    """`value` with every string (keys too) storable and non-finite numbers as null."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [storable_json(item) for item in value]
    if isinstance(value, dict):
        return {storable_text(key): storable_json(item) for key, item in value.items()}
    return value

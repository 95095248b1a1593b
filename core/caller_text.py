"""Caller text as it may enter the system: what STT, a keypad or a test script hands over is
cleaned before anything stores, logs or forwards it.

PostgreSQL text cannot hold NUL, JSON cannot hold a lone surrogate, and control characters
have no business in a transcript or an LLM prompt; none of them must ever fail a call.
"""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls, DEL, and the Unicode separators and format characters that render as
# nothing (zero-width spaces, bidi overrides that could hide text in the Web UI).
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"\s+")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_caller_text(text: str) -> str:
    """One line of printable text: controls become spaces, lone surrogates and other
    unencodable code points are dropped, runs of space collapse, NFC normalised."""
    encodable = text.encode("utf-8", "ignore").decode("utf-8")
    visible = _INVISIBLE.sub(" ", encodable)
    return _SPACES.sub(" ", unicodedata.normalize("NFC", visible)).strip()


def utf8_safe(text: str) -> str:
    """`text` as UTF-8 (and so JSON, and so Temporal) can carry it: a lone surrogate — which
    only a broken `\\udXXX` escape in some service's JSON produces — becomes U+FFFD. Anything
    else is kept; cleaning is the receiver's job."""
    return _LONE_SURROGATE.sub("\ufffd", text)

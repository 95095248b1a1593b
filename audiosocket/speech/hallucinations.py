"""Whisper's well-known Russian hallucinations, dropped from transcripts.

Whisper models were trained on subtitled video; on noise, breath or a clipped word they
often "hear" a subtitle credit or a sign-off. No caller says these to a shop's phone line,
so a sentence that is one of them is removed (and a transcript of nothing else becomes '').
"""

from __future__ import annotations

import re
from typing import Final

_PATTERNS: Final = re.compile(
    r"субтитр|dimatorzok|продолжение следует|спасибо за просмотр|подписывайтесь на"
    r"|корректор а\.|редактор субтитров|ставьте лайк",
    re.IGNORECASE,
)
_SENTENCE: Final = re.compile(r"[^.!?…]+[.!?…]*")


def drop_hallucinations(text: str) -> str:
    """`text` without the sentences that are known hallucinations, whitespace tidied."""
    if not _PATTERNS.search(text):
        return text.strip()
    kept = [s.strip() for s in _SENTENCE.findall(text) if not _PATTERNS.search(s)]
    return " ".join(s for s in kept if s)

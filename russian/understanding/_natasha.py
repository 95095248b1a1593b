"""natasha's address extractor, loaded once per process (its morphology takes ~0.3–1 s)."""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_extractor: Any = None


def addr_extractor() -> Any:
    """The shared `natasha.AddrExtractor` (untyped: natasha ships no type hints)."""
    global _extractor
    extractor = _extractor
    if extractor is None:
        with _lock:
            if _extractor is None:
                # Imported here: importing natasha alone costs ~0.2 s that a process using
                # only intents or numbers should not pay.
                from natasha import AddrExtractor, MorphVocab

                _extractor = AddrExtractor(MorphVocab())
            extractor = _extractor
    return extractor

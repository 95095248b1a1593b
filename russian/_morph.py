"""The one pymorphy3 analyzer of the process, created on first use."""

from __future__ import annotations

import threading

import pymorphy3  # type: ignore[import-untyped]
import pymorphy3_dicts_ru  # type: ignore[import-untyped]

_lock = threading.Lock()
_analyzer: pymorphy3.MorphAnalyzer | None = None


def morph() -> pymorphy3.MorphAnalyzer:
    """The shared analyzer; loading it reads the dictionaries (~0.1 s), so it happens once."""
    global _analyzer
    analyzer = _analyzer
    if analyzer is None:
        with _lock:
            if _analyzer is None:
                # An explicit path: pymorphy3 would otherwise consult PYMORPHY2_DICT_PATH, and
                # workflow code must not depend on the environment.
                _analyzer = pymorphy3.MorphAnalyzer(path=pymorphy3_dicts_ru.get_path(), lang="ru")
            analyzer = _analyzer
    return analyzer


def warm_up() -> None:
    """Load the dictionaries now (worker start) rather than inside the first workflow turn."""
    morph()

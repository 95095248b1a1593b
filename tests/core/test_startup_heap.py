"""The start-up heap is frozen out of the garbage collector's full passes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from core.startup_heap import freeze_startup_heap


@pytest.fixture
def unfrozen_after() -> Iterator[None]:
    yield
    gc.unfreeze()  # the test process must not keep what this test froze


@pytest.mark.usefixtures("unfrozen_after")
def test_what_was_loaded_is_frozen_and_later_garbage_still_collected() -> None:
    loaded = [[i] for i in range(10_000)]  # stands for the dictionaries loaded at start-up
    freeze_startup_heap()
    assert gc.get_freeze_count() >= len(loaded)
    cycle: list[object] = []
    cycle.append(cycle)  # garbage made after the freeze is still found
    del cycle
    assert gc.collect() >= 1

"""The heap trimmer: after calls end, freed memory goes back to the system, at most once an
interval (the real `malloc_trim` on this glibc box, and a recording one for the timing)."""

from __future__ import annotations

import asyncio

from audiosocket.memory import HeapTrimmer


async def test_calls_ending_trim_the_heap_at_most_once_an_interval() -> None:
    trims: list[int] = []

    def trim(pad: int) -> int:
        trims.append(pad)
        return 1

    trimmer = HeapTrimmer(min_interval_s=0.2, trim=trim)
    trimmer.calls_ended()
    trimmer.calls_ended()  # a burst of calls ending: one trim
    await asyncio.sleep(0.05)
    assert trims == [0] and trimmer.trims == 1
    await asyncio.sleep(0.2)
    trimmer.calls_ended()
    await asyncio.sleep(0.05)
    assert trims == [0, 0]
    await trimmer.close()


async def test_the_real_malloc_trim_runs_here() -> None:
    trimmer = HeapTrimmer()
    assert trimmer.available  # glibc, as on the development box and in the image
    trimmer.calls_ended()
    await asyncio.sleep(0.1)
    assert trimmer.trims == 1
    await trimmer.close()


async def test_a_failing_trim_is_logged_not_raised() -> None:
    def broken(pad: int) -> int:
        raise OSError("no heap")

    trimmer = HeapTrimmer(trim=broken)
    trimmer.calls_ended()
    await asyncio.sleep(0.05)
    assert trimmer.trims == 0
    await trimmer.close()

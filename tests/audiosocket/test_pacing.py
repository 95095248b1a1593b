"""The 20 ms send clock and the outbound frame queue, with explicit times (no sleeping)."""

from __future__ import annotations

import pytest

from audiosocket.pacing import (
    FRAME_SECONDS,
    MAX_AHEAD_SECONDS,
    FrameSource,
    SendClock,
    frame_bytes,
)


def test_frame_sizes() -> None:
    assert frame_bytes(8000) == 320
    assert frame_bytes(16000) == 640
    assert frame_bytes(44100) == 1764
    with pytest.raises(ValueError, match="whole 20 ms"):
        frame_bytes(11025)


def test_clock_is_absolute() -> None:
    clock = SendClock(100.0, lead=0.0)
    assert clock.delay(100.0) == 0
    assert clock.take(100.0) == 0
    assert clock.delay(100.0) == pytest.approx(FRAME_SECONDS)
    # A frame sent a little late does not shift the following slots.
    assert clock.take(100.023) == 1
    assert clock.due(2) == pytest.approx(100.040)
    assert clock.delay(100.030) == pytest.approx(0.010)
    assert clock.stats.late == 0  # 3 ms is within tolerance


def test_lead_bounds_how_far_ahead() -> None:
    clock = SendClock(0.0, lead=0.04)
    sent_at_start = 0
    while clock.delay(0.0) == 0:
        clock.take(0.0)
        sent_at_start += 1
    assert sent_at_start == 3  # frames 0, 1, 2: 40 ms ahead, no more
    with pytest.raises(ValueError, match="lead"):
        SendClock(0.0, lead=MAX_AHEAD_SECONDS + 0.01)


def test_stall_skips_instead_of_bursting() -> None:
    clock = SendClock(0.0, lead=0.0)
    clock.take(0.0)
    # The event loop stalled for ~200 ms: the next frame goes into the current slot.
    slot = clock.take(0.207)
    assert slot == 10
    assert clock.stats.skipped == 9
    assert clock.stats.late == 1
    assert clock.delay(0.207) == pytest.approx(0.013)


def test_speech_after_silence_starts_now_and_silence_settles_the_grid_back() -> None:
    clock = SendClock(0.0, lead=0.0)
    clock.take(0.0)  # silence at 0 ms; the next slot is at 20 ms
    # Speech queued at 7 ms goes at once instead of waiting 13 ms for its slot...
    assert clock.start_now(0.007)
    assert clock.delay(0.007) == 0
    assert clock.take(0.007) == 1
    assert clock.stats.late == 0
    # ...and the rest of it follows on the moved grid, 20 ms apart.
    assert clock.delay(0.007) == pytest.approx(FRAME_SECONDS)
    assert not clock.start_now(0.010)  # at most one interval ahead of the call's own grid
    clock.take(0.027)
    clock.settle()  # silence again: the next slot is the original grid's (60 ms, not 47)
    assert clock.due(clock.index) == pytest.approx(0.060)
    assert clock.advanced == 0


def test_speech_due_soon_anyway_waits_for_its_slot() -> None:
    clock = SendClock(0.0, lead=0.0)
    clock.take(0.0)
    assert not clock.start_now(0.019)  # 1 ms to its slot: the grid stays
    assert clock.due(1) == pytest.approx(FRAME_SECONDS)


def test_an_idle_source_says_when_speech_arrives() -> None:
    source = FrameSource(8000)
    started: list[int] = []
    source.on_speech = lambda: started.append(source.queued_bytes)
    source.enqueue(b"\x01\x00" * 100)  # idle → speech
    source.enqueue(b"\x01\x00" * 400)  # more speech: not a start
    assert started == [200]
    while not source.idle:
        source.next_frame()
    source.enqueue(b"\x01\x00" * 160)
    assert started == [200, 320]


def test_source_splits_and_pads() -> None:
    source = FrameSource(8000)
    assert source.idle
    assert source.next_frame() == bytes(320)
    source.enqueue(b"\x01\x00" * 200)  # 400 bytes: one frame and an 80-byte tail
    assert source.queued_seconds == pytest.approx(0.025)
    assert source.next_frame() == b"\x01\x00" * 160
    assert source.next_frame() == b"\x01\x00" * 40 + bytes(240)
    assert source.idle
    assert source.next_frame() == bytes(320)


def test_streamed_chunks_join_without_gaps() -> None:
    source = FrameSource(16000)
    source.enqueue(b"\x02\x00" * 100)
    source.enqueue(b"\x02\x00" * 220)
    assert source.next_frame() == b"\x02\x00" * 320
    assert source.idle


def test_clear_switches_to_silence_at_once() -> None:
    source = FrameSource(16000)
    source.enqueue(b"\x03\x00" * 3000)
    assert source.next_frame() != source.silence
    assert source.clear() == 9  # 8 whole frames and a tail left
    assert source.next_frame() == bytes(640)


def test_source_refuses_odd_pcm() -> None:
    with pytest.raises(ValueError, match="odd"):
        FrameSource(8000).enqueue(b"\x00")

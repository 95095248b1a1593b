"""edge-pacing: which gaps in the bot's audio the callers' own stalled loop explains."""

from __future__ import annotations

from bench.edge_pacing import Summary
from bench.edge_pacing_callers import analyse

FRAME = b"\x00\x01" * 160  # 20 ms at 8 kHz, not silence


def a_call_with_a_gap(gap_s: float) -> list[tuple[float, bytes]]:
    """Frames every 20 ms for a second, then none for `gap_s`, then every 20 ms again."""
    before = [(0.02 * i, FRAME) for i in range(50)]
    after_start = before[-1][0] + gap_s
    return before + [(after_start + 0.02 * i, FRAME) for i in range(20)]


def test_a_gap_is_the_callers_only_when_their_stall_overlaps_it_and_covers_enough() -> None:
    call = analyse(0.0, a_call_with_a_gap(0.12), 8000, None)
    assert [round(gap) for gap in call.gaps_ms] == [120]
    gap_end = call.gaps_end_at[0]

    def summary(*lag: tuple[float, float]) -> Summary:
        return Summary.of([call], list(lag))

    # the callers' loop woke 80 ms late just before the frame after the gap: 120 - 80 ≤ 60
    explained = summary((gap_end - 0.005, 80.0))
    assert (explained.gaps_callers_stalled, explained.max_gap_not_callers_ms) == (1, 0.0)
    # as late, but half a second earlier: not during the gap
    elsewhere = summary((gap_end - 0.5, 80.0))
    assert (elsewhere.gaps_callers_stalled, elsewhere.max_gap_not_callers_ms) == (0, 120.0)
    # during the gap but too short to explain it: 120 - 30 > 60
    short = summary((gap_end - 0.005, 30.0))
    assert short.gaps_callers_stalled == 0
    assert (short.callers_lag_p99_ms, short.callers_lag_max_ms) == (30.0, 30.0)


def test_no_gap_no_lag() -> None:
    call = analyse(0.0, [(0.02 * i, FRAME) for i in range(100)], 8000, None)
    quiet = Summary.of([call], [])
    assert (quiet.gaps, quiet.gaps_callers_stalled, quiet.callers_lag_max_ms) == (0, 0, 0.0)

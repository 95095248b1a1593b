"""Key presses: one report per key across AudioSocket and ARI, and the grouping rules of
dialog.md (0 and * alone at once, 1 at confirmation, order numbers until a pause or #)."""

from __future__ import annotations

from audiosocket.dtmf import DigitCollector, DtmfDeduper, DtmfSource
from core.vocabulary import Stage

AS, ARI = DtmfSource.AUDIOSOCKET, DtmfSource.ARI


def test_a_key_reported_by_both_sources_counts_once_in_either_order() -> None:
    dedupe = DtmfDeduper(window_s=0.5)
    assert dedupe.accept("5", AS, 10.00)
    assert not dedupe.accept("5", ARI, 10.01)
    assert dedupe.accept("7", ARI, 11.00)
    assert not dedupe.accept("7", AS, 11.02)


def test_the_same_key_pressed_twice_is_two_presses() -> None:
    dedupe = DtmfDeduper(window_s=0.5)
    # each press reported by both sources, the second press 200 ms after the first
    assert [
        dedupe.accept("1", AS, 0.00),
        dedupe.accept("1", ARI, 0.01),
        dedupe.accept("1", AS, 0.20),
        dedupe.accept("1", ARI, 0.21),
    ] == [True, False, True, False]
    # the second press reported by ARI first: the first press's reports are already a pair
    swapped = DtmfDeduper(window_s=0.5)
    assert [
        swapped.accept("1", AS, 0.00),
        swapped.accept("1", ARI, 0.01),
        swapped.accept("1", ARI, 0.20),
        swapped.accept("1", AS, 0.21),
    ] == [True, False, True, False]
    # one source only (no ARI): quick repeats are all kept
    solo = DtmfDeduper(window_s=0.5)
    assert [solo.accept("2", AS, t) for t in (0.0, 0.1, 0.2)] == [True, True, True]


def test_a_late_second_report_is_a_new_press() -> None:
    dedupe = DtmfDeduper(window_s=0.5)
    assert dedupe.accept("3", AS, 0.0)
    assert dedupe.accept("3", ARI, 0.9)


def test_zero_and_star_alone_act_at_once() -> None:
    keys = DigitCollector()
    assert keys.press("0", 0.0, stage=Stage.LISTENING) == "0"
    assert keys.press("*", 1.0, stage=Stage.DRAFTING) == "*"
    assert keys.pending == ""


def test_one_is_a_yes_only_at_confirmation() -> None:
    keys = DigitCollector(inter_digit_s=2.0)
    assert keys.press("1", 0.0, stage=Stage.AWAITING_CONFIRMATION) == "1"
    assert keys.press("1", 1.0, stage=Stage.LISTENING) is None
    assert keys.pending == "1"


def test_an_order_number_is_sent_after_the_pause() -> None:
    keys = DigitCollector(inter_digit_s=2.0)
    for at, digit in enumerate("100245"):
        assert keys.press(digit, at * 0.5, stage=Stage.LISTENING) is None
    assert keys.due(2.5 + 1.9) is None  # the pause is not over yet
    assert keys.due(2.5 + 2.0) == "100245"
    assert keys.due(10.0) is None


def test_hash_ends_the_number_and_star_restarts_it() -> None:
    keys = DigitCollector()
    keys.press("9", 0.0, stage=None)
    keys.press("9", 0.1, stage=None)
    assert keys.press("*", 0.2, stage=None) is None  # typed wrong: start over
    assert keys.pending == ""
    for digit in "1002":
        keys.press(digit, 0.3, stage=None)
    assert keys.press("#", 0.4, stage=None) == "1002"
    assert keys.press("#", 0.5, stage=None) is None  # nothing typed: nothing sent


def test_zero_inside_a_number_is_a_digit() -> None:
    keys = DigitCollector()
    keys.press("1", 0.0, stage=Stage.LISTENING)
    assert keys.press("0", 0.1, stage=Stage.LISTENING) is None
    assert keys.pending == "10"


def test_twenty_digits_are_sent_without_waiting_and_letters_are_ignored() -> None:
    keys = DigitCollector(max_digits=20)
    assert keys.press("A", 0.0, stage=None) is None
    sent = [keys.press("7", i * 0.1, stage=None) for i in range(20)]
    assert sent[:-1] == [None] * 19 and sent[-1] == "7" * 20

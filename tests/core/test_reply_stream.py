"""The edge's per-turn rules for streamed sentences (core/reply_stream.py), without I/O."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from core.reply_stream import (
    HintMessage,
    SentenceMessage,
    StreamOpen,
    TurnLog,
    Verdict,
    token_matches,
    turn_token,
    unspoken,
)

CALL, TURN = "call-1", "turn-1"


def opened(step: int = 0, attempt: int = 1, publisher: str = "") -> StreamOpen:
    return StreamOpen(call_id=CALL, turn_key=TURN, step=step, attempt=attempt, publisher=publisher)


def sentence(
    index: int,
    text: str,
    *,
    step: int = 0,
    attempt: int = 1,
    final: bool = False,
    publisher: str = "",
) -> SentenceMessage:
    return SentenceMessage(
        call_id=CALL,
        turn_key=TURN,
        step=step,
        attempt=attempt,
        publisher=publisher,
        index=index,
        text=text,
        final=final,
    )


def test_sentences_are_held_in_order_once_each() -> None:
    log = TurnLog()
    assert log.open(opened()).verdict is Verdict.ACCEPTED
    assert log.offer(sentence(0, "Раз.")).verdict is Verdict.ACCEPTED
    assert log.offer(sentence(2, "Три.")).verdict is Verdict.GAP
    assert log.offer(sentence(1, "Два.")).verdict is Verdict.ACCEPTED
    assert log.offer(sentence(1, "Два.")).verdict is Verdict.DUPLICATE
    assert log.offer(sentence(1, "Другое.")).verdict is Verdict.CONFLICT
    assert log.sentences == ["Раз.", "Два."]


def test_only_the_opened_publisher_may_add() -> None:
    log = TurnLog()
    assert log.offer(sentence(0, "Без open.")).verdict is Verdict.STALE
    log.open(opened(attempt=1))
    log.offer(sentence(0, "Раз."))
    retried = log.open(opened(attempt=2))
    assert retried.verdict is Verdict.ACCEPTED and retried.sentences == ["Раз."]
    # The first attempt, still alive somewhere, is fenced off; the second continues.
    assert log.offer(sentence(1, "Старое.", attempt=1)).verdict is Verdict.STALE
    assert log.open(opened(attempt=1)).verdict is Verdict.STALE
    assert log.offer(sentence(1, "Новое.", attempt=2)).verdict is Verdict.ACCEPTED
    # A later model step of the same turn outranks every attempt of an earlier step.
    assert log.open(opened(step=1, attempt=1)).sentences == ["Раз.", "Новое."]
    assert log.offer(sentence(2, "Опять.", attempt=2)).verdict is Verdict.STALE
    assert log.open(opened(step=0, attempt=9)).verdict is Verdict.STALE


def test_an_equal_rank_takes_over_and_fences_the_one_it_replaces() -> None:
    """A local activity whose worker died runs again elsewhere as attempt 1 of the same step:
    it takes the turn over, and the old one (if it still runs) can add nothing."""
    log = TurnLog()
    log.open(opened(publisher="old"))
    assert log.offer(sentence(0, "Раз.", publisher="old")).verdict is Verdict.ACCEPTED
    again = log.open(opened(publisher="new"))
    assert again.verdict is Verdict.ACCEPTED and again.sentences == ["Раз."]
    assert log.offer(sentence(1, "Старое.", publisher="old")).verdict is Verdict.STALE
    assert log.offer(sentence(1, "Новое.", publisher="new")).verdict is Verdict.ACCEPTED
    assert log.sentences == ["Раз.", "Новое."]


def hint(index: int, text: str, *, attempt: int = 1) -> HintMessage:
    return HintMessage(call_id=CALL, turn_key=TURN, attempt=attempt, index=index, text=text)


def test_a_hint_names_the_next_sentence_and_is_never_held() -> None:
    log = TurnLog()
    assert log.suggest(hint(0, "Раз.")) is Verdict.STALE  # nobody opened the turn
    log.open(opened())
    assert log.suggest(hint(1, "Два.")) is Verdict.GAP
    assert log.suggest(hint(0, "Раз.")) is Verdict.ACCEPTED
    assert log.hint == (0, "Раз.") and log.sentences == []
    log.offer(sentence(0, "Раз"))  # the sentence went on differently: only it is held
    assert log.sentences == ["Раз"]
    assert log.suggest(hint(0, "Раз.")) is Verdict.CONFLICT
    assert log.suggest(hint(1, "Два.", attempt=2)) is Verdict.STALE
    log.offer(sentence(1, "", final=True))
    assert log.suggest(hint(1, "Два.")) is Verdict.CLOSED


def test_final_marker_ends_the_turn() -> None:
    log = TurnLog()
    log.open(opened())
    log.offer(sentence(0, "Всё."))
    assert log.offer(sentence(1, "", final=True)).verdict is Verdict.ACCEPTED
    assert log.final
    assert log.offer(sentence(1, "", final=True)).verdict is Verdict.DUPLICATE
    assert log.offer(sentence(1, "Ещё.")).verdict is Verdict.CLOSED
    assert log.offer(sentence(0, "Всё.")).verdict is Verdict.DUPLICATE
    reopened = log.open(opened(attempt=2))
    assert reopened.final and reopened.sentences == ["Всё."]


def test_a_closed_turn_takes_nothing() -> None:
    log = TurnLog()
    log.open(opened())
    log.closed = True
    assert log.open(opened(attempt=2)).verdict is Verdict.CLOSED
    assert log.offer(sentence(0, "Поздно.")).verdict is Verdict.CLOSED


def test_an_empty_sentence_is_only_the_final_marker() -> None:
    with pytest.raises(ValidationError):
        sentence(0, "  ")
    assert sentence(0, "", final=True).final


def test_unspoken_is_the_reply_after_the_streamed_prefix() -> None:
    assert unspoken(["А."], ["А.", "Б."]).sentences == ["Б."]
    assert not unspoken(["А."], ["А.", "Б."]).diverged
    assert unspoken([], ["А."]).sentences == ["А."]
    diverged = unspoken(["А.", "X."], ["А.", "Б.", "В."])
    assert diverged.diverged and diverged.sentences == ["Б.", "В."]
    assert unspoken(["А.", "Б."], ["А."]).diverged


def test_turn_token_opens_one_turn_with_one_secret() -> None:
    token = turn_token("secret", CALL, TURN)
    assert token_matches("secret", CALL, TURN, token)
    assert not token_matches("secret", CALL, "turn-2", token)
    assert not token_matches("secret", "call-2", TURN, token)
    assert not token_matches("other", CALL, TURN, token)
    assert not token_matches("secret", CALL, TURN, "")
    # The separator keeps (call, turn) pairs that concatenate alike apart.
    assert turn_token("s", "ab", "c") != turn_token("s", "a", "bc")


publishers = st.tuples(st.integers(0, 2), st.integers(1, 3))
operations = st.lists(
    st.one_of(
        st.tuples(st.just("open"), publishers, st.just(0), st.just("")),
        st.tuples(
            st.just("offer"), publishers, st.integers(0, 6), st.sampled_from(["А.", "Б.", ""])
        ),
    ),
    max_size=40,
)


@given(operations)
def test_what_the_edge_holds_only_grows_and_comes_from_the_current_publisher(
    ops: list[tuple[str, tuple[int, int], int, str]],
) -> None:
    log = TurnLog()
    for kind, (step, attempt), index, text in ops:
        before = list(log.sentences)
        if kind == "open":
            result = log.open(opened(step, attempt))
            if result.verdict is Verdict.ACCEPTED:
                assert result.sentences == before
            assert log.sentences == before
            continue
        message = sentence(index, text, step=step, attempt=attempt, final=not text)
        verdict = log.offer(message).verdict
        # Append-only: nothing once held is ever changed or removed.
        assert log.sentences[: len(before)] == before
        grew = len(log.sentences) - len(before)
        assert grew == (1 if verdict is Verdict.ACCEPTED and text else 0)
        if grew:
            assert (step, attempt, "") == log.publisher and index == len(before)

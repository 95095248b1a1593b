"""The guided agent never proposes a confirmation that the workflow's guard would refuse:
both read the one yes-list (russian/understanding/yes_words.py), and at the read-back the
agent asks for a plain yes instead of proposing `confirm_order` on anything less."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.vocabulary import Stage, ToolName
from guided.memory import GuidedMemory, Item, Question
from guided.policy import Turn, Use, decide
from russian.understanding import warm_up
from russian.yes_words import PLAIN_FILLERS, YES_WORDS
from tests.russian.understanding.phrases import PHRASES
from workflows.confirmation import Heard, ReadbackGuard
from workflows.stages import allowed_tools
from workflows.state import ReadbackState

TODAY = dt.date(2026, 11, 27)
PLAYED = ReadbackState(reply_id=3, order_id="o-1", fingerprint="f", total=100, played_to_end=True)
# Words a caller may add that are neither yes nor filler: hedges, questions, changes, names.
OTHER = ["наверное", "когда", "привезут", "адрес", "две", "нет", "не", "подождите", "а", "Анна"]


@pytest.fixture(scope="module", autouse=True)
def _models_loaded() -> None:
    warm_up()


def proposes_confirmation(text: str) -> bool:
    memory = GuidedMemory(
        question=Question.READBACK,
        asked=["Всё верно?"],
        items=[Item(product_id="p-1", name="Гречка", quantity=1)],
    )
    turn = Turn(
        caller_text=text,
        stage=Stage.AWAITING_CONFIRMATION,
        tools=allowed_tools(Stage.AWAITING_CONFIRMATION, withheld=False),
        today=TODAY,
    )
    action, _ = decide(turn, memory)
    return isinstance(action, Use) and action.name is ToolName.CONFIRM_ORDER


def guard_takes(text: str) -> bool:
    return ReadbackGuard.check(PLAYED, current_fingerprint="f", heard=Heard(text)).ok


@pytest.mark.parametrize("text", sorted({p.text for p in PHRASES}))
def test_every_phrase_of_the_table(text: str) -> None:
    if proposes_confirmation(text):
        assert guard_takes(text), text


@pytest.mark.parametrize("word", sorted(YES_WORDS))
def test_every_yes_word_alone_is_proposed_and_taken(word: str) -> None:
    assert proposes_confirmation(word) and guard_takes(word), word


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(sorted(YES_WORDS | PLAIN_FILLERS) + OTHER), min_size=1, max_size=9),
    st.sampled_from([" ", ", ", ". ", "! "]),
)
def test_mixed_replies(words: list[str], separator: str) -> None:
    text = separator.join(words)
    if proposes_confirmation(text):
        assert guard_takes(text), text

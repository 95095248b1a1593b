"""core/vocabulary.py: the shared types stay in step with the code that speaks them."""

from __future__ import annotations

from core.vocabulary import DRAFT_STAGES, ErrorType, Expectation, Stage, ToolName
from guided.expectations import EXPECTS
from guided.memory import Question
from prompts.tools import TOOL_MODELS
from store_api.client import StoreApiError, StoreUnavailable
from workflows.stages import ALLOWED_TOOLS


def subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    sub: type
    for sub in cls.__subclasses__():
        found |= {sub, *subclasses(sub)}
    return found


def test_every_store_api_error_class_has_an_error_type() -> None:
    """activities/store.py names a failure after the client's exception class: every class
    it can meet must be a value the workflow and the operators know."""
    names = {cls.__name__ for cls in subclasses(StoreApiError) | {StoreApiError}}
    outages = {cls.__name__ for cls in subclasses(StoreUnavailable)}
    missing = names - outages - {e.value for e in ErrorType}
    assert not missing, f"add to ErrorType: {sorted(missing)}"


def test_every_tool_has_arguments_and_a_place_in_the_stage_table() -> None:
    assert set(TOOL_MODELS) == set(ToolName)
    offered = set().union(*ALLOWED_TOOLS.values())
    assert offered | {ToolName.SET_CONTACT_PHONE} == set(ToolName)


def test_every_guided_question_says_what_it_expects() -> None:
    assert set(EXPECTS) == set(Question)
    assert set(EXPECTS.values()) <= set(Expectation)


def test_values_are_the_strings_recorded_histories_hold() -> None:
    assert Stage.AWAITING_CONFIRMATION.value == "AWAITING_CONFIRMATION"
    assert ErrorType.STORE_UNAVAILABLE.value == "StoreUnavailable"
    assert {s.value for s in DRAFT_STAGES} == {"DRAFTING", "DELIVERY", "AWAITING_CONFIRMATION"}

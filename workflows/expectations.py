"""What a reply waits for (`Reply.expects`): the edge picks the end-of-turn pause from it."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.vocabulary import Action, AgentMode, Expectation
    from guided.expectations import EXPECTS
    from russian.expectations import expectation_of_reply
    from workflows.state import CallState


def expectation_of(s: CallState, sentences: list[str], action: Action) -> Expectation:
    """Of the reply `s.reply_id` just numbered: the workflow's own questions first (the
    read-back and the phone read-back want a yes or no), then the guided agent's pending
    question, then what the LLM's reply asks (its last sentence that asks)."""
    if action is not Action.CONTINUE or not sentences:
        return Expectation.FREE
    if s.readback is not None and s.readback.reply_id == s.reply_id:
        return Expectation.YES_NO
    if s.pending_contact_phone is not None:
        return Expectation.YES_NO
    if s.agent_mode is AgentMode.GUIDED:
        return EXPECTS[s.guided.question]
    return expectation_of_reply(sentences)

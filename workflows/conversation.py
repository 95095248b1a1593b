"""`Conversation`: one caller turn — words or keys — answered by the agent loop.

The agent (the LLM, or the guided agent) proposes; each proposal goes through `AgentTools`,
whose results go back to the agent until it says something or a tool's own words end the
turn. Turns are bounded (tools.md rule 4). An "auto" call whose LLM fails goes on with the
guided agent in the same turn. A plain yes the read-back guard accepts is confirmed by the
workflow itself, like the keypad's 1: no agent step, the turn recorded as if the agent had
called `confirm_order`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.interfaces.agent import AgentActivities, AgentReply, ToolCall
    from activities.interfaces.audit import AuditEvent
    from activities.interfaces.guided import GuidedActivities, GuidedRequest
    from core.reply_stream import StreamTarget
    from core.vocabulary import (
        DRAFT_STAGES,
        Action,
        AgentMode,
        Attention,
        ErrorType,
        Stage,
        ToolName,
    )
    from guided import lines as guided_lines
    from guided.memory import GuidedMemory
    from guided.memory import Item as GuidedItem
    from prompts import keypad_line
    from prompts.tools import CancelOrder, TransferToOperator
    from russian.farewells import is_farewell
    from russian.text import normalise_for_tts, split_sentences
    from workflows import phrases
    from workflows.expectations import expectation_of
    from workflows.models import Reply
    from workflows.stages import allowed_tools
    from workflows.state import CallInput, CallState

from workflows.activity_options import ACTIVITY_FAILED, AGENT, IN_CALL, error_type
from workflows.agent_tools import AgentTools
from workflows.confirmation import Confirmation, Heard, ReadbackGuard
from workflows.records import GUIDED_AGENT, OPERATOR_LAYER, CallRecords, TurnLog
from workflows.tool_outcome import ToolOutcome
from workflows.turn_speech import TurnSpeech

MAX_TOOL_CALLS_PER_TURN = 5
# Patch id: the workflow answers a plain farewell itself, in both agents.
FAREWELL = "farewell-1"
# Patch id: a plain yes to a read-back the guard accepts confirms without an agent step, in
# both agents (as the keypad's 1 does); calls recorded before it asked the agent.
PLAIN_YES_CONFIRMS = "plain-yes-confirms-1"
MAX_CONSECUTIVE_TOOL_ERRORS = 3
# Failures of `agent_turn` after which an "auto" call goes on with the guided agent.
LLM_DOWN = frozenset({ErrorType.LLM_UNAVAILABLE, ErrorType.LLM_NOT_CONFIGURED, ErrorType.TIMEOUT})


@dataclass
class _ToolBudget:
    """One turn's bound on tool calls (tools.md rule 4): how many ran, how many failed in a row."""

    used: int = 0
    errors: int = 0


class Conversation:
    """Its own state: the note said once when a call leaves the LLM, and where the guided
    agent's view of the switch turn starts."""

    def __init__(
        self,
        call: CallInput,
        s: CallState,
        records: CallRecords,
        tools: AgentTools,
        confirmation: Confirmation,
    ) -> None:
        self.call = call
        self.s = s
        self.records = records
        self.tools = tools
        self.confirmation = confirmation
        self._switch_note: list[str] = []  # said once, in the turn the call left the LLM
        # The LLM's tool calls of the switch turn were its own, not answers to the guided
        # agent's proposals: the guided agent sees the turn from here on.
        self._guided_from = 0

    def reply(self, sentences: list[str], *, action: Action = Action.CONTINUE) -> Reply:
        self.s.reply_id += 1
        return Reply(
            reply_id=self.s.reply_id,
            sentences=sentences,
            action=action,
            stage=self.s.stage,
            expects=expectation_of(self.s, sentences, action),
        )

    async def said(self, text: str, stream: StreamTarget | None = None) -> Reply:
        """The caller's words; with `stream` the agent may speak its reply as it writes it."""
        return await self._turn(text, Heard(text), TurnSpeech(stream))

    async def pressed(self, keys: str, stream: StreamTarget | None = None) -> Reply:
        """Keys pressed as a turn (dialog.md, DTMF): 0 operator, * cancel the order being
        placed, 1 yes at the read-back; other digits answer the question (an order number)."""
        if keys == "0":
            outcome = await self.tools.transfer(TransferToOperator(reason="DTMF 0"))
            return self.reply(outcome.speech or [], action=outcome.action)
        if keys == "*" and self.s.stage in DRAFT_STAGES:
            outcome = await self.tools.cancel(CancelOrder(reason="DTMF *"))
            return self.reply(
                phrases.cancelled() if not outcome.error else phrases.too_many_errors()
            )
        if keys == "1" and self.s.stage is Stage.AWAITING_CONFIRMATION:
            outcome = await self.confirmation.confirm(Heard("", keys))
            return self.reply(outcome.speech or phrases.too_many_errors(), action=outcome.action)
        return await self._turn(
            keypad_line(keys), Heard(keypad_line(keys), keys), TurnSpeech(stream)
        )

    async def _turn(self, text: str, heard: Heard, speech: TurnSpeech) -> Reply:
        started = workflow.time()
        self.s.turn_no += 1
        self.s.silences = 0
        self.s.messages.append({"role": "user", "content": text})
        log = TurnLog()
        if self.s.pending_contact_phone is not None:
            self.tools.settle_contact_phone(text)
        if not heard.keys and is_farewell(text) and workflow.patched(FAREWELL):
            # A goodbye at any question, in either agent: never taken for a product or a
            # street, never answered with "не поняла". Post-call work follows as usual.
            goodbye = self.tools.end_call()
            sentences, action = goodbye.speech or [], goodbye.action
            self.s.messages.append({"role": "assistant", "content": " ".join(sentences)})
        else:
            proposed = self._plain_yes_confirmation(heard)
            sentences, action = await self._agent_loop(heard, log, speech, proposed=proposed)
        if self._switch_note:
            sentences, self._switch_note = self._switch_note + sentences, []
        # What the caller heard while the turn ran comes first: the record holds it as said.
        reply = self.reply(speech.spoken + sentences, action=action)
        self.records.log_turn(text, reply, log, started)
        return reply

    def _plain_yes_confirmation(self, heard: Heard) -> AgentReply | None:
        """A plain spoken yes the read-back guard accepts: the workflow's own `confirm_order`,
        proposed as the keypad's 1 confirms, without asking the agent (an LLM step is ~400 ms
        of the caller's wait). None when the guard would refuse: the agent is asked as before."""
        draft = self.s.draft
        if (
            self.s.stage is not Stage.AWAITING_CONFIRMATION
            or heard.keys
            or draft is None
            or not ReadbackGuard.check(
                self.s.readback, current_fingerprint=draft.fingerprint, heard=heard
            ).ok
            or not workflow.patched(PLAIN_YES_CONFIRMS)
        ):
            return None
        call = ToolCall(
            id=f"confirm-{self.s.turn_no}", name=ToolName.CONFIRM_ORDER.value, arguments="{}"
        )
        return AgentReply(text=None, tool_calls=[call], ms=0)

    async def _agent_loop(
        self, heard: Heard, log: TurnLog, speech: TurnSpeech, *, proposed: AgentReply | None = None
    ) -> tuple[list[str], Action]:
        """The turn's reply after what `speech` heard while it ran, and what comes next.

        `proposed`: tool calls the workflow makes itself before the agent is asked, run and
        recorded (call log, messages) exactly as if the agent had proposed them; the agent is
        asked only when their outcome does not end the turn."""
        budget = _ToolBudget()
        if proposed is not None:
            done = await self._run_tool_calls(proposed, heard, log, budget)
            if done is not None:
                return done
        while True:
            tools = sorted(allowed_tools(self.s.stage, withheld=self.s.withheld))
            try:
                answer = await self._ask_agent(tools, heard, log, speech)
            except ACTIVITY_FAILED as exc:
                if self.s.agent_mode is AgentMode.LLM:
                    await speech.failed()
                self.s.last_error = error_type(exc)
                if self._may_switch(self.s.last_error):
                    self._switch_to_guided(self.s.last_error)
                    continue  # the same caller turn, now answered by the guided agent
                if workflow.patched(OPERATOR_LAYER):
                    self.records.set_attention(Attention.AGENT_UNAVAILABLE)
                return phrases.agent_unavailable(), Action.CONTINUE
            if self.s.attention is Attention.AGENT_UNAVAILABLE:
                self.records.set_attention(Attention.NONE)
            streamed = speech.answered(answer)
            if not answer.tool_calls:
                if streamed is not None:  # spoken as the model wrote it
                    self.s.messages.append({"role": "assistant", "content": " ".join(streamed)})
                    return streamed or ["Чем ещё могу помочь?"], Action.CONTINUE
                text = normalise_for_tts(answer.text or "")
                self.s.messages.append({"role": "assistant", "content": text})
                return split_sentences(text) or ["Чем ещё могу помочь?"], Action.CONTINUE
            done = await self._run_tool_calls(answer, heard, log, budget)
            if done is not None:
                return done

    async def _run_tool_calls(
        self, answer: AgentReply, heard: Heard, log: TurnLog, budget: _ToolBudget
    ) -> tuple[list[str], Action] | None:
        """Run one step's tool calls and keep the messages as the model must see them later
        (its calls, each result, the words that ended the turn); the turn's reply when a
        tool's own words or the turn's bound end it, None when the agent is asked again."""
        self.s.messages.append(
            {
                "role": "assistant",
                "content": answer.text,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                    for call in answer.tool_calls
                ],
            }
        )
        spoken: ToolOutcome | None = None
        for call in answer.tool_calls:
            if budget.used >= MAX_TOOL_CALLS_PER_TURN:
                outcome = ToolOutcome({"error": "Лимит действий за ход исчерпан."}, error=True)
            else:
                budget.used += 1
                outcome = await self.tools.run(call, heard, log)
            budget.errors = budget.errors + 1 if outcome.error else 0
            self.s.messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call.id,
                    "content": json.dumps(outcome.payload, ensure_ascii=False, default=str),
                }
            )
            if outcome.ends_turn and spoken is None:
                spoken = outcome
        if spoken is not None:
            sentences = spoken.speech or []
            self.s.messages.append({"role": "assistant", "content": " ".join(sentences)})
            return sentences, spoken.action
        if budget.errors >= MAX_CONSECUTIVE_TOOL_ERRORS or budget.used >= MAX_TOOL_CALLS_PER_TURN:
            sentences = phrases.too_many_errors()
            self.s.messages.append({"role": "assistant", "content": " ".join(sentences)})
            return sentences, Action.CONTINUE
        return None

    def _may_switch(self, error: str) -> bool:
        return (
            self.call.agent is AgentMode.AUTO
            and self.s.agent_mode is AgentMode.LLM
            and error in LLM_DOWN
            and workflow.patched(GUIDED_AGENT)
        )

    def _switch_to_guided(self, reason: str) -> None:
        """An "auto" call whose LLM failed goes on with the guided agent (audited, shown)."""
        self.s.agent_mode, self.s.agent_switch_reason = AgentMode.GUIDED, reason
        self._guided_from = len(self.s.messages)
        # It starts from the stage the LLM reached, knowing the draft's items (to change one).
        self.s.guided = GuidedMemory()
        order = self.s.last_order
        if self.s.draft is not None and order is not None and order.id == self.s.draft.order_id:
            self.s.guided.items = [
                GuidedItem(product_id=i.product_id, name=i.name, quantity=min(i.quantity, 99))
                for i in order.items
            ]
        if reason != ErrorType.LLM_NOT_CONFIGURED:  # with no LLM at all nothing changes
            self._switch_note = [guided_lines.SWITCHED]
        self.records.audit(
            AuditEvent.AGENT_MODE_SWITCHED,
            order_number=self.s.order_number or None,
            details={"from": AgentMode.LLM.value, "to": AgentMode.GUIDED.value, "reason": reason},
            actor="system",
        )
        workflow.upsert_memo({"agent_mode": AgentMode.GUIDED.value, "agent_switch_reason": reason})
        self.records.details()

    async def _ask_agent(
        self, tools: list[ToolName], heard: Heard, log: TurnLog, speech: TurnSpeech
    ) -> AgentReply:
        if self.s.agent_mode is AgentMode.GUIDED and workflow.patched(GUIDED_AGENT):
            return await self._ask_guided(tools, heard, log)
        started = workflow.time()
        answer = await workflow.execute_local_activity_method(
            AgentActivities.agent_turn,
            speech.request(self.s.call_id, self.s.messages, tools),
            summary=f"agent turn {self.s.turn_no} in {self.s.stage.value}",
            **AGENT,
        )
        log.agent_ms += (workflow.time() - started) * 1000
        return answer

    async def _ask_guided(self, tools: list[ToolName], heard: Heard, log: TurnLog) -> AgentReply:
        started = workflow.time()
        last_user = max(
            (i for i, m in enumerate(self.s.messages) if m.get("role") == "user"), default=0
        )
        previous = next(
            (
                str(m["content"])
                for m in reversed(self.s.messages[:last_user])
                if m.get("role") == "assistant" and m.get("content")
            ),
            "",
        )
        answer = await workflow.execute_local_activity_method(
            GuidedActivities.guided_turn,
            GuidedRequest(
                call_id=self.s.call_id,
                messages=self.s.messages[last_user : last_user + 1]
                + self.s.messages[max(last_user + 1, self._guided_from) :],
                previous_reply=previous,
                keypad=heard.keys or None,
                tools=tools,
                stage=self.s.stage,
                today=self.records.today(),
                withheld=self.s.withheld,
                phone_known=self.s.verified_phone is not None,
                memory=self.s.guided,
            ),
            summary=f"guided turn {self.s.turn_no} in {self.s.stage.value}",
            **IN_CALL,
        )
        self.s.guided = answer.memory
        log.agent_ms += (workflow.time() - started) * 1000
        return AgentReply(text=answer.text, tool_calls=answer.tool_calls, ms=answer.ms)

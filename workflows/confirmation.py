"""Confirmation, in one place (tools.md rule 2): the read-back the workflow speaks itself, the
guard that decides whether a reply finalises the order, the confirm request (built once), and
a confirmation postponed by an outage, retried in rounds during and after the call.

An order is finalised only when the read-back the workflow generated was played to the end,
the order has not changed since, and the caller's reply is a plain yes (or DTMF 1). The agent
can ask for confirmation; only this code can grant it.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.interfaces.audit import AuditEvent
    from activities.interfaces.store import ConfirmRequest, OrderRequest, StoreActivities
    from core.vocabulary import Attention, ErrorType, Stage
    from russian.sms import confirmation_sms
    from russian.yes_words import is_plain_yes
    from store_api.contract import Order
    from workflows import phrases
    from workflows.stages import Event
    from workflows.state import CallState, ConfirmedOrder, ConfirmJob, DraftState, ReadbackState

from workflows.activity_options import (
    ACTIVITY_FAILED,
    ROUND,
    Rounds,
    error_details,
    error_type,
    in_call,
    round_pause,
)
from workflows.records import CallRecords
from workflows.tool_outcome import ToolOutcome, store_error


@dataclass(frozen=True)
class Heard:
    """What the caller gave in this turn: words, or keys pressed."""

    text: str
    keys: str = ""


@dataclass(frozen=True)
class Verdict:
    ok: bool
    missing: str = ""  # for the agent: what is missing before the order can be finalised


class ReadbackGuard:
    """Decides whether a second `confirm_order` may finalise the order."""

    @staticmethod
    def check(readback: ReadbackState | None, *, current_fingerprint: str, heard: Heard) -> Verdict:
        if readback is None:
            return Verdict(False, "Заказ ещё не зачитан: сначала первый вызов confirm_order.")
        if readback.played_to_end is not True:
            return Verdict(
                False, "Зачитывание прервали: нужно зачитать заказ заново (confirm_order)."
            )
        if readback.fingerprint != current_fingerprint:
            return Verdict(False, "Заказ изменился после зачитывания: зачитайте его заново.")
        if heard.keys == "1" or (not heard.keys and is_plain_yes(heard.text)):
            return Verdict(True)
        return Verdict(
            False, "Звонящий не сказал ясное «да». Спросите ещё раз, всё ли верно в заказе."
        )


def fingerprint(order: Order) -> str:
    """Changes whenever items, quantities, prices, delivery or the total change."""
    items = ",".join(f"{i.product_id}x{i.quantity}@{i.unit_price}" for i in order.items)
    delivery = order.delivery.model_dump_json() if order.delivery else "-"
    return f"{order.total}|{items}|{delivery}"


def confirm_request(job: ConfirmJob) -> ConfirmRequest:
    """The one confirm request of an order: the total the caller heard, the key of the job."""
    return ConfirmRequest(
        order_id=job.order_id,
        expected_total=job.expected_total,
        idempotency_key=job.idempotency_key,
    )


class Confirmation:
    """The read-back, the guarded second `confirm_order`, and a postponed confirmation."""

    def __init__(self, s: CallState, records: CallRecords, rounds: Rounds) -> None:
        self.s = s
        self.records = records
        self.rounds = rounds

    async def confirm(self, heard: Heard) -> ToolOutcome:
        """`confirm_order`: the first call reads the order back, the second finalises it."""
        draft = self.s.draft
        if draft is None or not draft.has_delivery:
            return ToolOutcome({"error": "Сначала нужна доставка."}, error=True)
        if self.s.stage is Stage.DELIVERY:
            return await self.speak_readback(draft, prefix=[])
        verdict = ReadbackGuard.check(
            self.s.readback, current_fingerprint=draft.fingerprint, heard=heard
        )
        if not verdict.ok:
            if self.s.readback is None or self.s.readback.played_to_end is not True:
                self.records.move(Event.READBACK_VOIDED)
            return ToolOutcome({"error": verdict.missing}, error=True)
        assert self.s.readback is not None
        self.records.move(Event.CONFIRM_STARTED)
        job = ConfirmJob(
            order_id=draft.order_id,
            number=draft.number,
            expected_total=self.s.readback.total,
            idempotency_key=self.records.key("confirm"),
        )
        try:
            order = await in_call(
                StoreActivities.confirm_order,
                confirm_request(job),
                summary=f"confirm order {job.number}",
            )
        except ACTIVITY_FAILED as exc:
            return await self._failed(exc, job, draft)
        self._confirmed(order)
        return ToolOutcome(
            {"confirmed": True, "order_number": order.number},
            speech=phrases.confirmed(order, sms=True),
            ends_turn=True,
        )

    async def speak_readback(self, draft: DraftState, prefix: list[str]) -> ToolOutcome:
        """The workflow's own read-back of the order as the Store API has it now."""
        try:
            order = await in_call(
                StoreActivities.get_order,
                OrderRequest(order_id=draft.order_id),
                summary=f"read order {draft.number}",
            )
        except ACTIVITY_FAILED as exc:
            return store_error(self.s, exc, "Не удалось прочитать заказ")
        draft.total, draft.fingerprint = order.total, fingerprint(order)
        self.s.last_order = order
        sentences = prefix + phrases.order_readback(order, self.records.today())
        self.s.readback = ReadbackState(
            reply_id=self.s.reply_id + 1,
            order_id=order.id,
            fingerprint=draft.fingerprint,
            total=order.total,
        )
        if self.s.stage is not Stage.AWAITING_CONFIRMATION:
            self.records.move(Event.READBACK_SPOKEN)
        self.records.audit(
            AuditEvent.ORDER_READBACK_SPOKEN,
            order_id=order.id,
            order_number=order.number,
            details={"total": order.total, "text": " ".join(sentences)},
        )
        return ToolOutcome({"readback": "зачитано, ждём ответа"}, speech=sentences, ends_turn=True)

    async def _failed(self, exc: BaseException, job: ConfirmJob, draft: DraftState) -> ToolOutcome:
        kind = error_type(exc)
        self.s.last_error = kind
        self.records.audit(
            AuditEvent.ORDER_CONFIRM_FAILED,
            order_id=job.order_id,
            order_number=job.number,
            details={"error": kind, **error_details(exc)},
        )
        if kind == ErrorType.STORE_UNAVAILABLE:
            self.s.confirm_job = job  # the run loop retries it, during and after the call
            return ToolOutcome(
                {"postponed": True}, speech=phrases.confirm_postponed(), ends_turn=True
            )
        self.records.move(Event.READBACK_VOIDED)
        self.s.readback = None
        if kind == ErrorType.TOTAL_MISMATCH:
            return await self.speak_readback(draft, prefix=[phrases.price_changed()])
        return store_error(self.s, exc, "Заказ не подтверждён")

    def _confirmed(self, order: Order) -> None:
        self.records.move(Event.CONFIRMED)
        self.s.draft, self.s.readback, self.s.confirm_job = None, None, None
        self.s.last_order = order
        self.s.confirmed.append(
            ConfirmedOrder(
                order_id=order.id,
                number=order.number,
                total=order.total,
                sms_text=confirmation_sms(order),
                sms_key=f"{self.s.call_id}:sms:{order.number}",
            )
        )
        self.records.set_attention(Attention.NONE)
        self.records.audit(
            AuditEvent.ORDER_CONFIRMED,
            order_id=order.id,
            order_number=order.number,
            details={"total": order.total},
        )

    async def finish_postponed(self) -> None:
        """Retry a postponed confirmation in rounds until the Store API answers."""
        job = self.s.confirm_job
        assert job is not None
        since = workflow.now()
        while True:
            if self.s.operator_cancelled:
                self.s.confirm_job = None
                return
            job.rounds += 1
            self.records.details()
            try:
                order = await workflow.execute_activity_method(
                    StoreActivities.confirm_order,
                    confirm_request(job),
                    summary=f"confirm order {job.number} (round {job.rounds})",
                    **ROUND,
                )
            except ACTIVITY_FAILED as exc:
                kind = error_type(exc)
                job.last_error = kind
                if self.s.operator_cancelled:
                    continue  # the operator cancelled the order meanwhile; stop quietly
                if kind != ErrorType.STORE_UNAVAILABLE:
                    # The API is back but refuses (total changed, stock gone): a human decides.
                    self.s.confirm_job = None
                    self.records.set_attention(Attention.CONFIRM_FAILED)
                    self.records.audit(
                        AuditEvent.ORDER_CONFIRM_FAILED,
                        order_id=job.order_id,
                        order_number=job.number,
                        details={"error": kind, "after_call": True},
                    )
                    return
                if workflow.now() - since >= self.records.attention_after:
                    self.records.set_attention(Attention.STORE_UNAVAILABLE)
                await self.rounds.pause(round_pause(job.rounds))
                continue
            self._confirmed(order)
            return

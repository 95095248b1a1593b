"""Minimal workflows that run one activity with a fast retry policy, so the tests can watch
Temporal itself retry our typed failures."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.interfaces.audit import AuditRecord
    from activities.interfaces.sms import SmsReceipt, SmsRequest

FAST_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=100),
    backoff_coefficient=1.5,
    maximum_interval=timedelta(milliseconds=500),
)
TIMEOUT = timedelta(seconds=30)


@workflow.defn
class WriteAuditWorkflow:
    @workflow.run
    async def run(self, record: AuditRecord) -> bool:
        written: bool = await workflow.execute_activity(
            "write_audit",
            record,
            result_type=bool,
            start_to_close_timeout=TIMEOUT,
            retry_policy=FAST_RETRY,
        )
        return written


@workflow.defn
class SendSmsWorkflow:
    @workflow.run
    async def run(self, request: SmsRequest) -> SmsReceipt:
        receipt: SmsReceipt = await workflow.execute_activity(
            "send_sms",
            request,
            result_type=SmsReceipt,
            start_to_close_timeout=TIMEOUT,
            retry_policy=FAST_RETRY,
        )
        return receipt

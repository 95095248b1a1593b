"""What Temporal stores about a call, read straight from the server without the codec.

Anyone who can open the Web UI without the codec server, query Temporal or read its database
sees exactly this. After a whole call placed by `voiceorder chat` (the CLI starts the call
and sends what the caller says; the worker does the rest) it holds no phone number in any
spelling, no address, no caller name and no caller line: only ciphertext, the search
attributes (masked) and Temporal's own bookkeeping. The same check on the history decrypted
with the key finds all of them, so it is not blind.

And a worker that lacks the key cannot read a call: its workflow task fails naming the key
id, and the call waits, intact, for a worker that has it.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.exceptions import FailureError

from core.history_payloads import SDK_BOOKKEEPING, decode_in_place, payload_paths, payloads_in
from core.payload_codec import is_encrypted
from core.payload_keys import PayloadKeys, key_entry
from core.settings import Settings
from core.temporal import data_converter
from russian.phones import say_phone
from store_api.seed.personas import NO_ORDERS, ONE_ACTIVE
from tests.support.payload_keys import TEST_DATA_CONVERTER
from tests.workflows import test_guided_cli
from tests.workflows.conftest import Calls
from tests.workflows.history import keep_history
from workers.worker import activity_set, build_worker
from workflows.client import CallSession
from workflows.models import WORKFLOW_NAME, CallStart

no_llm_queue = test_guided_cli.no_llm_queue

ADDRESS = "Москва, улица Тверская, дом семь, квартира двенадцать"
ORDER_LINES = [
    "Хочу заказать гречку продел",
    "Две пачки",
    "Это всё",
    "Курьером",
    ADDRESS,
    "Завтра",
    "Да",
    "Нет, спасибо",
]
# A withheld caller says their number: it must not land in Temporal in the words they used.
SPOKEN_PHONE = "8 903 111 22 33"
STATUS_LINES = ["Где мой заказ?", ONE_ACTIVE.active_orders[0], SPOKEN_PHONE, "Да", "Нет, спасибо"]


def phone_patterns(phone: str) -> list[re.Pattern[str]]:
    """The number as digits with any usual separators (+7 916 123-45-67, 89161234567, …),
    and as the bot reads it back in words."""
    national = re.sub(r"\D", "", phone)[-10:]
    digits = r"[\s\-().]{0,3}".join(national)
    words = say_phone(phone).split(", ", 1)[1]  # without the country code
    return [re.compile(digits), re.compile(re.escape(words), re.IGNORECASE)]


def readable_text(history: WorkflowHistory) -> str:
    """All a person without the key can read: every event as JSON, and every payload's
    metadata and data as text (the Web UI shows a payload's data base64-decoded)."""
    message = History(events=history.events)
    parts = [json_format.MessageToJson(message, ensure_ascii=False)]
    for payload in payloads_in(message, search_attributes=True):
        parts.extend(value.decode("utf-8", "replace") for value in payload.metadata.values())
        parts.append(payload.data.decode("utf-8", "replace"))
    return "\n".join(parts)


def leaks(text: str, phone: str, secrets: list[str]) -> list[str]:
    found = [p.pattern for p in phone_patterns(phone) if p.search(text)]
    return found + [s for s in secrets if s.casefold() in text.casefold()]


def unencrypted(history: WorkflowHistory) -> list[str]:
    """Payloads outside search attributes and SDK bookkeeping that are not ciphertext."""
    message = History(events=history.events)
    return [
        where
        for where, payload in payload_paths(message)
        if not is_encrypted(payload) and SDK_BOOKKEEPING.search(where) is None
    ]


async def histories(calls: Calls, call_id: str) -> tuple[WorkflowHistory, WorkflowHistory]:
    """(as stored, decrypted): the first through a client with no codec at all."""
    raw = await Client.connect(
        calls.client.service_client.config.target_host, namespace=calls.client.namespace
    )
    stored = await raw.get_workflow_handle(call_id).fetch_history()
    decrypted = History.FromString(History(events=stored.events).SerializeToString())
    assert TEST_DATA_CONVERTER.payload_codec is not None
    await decode_in_place(decrypted, TEST_DATA_CONVERTER.payload_codec)
    return stored, WorkflowHistory(call_id, decrypted.events)


async def place_call(
    calls: Calls, queue: str, tmp_path: Path, *caller: str, lines: list[str]
) -> str:
    script = tmp_path / "call.txt"
    script.write_text("\n".join(lines) + "\n", "utf-8")
    call_id = f"call-{uuid.uuid4()}"
    code, out, err = await test_guided_cli.chat(
        calls, queue, call_id, *caller, "--script", str(script)
    )
    assert code == 0, err
    assert "итог звонка:" in out, out
    return call_id


async def test_a_whole_order_leaves_no_phone_address_or_caller_text_in_temporal(
    calls: Calls, no_llm_queue: str, tmp_path: Path
) -> None:
    call_id = await place_call(
        calls, no_llm_queue, tmp_path, "--phone", NO_ORDERS.phone, lines=ORDER_LINES
    )
    assert "order_confirmed" in await calls.audit_events(call_id)
    stored, decrypted = await histories(calls, call_id)
    secrets = [*ORDER_LINES[:2], "Тверская", NO_ORDERS.name.split()[0]]
    seen = leaks(readable_text(decrypted), NO_ORDERS.phone, secrets)
    digits = phone_patterns(NO_ORDERS.phone)[0].pattern
    assert {digits, *secrets} <= set(seen), "decrypted, the check sees every one of them"
    assert leaks(readable_text(stored), NO_ORDERS.phone, secrets) == []
    assert unencrypted(stored) == [], "\n".join(unencrypted(stored))
    await keep_history(calls.client.get_workflow_handle(call_id), "privacy_guided_order_by_chat")


async def test_a_phone_said_by_a_withheld_caller_is_not_in_temporal(
    calls: Calls, no_llm_queue: str, tmp_path: Path
) -> None:
    call_id = await place_call(calls, no_llm_queue, tmp_path, "--withheld", lines=STATUS_LINES)
    assert "order_status_viewed" in await calls.audit_events(call_id)
    stored, decrypted = await histories(calls, call_id)
    assert leaks(readable_text(decrypted), ONE_ACTIVE.phone, [SPOKEN_PHONE]) != []
    assert leaks(readable_text(stored), ONE_ACTIVE.phone, [SPOKEN_PHONE, "Где мой заказ"]) == []
    assert unencrypted(stored) == [], "\n".join(unencrypted(stored))


async def first_task_failure(handle: WorkflowHandle[Any, Any]) -> Failure:
    for _ in range(600):
        async for event in handle.fetch_history_events():
            if event.HasField("workflow_task_failed_event_attributes"):
                return event.workflow_task_failed_event_attributes.failure
        await asyncio.sleep(0.1)
    pytest.fail("no workflow task failed")


async def test_a_worker_without_the_key_leaves_the_call_waiting_and_names_the_key(
    calls: Calls, call_settings: Settings
) -> None:
    settings = call_settings.model_copy(
        update={"temporal_task_queue": f"keys-{uuid.uuid4().hex[:8]}"}
    )
    handle = await calls.client.start_workflow(
        WORKFLOW_NAME,
        CallStart(caller_number=NO_ORDERS.phone, source="test"),
        id=f"call-{uuid.uuid4()}",
        task_queue=settings.temporal_task_queue,
    )
    other_keys = PayloadKeys.parse(key_entry("other", bytes(32)), source="PAYLOAD_KEYS")
    wrong = Client(**(calls.client.config() | {"data_converter": data_converter(other_keys)}))
    async with activity_set(settings) as activities:
        async with build_worker(wrong, settings, activities):
            failure = await first_task_failure(handle)
        error = await wrong.data_converter.decode_failure(failure)
        assert isinstance(error, FailureError)
        assert (
            "payload encrypted with key id 'test-key-1', which is not configured "
            "(PAYLOAD_KEYS has: other)"
        ) in error.message
        # The call is intact: a worker with the key takes it from where it waited.
        async with build_worker(calls.client, settings, activities):
            session = CallSession(
                handle=calls.client.get_workflow_handle(handle.id, result_type=str)
            )
            await session.hang_up()
            assert await asyncio.wait_for(session.result(), 60) == "hung_up"

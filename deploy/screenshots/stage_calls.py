"""Stage the calls the operator guide's screenshots show, against a running local stack.

Run by `regenerate.sh` with the project's .venv. One process does it all, because the fake
LLM must be up before the stack starts (the worker reads OPENAI_BASE_URL at start) and must
hold the per-call scripts when the calls run:

1. starts the fake LLM (tests/support/fake_llm.py, a real OpenAI-compatible server) and
   writes its base URL to --url-file;
2. waits until the stack's worker polls the call task queue, then places four calls
   through the real CallWorkflow (the same CallSession that `voiceorder chat` uses):
   - an order completed and confirmed (Дмитрий Волков, S4),
   - a call transferred to an operator with DTMF 0 (Ольга Кузнецова, S14),
   - an order stuck in CONFIRMING: the Store API refuses every confirm (fault injection),
     the caller hangs up, the workflow keeps retrying with Attention=store_unavailable
     (Анна Смирнова, S10);
   - a live call in LISTENING, right after the greeting (Игорь Петров);
   and writes their ids and order numbers as JSON to --out;
3. keeps the fake LLM serving until it is terminated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.settings import Settings, get_settings  # noqa: E402
from core.temporal import connect  # noqa: E402
from store_api.seed.personas import MANY_ACTIVE, NO_ACTIVE, NO_ORDERS, ONE_ACTIVE  # noqa: E402
from tests.support.fake_llm import FakeLLM, Reply, last_tool_result  # noqa: E402
from workflows.client import CallSession, new_call_id  # noqa: E402
from workflows.models import CallInput  # noqa: E402

COURIER = {
    "type": "courier",
    "address": {"city": "Москва", "street": "Тверская", "house": "7", "apartment": "12"},
}


def pick_product(quantity: int) -> Reply:
    """create_order_draft with the first in-stock product of the latest search."""

    def build(request: dict[str, Any]) -> Reply:
        found = last_tool_result(request, "search_products")["items"]
        item = next(i for i in found if i["in_stock"])
        return Reply.tool(
            "create_order_draft",
            {"items": [{"product_id": item["product_id"], "quantity": quantity}]},
        )

    return Reply.dynamic(build)


def order_script(query: str, quantity: int) -> list[Reply]:
    """search → draft → courier delivery → read-back (confirm_order asks for it)."""
    return [
        Reply.tool("search_products", {"query": query}),
        pick_product(quantity),
        Reply.tool("update_order_delivery", COURIER),
        Reply.tool("confirm_order"),
    ]


def expect(reply_stage: str, want: str, what: str) -> None:
    if reply_stage != want:
        raise SystemExit(f"stage_calls: {what}: stage {reply_stage}, expected {want}")


async def wait_for_worker(settings: Settings, within_s: float) -> Client:
    """The stack is ready for calls when its worker polls the call task queue."""
    async with asyncio.timeout(within_s):
        while True:
            try:
                client = await connect(settings)
                described = await client.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace=settings.temporal_namespace,
                        task_queue=TaskQueue(name=settings.temporal_task_queue),
                        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                    )
                )
                if described.pollers:
                    return client
            except Exception:  # not up yet
                pass
            await asyncio.sleep(1)


async def store_faults(settings: Settings, body: dict[str, Any] | None) -> None:
    token = settings.effective_store_api_token
    async with httpx.AsyncClient(
        base_url=settings.store_api_url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        url = "/admin/faults"
        response = await (http.put(url, json=body) if body else http.delete(url))
        response.raise_for_status()


async def order_number_of(client: Client, call_id: str) -> str:
    """The call's order number, from its search attribute (visibility is eventually consistent)."""
    for _ in range(100):
        async for execution in client.list_workflows(f'WorkflowId = "{call_id}"'):
            values = {k.name: v for k, v in execution.typed_search_attributes}
            if values.get("OrderNumber"):
                return str(values["OrderNumber"])
        await asyncio.sleep(0.3)
    return ""


async def stage(llm: FakeLLM, settings: Settings, client: Client) -> dict[str, Any]:
    queue = settings.temporal_task_queue

    # 1. A completed order (S4): confirmed, SMS sent, workflow completed.
    done_id = new_call_id()
    llm.script(done_id, [*order_script("гречка", 2), Reply.tool("confirm_order")])
    done = await CallSession.start(
        client, queue, CallInput(caller_number=NO_ORDERS.phone, source="chat"), call_id=done_id
    )
    expect(
        (await done.say("Гречку, две пачки, курьером на Тверскую семь")).stage,
        "AWAITING_CONFIRMATION",
        "completed order",
    )
    expect((await done.say("Да, всё верно")).stage, "CONFIRMED", "completed order")
    await done.hang_up("caller")
    await done.result()

    # 2. A transferred call (S14): DTMF 0, no LLM involved.
    transfer = await CallSession.start(
        client, queue, CallInput(caller_number=NO_ACTIVE.phone, source="chat")
    )
    expect((await transfer.press("0")).stage, "TRANSFERRED", "transfer")
    await transfer.result()

    # 3. A call stuck in CONFIRMING (S10): every confirm answered 503; Attention at once.
    stuck_id = new_call_id()
    llm.script(stuck_id, [*order_script("молоко", 1), Reply.tool("confirm_order")])
    stuck = await CallSession.start(
        client,
        queue,
        CallInput(caller_number=MANY_ACTIVE.phone, source="chat", attention_after_s=0),
        call_id=stuck_id,
    )
    expect(
        (await stuck.say("Молоко, одну бутылку, курьером на Тверскую семь")).stage,
        "AWAITING_CONFIRMATION",
        "stuck call",
    )
    await store_faults(settings, {"error_rate": 1.0, "path_glob": "/orders/*/confirm"})
    expect((await stuck.say("Да")).stage, "CONFIRMING", "stuck call")
    await stuck.hang_up("caller")

    # 4. A live call in LISTENING: running, nothing wrong (the stuck-call query leaves it out).
    live = await CallSession.start(
        client, queue, CallInput(caller_number=ONE_ACTIVE.phone, source="chat")
    )
    expect(live.last_reply.stage if live.last_reply else "?", "LISTENING", "live call")

    return {
        "completed": {"call_id": done_id, "order": await order_number_of(client, done_id)},
        "transferred": {"call_id": transfer.call_id},
        "stuck": {"call_id": stuck_id, "order": await order_number_of(client, stuck_id)},
        "live": {"call_id": live.call_id},
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url-file", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--wait-s", type=float, default=300)
    args = parser.parse_args()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async with FakeLLM() as llm:
        args.url_file.write_text(llm.base_url)
        settings = get_settings()
        client = await wait_for_worker(settings, args.wait_s)
        staged = await stage(llm, settings, client)
        args.out.write_text(json.dumps(staged, ensure_ascii=False, indent=2))
        print(f"stage_calls: staged {json.dumps(staged, ensure_ascii=False)}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())

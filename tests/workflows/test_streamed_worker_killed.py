"""A worker killed (SIGKILL) while the model's reply is being streamed to the caller.

The call runs on a real `voiceorder worker` process; the model stalls after two sentences
went out; the process is killed; a second worker takes the call over. The turn runs again
there from its start (the agent step is a local activity: it starts over as attempt 1 of the
same step), takes the stream over from the dead one, learns the two sentences the caller
heard and asks the model to go on after them. The caller hears every sentence of the
recorded reply once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

from audiosocket.reply_stream import ReplyStreamServer
from prompts import CONTINUE_AFTER_CUT
from russian.text import reply_sentences
from store_api.seed.personas import NO_ORDERS
from tests.support.fake_llm import Reply
from tests.support.payload_keys import key_env
from tests.workflows.conftest import REPLY_STREAM_SECRET, Calls
from tests.workflows.history import keep_history
from voiceorder.stack.process import die_with_parent
from workers.worker import activity_set, build_worker
from workflows.client import CallSession
from workflows.models import CallStart

ANSWER = "Гречка есть. Пачка стоит сто двенадцать рублей. Сколько пачек положить?"
GOES_ON = "Гречка есть. Пачка стоит сто двенадцать рублей. Есть и в мягкой упаковке."


def worker_env(calls: Calls, queue: str, data_dir: Path) -> dict[str, str]:
    s = calls.settings
    assert s.database_url and s.store_api_url and s.store_api_token and s.openai_base_url
    return {
        **os.environ,
        **key_env(),  # the tests' Temporal encrypts payloads with the test key
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "DATA_DIR": str(data_dir),  # never a developer's running stack
        "DATABASE_URL": s.database_url,
        "STORE_API_URL": s.store_api_url,
        "STORE_API_TOKEN": s.store_api_token,
        "STORE_API_MODE": "test",
        "OPENAI_BASE_URL": s.openai_base_url,
        "OPENAI_API_KEY": "test",
        "LLM_MODEL": s.llm_model,
        "SMS_PROVIDER": "database",
        "TEMPORAL_ADDRESS": calls.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": queue,
        "REPLY_STREAM_SECRET": REPLY_STREAM_SECRET,
        "LOG_LEVEL": "WARNING",
    }


async def test_a_worker_killed_mid_stream_never_makes_a_sentence_heard_twice(
    calls: Calls, tmp_path: Path
) -> None:
    queue = f"calls-killed-{uuid.uuid4().hex[:8]}"
    call_id = f"call-{uuid.uuid4()}"
    never = asyncio.Event()  # the first stream stalls until its worker is gone
    calls.llm.script(call_id, [Reply.text(ANSWER).pause(9, until=never), Reply.text(GOES_ON)])
    doomed = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceorder",
        "worker",
        env=worker_env(calls, queue, tmp_path),
        stdout=asyncio.subprocess.DEVNULL,
        preexec_fn=die_with_parent(),
    )
    settings = calls.settings.model_copy(update={"temporal_task_queue": queue})
    try:
        async with asyncio.timeout(90):
            call = await CallSession.start(
                calls.client, queue, CallStart(caller_number=NO_ORDERS.phone), call_id=call_id
            )
        async with ReplyStreamServer(REPLY_STREAM_SECRET, host="127.0.0.1") as edge:
            with edge.subscribe(call_id) as subscription:
                turn = asyncio.create_task(call.say("Есть гречка?", stream=subscription.target))
                streamed = aiter(subscription)
                async with asyncio.timeout(60):
                    heard = [await anext(streamed), await anext(streamed)]
                doomed.send_signal(signal.SIGKILL)
                killed = asyncio.get_running_loop().time()
                assert await doomed.wait() == -signal.SIGKILL
                async with (
                    activity_set(settings) as activities,
                    build_worker(calls.client, settings, activities, sandboxed=True),
                ):
                    async with asyncio.timeout(90):
                        reply = await turn
                    took = asyncio.get_running_loop().time() - killed
                    print(
                        f"\nkilled mid-stream: another worker answered the turn {took:.1f} s later"
                    )
                    subscription.close()
                    heard += [sentence async for sentence in streamed]
                    rest = subscription.unspoken(reply.sentences)
                    await call.hang_up()
                    await call.result()
    finally:
        never.set()
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()
    assert not rest.diverged
    assert heard + rest.sentences == reply.sentences
    assert reply.sentences == [*reply_sentences(ANSWER)[:2], "Есть и в мягкой упаковке."]
    assert len(heard) == len(set(heard)), "no sentence heard twice"
    asked_again = calls.llm.requests(call_id)[-1]["messages"]
    assert asked_again[-1] == {"role": "system", "content": CONTINUE_AFTER_CUT}
    await keep_history(call, "streamed_worker_killed")

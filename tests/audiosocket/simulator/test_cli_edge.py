"""`voiceorder call` as a subprocess against the real edge (tests/audiosocket/conftest.py:
real Temporal dev server, worker, Store API and PostgreSQL; STT by FakeSpeech scripted for
the call's id, the LLM by FakeLLM, TTS by espeak-ng)."""

from __future__ import annotations

import asyncio
import re
import uuid
import wave
from pathlib import Path

from temporalio.client import Client

from audiosocket.ari import AriClient
from audiosocket.session import SessionTimings
from core.settings import Settings
from store_api.seed.personas import NO_ORDERS
from tests.audiosocket.conftest import EdgeCalls, running_edge
from tests.audiosocket.simulator.test_cli import (
    finish,
    killed_on_exit,
    read_ari_url,
    start_cli,
    write_script,
)
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.fake_openai_audio import FakeSpeech
from tests.workflows.scripts import say, search


async def test_a_scripted_call_through_the_real_edge_and_workflow(
    edge_calls: EdgeCalls, tmp_path: Path
) -> None:
    audiosocket_id = uuid.uuid4()
    call_id = f"call-{audiosocket_id}"
    edge_calls.llm.script(
        call_id,
        [
            search("гречка"),
            say("Есть гречка ядрица. Сколько пачек?"),
            Reply.tool("end_call", {"reason": "покупатель передумал"}),
        ],
    )
    edge_calls.speech.script(call_id, ["Хочу заказать гречку", "Нет спасибо это всё"])
    wav_path = tmp_path / "bot.wav"
    script = write_script(tmp_path, "Хочу заказать гречку\n#wait 0.5\nНет спасибо\n")
    process = await start_cli(
        "--script",
        str(script),
        "--host",
        "127.0.0.1",
        "--port",
        str(edge_calls.edge.port),
        "--uuid",
        str(audiosocket_id),
        "--rate",
        "8000",
        "--record",
        str(wav_path),
        "--quiet-ms",
        "600",
        "--reply-timeout",
        "30",
    )
    async with killed_on_exit(process):
        result = await finish(process)
    assert result.code == 0, result.err
    out = result.out
    assert f"call {audiosocket_id}, 8 kHz" in out
    assert "caller: Хочу заказать гречку" in out and "caller: Нет спасибо" in out
    # The greeting, the answer and the goodbye, each after the caller's turn.
    assert out.count("bot speaks") >= 3, out
    assert len(re.findall(r"bot speaks \(\d+\.\d s\)  ← \d+\.\d\d s after the caller", out)) >= 2
    assert "bot hung up (sent 0x00)" in out
    assert "summary: 2 caller turns, 2 answered" in out
    assert "steps: 3 of 3; completed" in out
    with wave.open(str(wav_path), "rb") as wav:
        assert wav.getframerate() == 8000  # the edge answers at the caller's rate
        assert wav.getnframes() / 8000 > 3.0
    # The edge heard both utterances and the workflow ended the call.
    edge_calls.speech.assert_consumed(call_id)
    edge_calls.llm.assert_consumed(call_id)


async def test_the_ari_path_through_the_real_edge_passes_the_caller_id_and_transfers(
    call_worker: Client,
    call_settings: Settings,
    fake_llm: FakeLLM,
    fake_speech: FakeSpeech,
    tmp_path: Path,
) -> None:
    process = await start_cli(
        "--script",
        str(write_script(tmp_path, "Хочу заказать гречку\n#dtmf 0\n")),
        "--ari",
        "--caller",
        NO_ORDERS.phone,
        "--wait-for-edge",
        "60",
        "--quiet-ms",
        "600",
        "--reply-timeout",
        "30",
    )
    async with killed_on_exit(process):
        url, user, password, head = await read_ari_url(process)
        client = AriClient(url, user, password, "voiceorder")
        async with running_edge(call_worker, call_settings, fake_speech, ari=client) as edge:
            # The edge picks the UUID over ARI, so the fakes are scripted once it is known
            # (the greeting needs neither; the caller speaks after it).
            async with asyncio.timeout(60):
                while not edge.sessions:  # noqa: ASYNC110 - the edge has no event for it
                    await asyncio.sleep(0.01)
            (session,) = edge.sessions.values()
            fake_llm.script(
                session.call_id, [search("гречка"), say("Есть гречка ядрица. Сколько пачек?")]
            )
            fake_speech.script(session.call_id, ["Хочу заказать гречку"])
            result = await finish(process, head)
        await client.close()
    assert result.code == 0, result.err
    out = result.out
    assert session.caller_number == NO_ORDERS.phone  # StasisStart → the edge → the workflow
    assert f"CallerID {NO_ORDERS.phone}" in out
    assert "edge opened the AudioSocket leg" in out and "16 kHz" in out  # slin16
    assert "caller: Хочу заказать гречку" in out and "caller presses 0" in out
    assert "edge transferred the caller to context 'operators'" in out
    assert "summary: 2 caller turns, 2 answered" in out  # the answer and the announcement
    assert "steps: 2 of 2; completed" in out
    fake_speech.assert_consumed(session.call_id)
    fake_llm.assert_consumed(session.call_id)


async def test_a_barge_in_through_the_real_edge_cuts_the_bot_over_its_own_echo(
    edge_calls: EdgeCalls, tmp_path: Path
) -> None:
    """The simulated line returns the bot's voice (--echo-db/--echo-delay-ms): the echo
    interrupts nothing, the caller's words still cut the bot."""
    audiosocket_id = uuid.uuid4()
    call_id = f"call-{audiosocket_id}"
    long_answer = (
        "Есть гречка ядрица, пачка девятьсот граммов. Ещё есть гречка продел и зелёная гречка. "
        "Сколько пачек и какой именно вам положить?"
    )
    edge_calls.llm.script(call_id, [search("гречка"), say(long_answer), say("Хорошо, слушаю вас.")])
    edge_calls.speech.script(call_id, ["Хочу заказать гречку", "Подождите"])
    script = write_script(tmp_path, "Хочу заказать гречку\n#bargein 1.0\nПодождите\n#hangup\n")
    process = await start_cli(
        "--script",
        str(script),
        "--port",
        str(edge_calls.edge.port),
        "--uuid",
        str(audiosocket_id),
        "--rate",
        "8000",
        "--quiet-ms",
        "600",
        "--reply-timeout",
        "30",
        "--echo-db",
        "15",
        "--echo-delay-ms",
        "120",
    )
    async with killed_on_exit(process):
        result = await finish(process)
    assert result.code == 0, result.err
    out = result.out
    assert "caller (barge-in): Подождите" in out
    cut = re.search(r"bot stopped (\d+\.\d\d) s after the caller barged in", out)
    assert cut, out
    # The edge's VAD needs ~120 ms of speech; anything near a second would be heard as ignored.
    assert float(cut.group(1)) < 1.5
    assert "summary: 2 caller turns, 2 answered" in out
    assert "barge-in: the bot stopped" in out
    assert edge_calls.edge.metrics.barge_ins == 1
    assert edge_calls.edge.metrics.false_barge_ins == 0  # the echo paused nothing
    edge_calls.speech.assert_consumed(call_id)
    edge_calls.llm.assert_consumed(call_id)


async def test_silence_lets_the_real_edge_re_prompt(
    call_worker: Client,
    call_settings: Settings,
    fake_llm: FakeLLM,
    fake_speech: FakeSpeech,
    tmp_path: Path,
) -> None:
    timings = SessionTimings(silence_reprompt_s=1.5, inter_digit_s=1.0)
    async with running_edge(call_worker, call_settings, fake_speech, timings=timings) as edge:
        process = await start_cli(
            "--script",
            str(write_script(tmp_path, "#silence 3.5\n#hangup\n")),
            "--port",
            str(edge.port),
            "--quiet-ms",
            "600",
            "--reply-timeout",
            "30",
        )
        async with killed_on_exit(process):
            result = await finish(process)
        (session,) = edge.ended
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    silent = next(i for i, line in enumerate(lines) if "caller stays silent for 3.5 s" in line)
    hung_up = next(i for i, line in enumerate(lines) if "caller hangs up" in line)
    assert any("bot speaks" in line for line in lines[silent:hung_up]), result.out
    assert "summary: 0 caller turns, 0 answered" in result.out
    assert session.workflow is not None and session.workflow.last_reply is not None
    # Replies after the greeting (reply 1) came from the caller's silence alone.
    assert session.workflow.last_reply.reply_id >= 2

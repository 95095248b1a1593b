"""`voiceorder call` as a subprocess against the real edge (tests/audiosocket/conftest.py:
real Temporal dev server, worker, Store API and PostgreSQL; STT by FakeSpeech scripted for
the call's id, the LLM by FakeLLM, TTS by espeak-ng)."""

from __future__ import annotations

import re
import uuid
import wave
from pathlib import Path

from tests.audiosocket.conftest import EdgeCalls
from tests.audiosocket.simulator.test_cli import finish, killed_on_exit, start_cli, write_script
from tests.support.fake_llm import Reply
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

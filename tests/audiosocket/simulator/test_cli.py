"""`voiceorder call` as a subprocess: against an edge-like AudioSocket server in this test
(dialplan path), against the real AriClient + AriCallRouter driving that server through the
CLI's fake ARI (ARI path), and with nothing listening. The caller's voice is real espeak-ng."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import sys
import uuid
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from audiosocket.ari import AriClient
from audiosocket.ari_calls import AriCallRouter
from audiosocket.simulator.cli import call_command
from tests.audiosocket.simulator.edge_like import EdgeLike, TimedHandler, edge_like
from tests.support.servers import free_port

TIMEOUT = 90.0
SCRIPT = """\
# a short call
Здравствуйте, хочу заказать гречку
#dtmf 1
#bargein 0.2
Нет, подождите
#hangup
"""


@dataclass
class Finished:
    code: int
    out: str
    err: str


async def start_cli(*args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "LOG_FORMAT": "json"}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceorder",
        "call",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process, head: str = "") -> Finished:
    out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode is not None
    result = Finished(process.returncode, head + out.decode(), err.decode())
    print(result.out, result.err, sep="\n")
    return result


@asynccontextmanager
async def killed_on_exit(process: asyncio.subprocess.Process) -> AsyncIterator[None]:
    try:
        yield
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def write_script(tmp_path: Path, text: str = SCRIPT) -> Path:
    path = tmp_path / "call.txt"
    path.write_text(text, "utf-8")
    return path


def stamps(out: str) -> list[float]:
    return [float(m) for m in re.findall(r"^\s+\+(\d+\.\d\d)s  ", out, re.MULTILINE)]


async def test_a_script_completes_with_a_timeline_and_a_wav(tmp_path: Path) -> None:
    wav_path = tmp_path / "bot.wav"
    # The bot at 8 kHz on a 16 kHz line (the other way round an Asterisk before 20.17 would
    # end the call): the recording is at the bot's rate, not the caller's.
    async with edge_like(8000, greeting_s=0.6, reply_s=0.8, barge_in=True) as edge:
        process = await start_cli(
            "--script",
            str(write_script(tmp_path)),
            "--host",
            "127.0.0.1",
            "--port",
            str(edge.port),
            "--rate",
            "16000",
            "--record",
            str(wav_path),
            "--quiet-ms",
            "500",
        )
        async with killed_on_exit(process):
            result = await finish(process)
        (handler,) = edge.handlers.values()
    assert result.code == 0, result.err
    out = result.out
    assert "over AudioSocket (dialplan path)" in out
    for expected in (
        "caller: Здравствуйте, хочу заказать гречку",
        "caller presses 1",
        "caller (barge-in): Нет, подождите",
        "bot stopped",
        "caller hangs up",
        "s after the caller",
        "summary: 3 caller turns, 3 answered; response latency p50",
        "bot stream:",
        "steps: 4 of 4; completed",
    ):
        assert expected in out, expected
    assert stamps(out) == sorted(stamps(out)) and len(stamps(out)) >= 9
    # The edge got espeak speech at 16 kHz, the digit and a caller hang-up.
    assert {rate for _, rate, _ in handler.audio} == {16000}
    assert sum(len(pcm) for _, _, pcm in handler.audio) / 32000 > 1.5
    assert [d for _, d in handler.digits] == ["1"]
    assert [r.value for r in handler.reasons] == ["caller"]
    # The WAV holds every frame the edge sent, at its rate.
    match = re.search(r"bot audio: .*bot\.wav \((\d+\.\d) s at 8000 Hz\)", out)
    assert match, out
    with wave.open(str(wav_path), "rb") as wav:
        assert wav.getframerate() == 8000 and wav.getnchannels() == 1
        seconds = wav.getnframes() / 8000
    assert abs(seconds - float(match.group(1))) <= 0.05
    frames = int(re.search(r"bot stream: (\d+) frames", out).group(1))  # type: ignore[union-attr]
    assert abs(seconds - frames * 0.02) < 1e-6


async def test_nothing_listening_exits_non_zero_with_a_message(tmp_path: Path) -> None:
    port = free_port()
    process = await start_cli("--script", str(write_script(tmp_path)), "--port", str(port))
    async with killed_on_exit(process):
        result = await finish(process)
    assert result.code == 1
    assert f"cannot connect to the AudioSocket edge at 127.0.0.1:{port}" in result.err
    assert "is `voiceorder edge` running?" in result.err
    assert "Traceback" not in result.err


async def test_a_bad_script_is_refused_with_its_line(tmp_path: Path) -> None:
    script = write_script(tmp_path, "Алло\n#wait soon\n")
    process = await start_cli("--script", str(script), "--port", "9")
    async with killed_on_exit(process):
        result = await finish(process)
    assert result.code == 2
    assert f"{script}:2: #wait needs a number of seconds" in result.err


async def read_ari_url(process: asyncio.subprocess.Process) -> tuple[str, str, str, str]:
    """(ARI_URL, ARI_USER, ARI_PASSWORD, output so far) from `voiceorder call --ari`."""
    assert process.stdout is not None
    head = ""
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), TIMEOUT)).decode()
        assert line, "the CLI ended before printing the ARI URL"
        head += line
        if found := re.search(r"ARI_URL=(\S+) ARI_USER=(\S+) ARI_PASSWORD=(\S+)", line):
            url, user, password = found.groups()
            return url, user, password, head


@dataclass
class AriRun:
    result: Finished
    call_id: uuid.UUID
    caller_number: str | None
    handler: TimedHandler


async def ari_call(
    tmp_path: Path,
    script: str,
    edge: EdgeLike,
    *cli_args: str,
    bot: Callable[[AriCallRouter, TimedHandler], Awaitable[None]] | None = None,
) -> AriRun:
    """Run `voiceorder call --ari`, and as the edge the real AriClient + AriCallRouter with
    the edge-like AudioSocket server; `bot` may end the call from the edge's side."""
    process = await start_cli(
        "--script",
        str(write_script(tmp_path, script)),
        "--ari",
        "--wait-for-edge",
        "60",
        "--quiet-ms",
        "500",
        *cli_args,
    )
    async with killed_on_exit(process):
        url, user, password, head = await read_ari_url(process)
        client = AriClient(url, user, password, "voiceorder")
        router = AriCallRouter(
            client, external_host=f"127.0.0.1:{edge.port}", operator_context="operators"
        )
        router_task = asyncio.create_task(router.run())
        try:
            call_id = await asyncio.wait_for(_first_call(edge), TIMEOUT)
            ari_call = await router.wait_for(call_id, 10)
            handler = edge.handlers[call_id]
            if bot is not None:
                await bot(router, handler)
            result = await finish(process, head)
        finally:
            router_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await router_task
            await client.close()
    return AriRun(result, call_id, ari_call.caller_number if ari_call else None, handler)


async def test_the_ari_path_places_a_call_the_edge_answers_over_externalmedia(
    tmp_path: Path,
) -> None:
    ari_port = free_port()
    async with edge_like(16000, greeting_s=0.5, reply_s=0.6) as edge:
        run = await ari_call(
            tmp_path,
            "Алло, это магазин?\n#dtmf 5\n#hangup\n",
            edge,
            "--caller",
            "+79161234567",
            "--ari-port",
            str(ari_port),
        )
    result = run.result
    assert result.code == 0, result.err
    assert f"ARI_URL=http://127.0.0.1:{ari_port} " in result.out
    assert run.caller_number == "+79161234567"
    out = result.out
    for expected in (
        "call placed: channel",
        "CallerID +79161234567",
        "edge opened the AudioSocket leg",
        "16 kHz",  # the router asks for slin16
        "caller: Алло, это магазин?",
        "caller presses 5",
        "caller hangs up",
        "summary: 2 caller turns, 2 answered",
        "steps: 3 of 3; completed",
    ):
        assert expected in out, expected
    assert "left the AudioSocket leg up" not in out  # the router deleted the media leg
    assert [d for _, d in run.handler.digits] == ["5"]
    assert stamps(out) == sorted(stamps(out))


async def test_an_edge_started_first_reaches_the_fake_ari_on_a_fixed_port(
    tmp_path: Path,
) -> None:
    ari_port = free_port()
    client = AriClient(f"http://127.0.0.1:{ari_port}", "asterisk", "asterisk", "voiceorder")
    async with edge_like(16000, greeting_s=0.3, reply_s=0.3) as edge:
        router = AriCallRouter(
            client, external_host=f"127.0.0.1:{edge.port}", operator_context="operators"
        )
        router_task = asyncio.create_task(router.run())  # nothing listens yet: it retries
        try:
            await asyncio.sleep(0.5)
            process = await start_cli(
                "--script",
                str(write_script(tmp_path, "Алло\n#hangup\n")),
                "--ari",
                "--ari-port",
                str(ari_port),
                "--quiet-ms",
                "500",
            )
            async with killed_on_exit(process):
                result = await finish(process)
        finally:
            router_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await router_task
            await client.close()
    assert result.code == 0, result.err
    assert "steps: 2 of 2; completed" in result.out


async def test_a_busy_ari_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = await start_cli(
            "--script", str(write_script(tmp_path)), "--ari", "--ari-port", str(port)
        )
        async with killed_on_exit(process):
            result = await finish(process)
    assert result.code == 1
    assert f"cannot serve the fake ARI on 127.0.0.1:{port}" in result.err
    assert "Traceback" not in result.err


async def _after_first_reply(handler: TimedHandler) -> None:
    await handler.until(lambda: bool(handler.replies))
    await asyncio.sleep(0.7)  # the reply plays out


async def test_the_ari_path_shows_the_bot_hanging_up_the_caller(tmp_path: Path) -> None:
    async def bot(router: AriCallRouter, handler: TimedHandler) -> None:
        await _after_first_reply(handler)
        await router.hang_up(handler.call.id)
        handler.call.hangup()

    async with edge_like(16000, greeting_s=0.3, reply_s=0.4) as edge:
        run = await ari_call(tmp_path, "Алло\nЕщё фраза\n", edge, "--withheld", bot=bot)
    out = run.result.out
    assert run.caller_number is None
    assert "CallerID withheld" in out
    assert "edge hung up the caller's channel (ARI DELETE)" in out
    # The router deleted the media leg too, so Asterisk closed it before any 0x00.
    assert "edge deleted the AudioSocket channel; Asterisk closed the leg" in out
    assert "the call ended before script line 2 could run" in out
    assert run.result.code == 3
    assert "call did not complete the script: bot_hung_up_early" in run.result.err


async def test_the_ari_path_shows_a_transfer(tmp_path: Path) -> None:
    async def bot(router: AriCallRouter, handler: TimedHandler) -> None:
        await _after_first_reply(handler)
        assert await router.transfer(handler.call.id)
        handler.call.hangup()

    async with edge_like(16000, greeting_s=0.3, reply_s=0.4) as edge:
        run = await ari_call(tmp_path, "Позовите оператора\nАлло?\n", edge, bot=bot)
    out = run.result.out
    assert "edge transferred the caller to context 'operators'" in out
    assert run.result.code == 3


async def _first_call(edge: EdgeLike) -> uuid.UUID:
    while not edge.handlers:
        edge.created.clear()
        await edge.created.wait()
    return next(iter(edge.handlers))


def test_withheld_needs_the_ari_path(tmp_path: Path) -> None:
    script = write_script(tmp_path)
    result = CliRunner().invoke(call_command, ["--script", str(script), "--withheld"])
    assert result.exit_code == 2
    assert "--withheld needs --ari" in result.output

"""`voiceorder up --workers 2 --edges 2`: the system spread over processes, and what it
survives, tried through `up` itself (issue 13, item 6; quality.md R1).

One run of the real stack in a subprocess (embedded PostgreSQL or DATABASE_URL, the Temporal
dev server, the Store API, two workers, two edges), with the outside world faked at its
wire: Asterisk by FakeAri (each edge subscribes its own Stasis app), the caller's voice by
espeak over AudioSocket, STT by FakeSpeech and the LLM by FakeLLM, both scripted per call.

- A call on edge 1: its worker is SIGKILLed while the turn's draft is at the Store API; the
  turn runs again on the other worker and completes with exactly one order; `up` restarts
  the killed worker and keeps everything else running.
- A call on edge 2: SIGTERM of that edge hands its caller to the operators (ARI `continue`)
  while the call on edge 1 goes on; `up` restarts the edge, which takes calls again.
- A third worker started by hand with nothing but DATA_DIR joins the stack.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import signal
import socket
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import numpy as np
import pytest
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from audiosocket.simulator.fake_ari import FakeAri, FakeChannel
from audiosocket.simulator.peer import AudioSocketPeer
from audiosocket.speech import synthesize_to_pcm
from core.local_stack import running_stack
from core.settings import DEV_STORE_API_TOKEN
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.fake_openai_audio import FakeSpeech
from tests.support.servers import free_port, server_data_dir
from tests.voiceorder.stack.test_up import (
    FIRST_START_S,
    Up,
    assert_nothing_left,
    database_for_up,
    running_up,
    up_env,
)
from tests.workflows.scripts import pick_product, say, search
from voiceorder.stack.process import die_with_parent

pytestmark = pytest.mark.slow

APPS = ["voiceorder-1", "voiceorder-2"]
PHONE = "+79161234567"
# Generous on a loaded 2-core box: a killed worker's turn waits out the workflow task
# timeout (10 s) before the other worker runs it again.
TURN_S = 120
UPDATE_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
READY = re.compile(r"(worker-\d|edge-\d) is ready(?: again)? \(pid (\d+)\)")


@functools.cache
def caller_speech(text: str) -> bytes:
    """The caller's words (espeak, 16 kHz like the slin16 legs), silence trimmed."""
    pcm = synthesize_to_pcm(text, 16000, words_per_minute=260)
    samples = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 500)
    return samples[loud[0] : loud[-1] + 1].tobytes()


def consecutive_free_ports() -> int:
    """A port p with p + 1 free as well: the two edges listen on AUDIOSOCKET_PORT and +1."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two consecutive free ports")


@dataclass
class Line:
    """The phone line: FakeAri plus the callers' AudioSocket ends and their scripts."""

    ari: FakeAri
    llm: FakeLLM
    speech: FakeSpeech
    peers: dict[uuid.UUID, AudioSocketPeer] = field(default_factory=dict)
    ports: dict[uuid.UUID, int] = field(default_factory=dict)
    scripts: list[tuple[list[Reply], list[str]]] = field(default_factory=list)

    async def connect_leg(self, host: str, port: int, leg_id: uuid.UUID, fmt: str) -> object:
        """Asterisk dials the edge during externalMedia: the UUID the edge chose names the
        call, so the fakes are scripted for `call-<uuid>` here, before the first frame."""
        llm, heard = self.scripts.pop(0) if self.scripts else ([], [])
        self.llm.script(f"call-{leg_id}", llm)
        self.speech.script(f"call-{leg_id}", heard)
        peer = await AudioSocketPeer.connect(host, port, leg_id, rate=16000)
        self.peers[leg_id], self.ports[leg_id] = peer, port
        return peer

    async def call(
        self, app: str, *, llm: list[Reply] | None = None, heard: list[str] | None = None
    ) -> tuple[FakeChannel, AudioSocketPeer]:
        """A caller reaches `Stasis(app)`; returns once the bot greeted them and fell quiet."""
        self.scripts.append((llm or [], heard or []))
        before = set(self.peers)
        channel = await self.ari.place_call(PHONE, app=app)
        await self.ari.wait_until(lambda: set(self.peers) - before != set(), TURN_S)
        (leg_id,) = set(self.peers) - before
        peer = self.peers[leg_id]
        await peer.wait_until_bot_quiet(600, timeout_s=TURN_S)
        return channel, peer


async def say_words(peer: AudioSocketPeer, text: str) -> None:
    await peer.play(await asyncio.to_thread(caller_speech, text))


async def history(client: Client, call_id: str) -> list[HistoryEvent]:
    return list((await client.get_workflow_handle(call_id).fetch_history()).events)


async def wait_for_turns(client: Client, call_id: str, turns: int) -> list[HistoryEvent]:
    """Until `turns` updates of the call completed (the greeting is the first)."""
    async with asyncio.timeout(TURN_S):
        while True:
            events = await history(client, call_id)
            done = [e for e in events if e.event_type == UPDATE_COMPLETED]
            if len(done) >= turns:
                return events
            await asyncio.sleep(0.5)


def task_workers(events: list[HistoryEvent]) -> list[int]:
    """The pids of the workers that completed the call's workflow tasks, in order (the SDK's
    identity is `<pid>@<host>`)."""
    return [
        int(e.workflow_task_completed_event_attributes.identity.split("@")[0])
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]


async def wait_for_output(up: Up, pattern: str, *, after: int = 0) -> re.Match[str]:
    async with asyncio.timeout(TURN_S):
        while (found := re.compile(pattern).search(up.output(), after)) is None:
            assert up.process.poll() is None, f"up exited:\n{up.output()}"
            await asyncio.sleep(0.2)
    return found


def pids(up: Up) -> dict[str, int]:
    """Each service's current pid, from `up`'s "<name> is ready (pid N)" lines."""
    return {name: int(pid) for name, pid in READY.findall(up.output())}


async def orders_of(database_url: str, call_id: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM store.orders WHERE call_id = $1", call_id
        )
        return count
    finally:
        await conn.close()


async def _add_a_worker_by_hand(
    client: Client, env: dict[str, str], data_dir: Path, workdir: Path
) -> None:
    """`./dev worker` beside `./dev up`, given nothing but DATA_DIR: it finds the embedded
    database, Temporal and the Store API through DATA_DIR/stack.json and joins the queue."""
    bare = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    bare |= {"DATA_DIR": str(data_dir), "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    log = (workdir / "hand-worker.log").open("wb")
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceorder",
        "worker",
        env=bare,
        cwd=workdir,  # away from the checkout's .env
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
        preexec_fn=die_with_parent(),
    )
    try:
        request = DescribeTaskQueueRequest(
            namespace="default",
            task_queue=TaskQueue(name="voiceorder-calls"),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
        async with asyncio.timeout(TURN_S):
            while True:
                assert worker.returncode is None, (workdir / "hand-worker.log").read_text()
                described = await client.workflow_service.describe_task_queue(request)
                if any(p.identity.startswith(f"{worker.pid}@") for p in described.pollers):
                    break
                await asyncio.sleep(0.3)
    finally:
        if worker.returncode is None:
            worker.terminate()
        code = await worker.wait()
        log.close()
    assert code == 0, (workdir / "hand-worker.log").read_text()


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with server_data_dir("voiceorder-test-scale-") as path:
        yield path / "data"


async def test_two_workers_and_two_edges_survive_a_killed_worker_and_a_stopped_edge(
    tmp_path: Path, data_dir: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    async with (
        database_for_up() as database_url,
        FakeLLM() as llm,
        FakeSpeech() as speech,
    ):
        holder: list[Line] = []

        async def connector(host: str, port: int, leg_id: uuid.UUID, fmt: str) -> object:
            return await holder[0].connect_leg(host, port, leg_id, fmt)

        async with FakeAri(media_connector=connector) as ari:
            line = Line(ari, llm, speech)
            holder.append(line)
            env, ports = up_env(data_dir, home, database_url)
            edge_port = consecutive_free_ports()
            ports |= {"edge": edge_port, "edge-2": edge_port + 1}
            env |= {
                "AUDIOSOCKET_PORT": str(edge_port),
                "ARI_URL": ari.base_url,
                "ARI_USER": ari.user,
                "ARI_PASSWORD": ari.password,
                "ARI_APP": "voiceorder",
                "STT_BASE_URL": speech.base_url,
                "STT_API_KEY": "test",
                "OPENAI_BASE_URL": llm.base_url,
                "OPENAI_API_KEY": "test",
                "LLM_MODEL": "fake-llm",
            }
            with running_up(env, tmp_path, "--workers", "2", "--edges", "2") as up:
                await asyncio.to_thread(up.wait_ready, FIRST_START_S)
                for app in APPS:
                    await ari.wait_for_subscriber(TURN_S, app=app)
                stack = running_stack(data_dir)
                assert stack is not None, "up publishes its addresses in DATA_DIR/stack.json"
                client = await Client.connect(env["TEMPORAL_ADDRESS"])
                database = stack.settings["DATABASE_URL"]
                first = await _kill_a_worker_mid_turn(up, line, client, env, database)
                await _stop_an_edge(up, line, client, first)
                await _add_a_worker_by_hand(client, env, data_dir, tmp_path)
                assert up.interrupt() == 0, up.output()
            assert_nothing_left(data_dir, ports)
            assert running_stack(data_dir) is None, "stack.json goes with the stack"


@dataclass(frozen=True)
class OpenCall:
    channel: FakeChannel
    peer: AudioSocketPeer
    call_id: str


async def _kill_a_worker_mid_turn(
    up: Up, line: Line, client: Client, env: dict[str, str], database_url: str
) -> OpenCall:
    # The killed turn runs again from its start on the other worker and asks the LLM again:
    # the model answers the same way the second time.
    steps = [search("гречка"), pick_product(1)]
    channel, peer = await line.call(
        APPS[0],
        llm=[*steps, *steps, say("Ещё что-нибудь?"), say("Хорошо, жду.")],
        heard=["Гречку, одну пачку", "Пока всё"],
    )
    call_id = f"call-{peer.call_id}"
    assert line.ports[peer.call_id] == int(env["AUDIOSOCKET_PORT"]), "edge 1 took the call"
    workers_before = {name: pid for name, pid in pids(up).items() if name.startswith("worker")}
    assert len(workers_before) == 2

    async with httpx.AsyncClient(
        base_url=env["STORE_API_URL"], headers={"Authorization": f"Bearer {DEV_STORE_API_TOKEN}"}
    ) as store:
        faults = await store.put("/admin/faults", json={"latency_ms": 2000, "path_glob": "/orders"})
        assert faults.status_code == 200, faults.text
        await say_words(peer, "Гречку, одну пачку")
        await line.llm.wait_requests(call_id, 2)
        await asyncio.sleep(0.5)  # the draft's POST is now in flight at the Store API
        # The worker the call is sticky to runs the turn: the one that completed its last task.
        busy = task_workers(await history(client, call_id))[-1]
        assert busy in workers_before.values(), (busy, workers_before)
        killed = next(name for name, pid in workers_before.items() if pid == busy)
        output_mark = len(up.output())
        os.kill(busy, signal.SIGKILL)
        await store.delete("/admin/faults")

    events = await wait_for_turns(client, call_id, 2)
    assert await orders_of(database_url, call_id) == 1, "exactly one order"
    assert len(line.llm.requests(call_id)) >= 3, "the killed turn ran again"
    survivor = task_workers(events)[-1]
    assert survivor != busy and survivor in workers_before.values(), "the other worker"
    restarting = rf"{killed} was killed by SIGKILL; restarting it in"
    await wait_for_output(up, restarting, after=output_mark)
    await wait_for_output(up, rf"{killed} is ready again \(pid \d+\)", after=output_mark)
    assert "stopping the rest" not in up.output()
    return OpenCall(channel, peer, call_id)


async def _stop_an_edge(up: Up, line: Line, client: Client, first: OpenCall) -> None:
    first_channel, first_peer, first_call = first.channel, first.peer, first.call_id
    channel, peer = await line.call(APPS[1])
    assert line.ports[peer.call_id] == line.ports[first_peer.call_id] + 1, "edge 2 took it"
    edge_2 = pids(up)["edge-2"]
    output_mark = len(up.output())

    os.kill(edge_2, signal.SIGTERM)
    await line.ari.wait_until(lambda: (channel.id, "operators") in line.ari.continued, TURN_S)
    await asyncio.wait_for(peer.ended.wait(), TURN_S)

    # Edge 1's call goes on: another turn, answered.
    await say_words(first_peer, "Пока всё")
    await wait_for_turns(client, first_call, 3)
    assert first_peer.connected and (first_channel.id, "operators") not in line.ari.continued

    # `up` brings edge 2 back; it subscribes its app again and answers a new caller.
    await wait_for_output(up, r"edge-2 exited with code 0; restarting it in", after=output_mark)
    await wait_for_output(up, r"edge-2 is ready again \(pid \d+\)", after=output_mark)
    await line.ari.wait_for_subscriber(TURN_S, app=APPS[1])
    again_channel, again_peer = await line.call(APPS[1])
    assert again_peer.connected

    for caller in (first_channel, again_channel):
        await line.ari.caller_hangs_up(caller.id)
    await client.get_workflow_handle(first_call).result()

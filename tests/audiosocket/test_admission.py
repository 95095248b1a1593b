"""Reused and unknown AudioSocket UUIDs never become a second call (issue: a reused call id
cancelled a confirmed order). Unit tests of UuidGuard, then the running edge over real TCP."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from audiosocket.admission import Refusal, UuidGuard
from audiosocket.edge import Edge
from audiosocket.simulator.peer import AudioSocketPeer
from core.settings import Settings
from tests.audiosocket.conftest import EdgeCalls, running_edge
from tests.audiosocket.test_edge_e2e import QUIET_MS, TURN_TIMEOUT_S, AriRig, ari_rig, workflow_of
from tests.support.fake_llm import FakeLLM
from tests.support.fake_openai_audio import FakeSpeech
from tests.workflows.scripts import say

NIL = uuid.UUID(int=0)
__all__ = ["ari_rig"]  # the FakeAri + edge fixture of the e2e tests


def test_guard_refuses_the_nil_uuid_and_any_uuid_seen_before() -> None:
    guard = UuidGuard(remember=2)
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert guard.check(NIL) is Refusal.NIL_UUID
    assert guard.check(NIL) is Refusal.NIL_UUID  # never remembered as served
    assert guard.check(first) is None
    assert guard.check(first) is Refusal.UUID_REUSED
    assert guard.check(second) is None
    assert guard.check(third) is None
    # Bounded memory: the oldest is forgotten here; Temporal's reuse policy still refuses it.
    assert guard.check(first) is None


async def refused(edge_port: int, audiosocket_id: uuid.UUID) -> AudioSocketPeer:
    """Connect with `audiosocket_id`; returns once the edge ended the connection."""
    peer = await AudioSocketPeer.connect("127.0.0.1", edge_port, audiosocket_id, rate=8000)
    async with asyncio.timeout(10):
        await peer.ended.wait()
    return peer


def refusals(edge: Edge) -> dict[str, int]:
    return {reason: count for reason, count in edge.metrics.refused.items() if count}


async def workflow_runs(client: Client, workflow_id: str) -> int:
    return len([w async for w in client.list_workflows(f'WorkflowId = "{workflow_id}"')])


async def test_the_nil_uuid_is_refused_without_a_workflow(
    edge_calls: EdgeCalls, call_worker: Client
) -> None:
    peer = await refused(edge_calls.edge.port, NIL)
    assert peer.bot_hangup_kind == "0x00" and not peer.speech_spans()
    assert refusals(edge_calls.edge) == {"nil_uuid": 1}
    assert NIL not in edge_calls.edge.sessions
    with pytest.raises(RPCError):  # no call-000… workflow was ever started
        await call_worker.get_workflow_handle(f"call-{NIL}").describe()


async def test_a_reused_uuid_is_refused_by_the_same_edge_and_by_another_edge(
    edge_calls: EdgeCalls,
    call_worker: Client,
    call_settings: Settings,
    fake_speech: FakeSpeech,
    fake_llm: FakeLLM,
) -> None:
    first, session = await edge_calls.dial(llm=[say("Слушаю вас.")])
    await first.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
    # While the first call runs, and after it ended: the same UUID never starts a call again.
    again = await refused(edge_calls.edge.port, session.call.id)
    assert again.bot_hangup_kind == "0x00" and not again.speech_spans()
    await first.hang_up()
    assert await workflow_of(session).result() == "hung_up"
    # Another edge (or this one after a restart) has no memory of it: Temporal refuses it.
    async with running_edge(call_worker, call_settings, fake_speech) as other:
        later = await refused(other.port, session.call.id)
        assert not later.speech_spans()
        assert refusals(other) == {"uuid_reused": 1}
    assert refusals(edge_calls.edge) == {"uuid_reused": 1}
    assert await workflow_runs(call_worker, session.call_id) == 1


async def test_ari_on_a_uuid_the_router_never_asked_for_is_refused(
    ari_rig: AriRig, call_worker: Client
) -> None:
    stranger = uuid.uuid4()
    peer = await refused(ari_rig.edge.port, stranger)
    assert not peer.speech_spans()
    assert refusals(ari_rig.edge) == {"unknown_uuid": 1}
    with pytest.raises(RPCError):
        await call_worker.get_workflow_handle(f"call-{stranger}").describe()

"""Session pieces without the network (playout accounting, metrics), and session behaviour
over real TCP on the real call stack: no STT (an apology, keys still work, /metrics and
/health), the 8 kHz dialplan path under ARI, shutdown, the filler, silence re-prompts and an
STT outage. The scenario tests are in test_edge_e2e.py."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from audiosocket.edge import Edge
from audiosocket.metrics import EdgeMetrics, TurnLatency
from audiosocket.pacing import frame_bytes
from audiosocket.playout import PlayoutSource
from audiosocket.session import NO_STT, SessionTimings
from audiosocket.simulator.peer import AudioSocketPeer
from core.settings import Settings
from core.vocabulary import AgentMode
from store_api.seed.personas import NO_ORDERS
from tests.audiosocket import test_edge_e2e as e2e
from tests.audiosocket.conftest import (
    EdgeCalls,
    eventually,
    running_edge,
)
from tests.audiosocket.test_edge_e2e import (
    QUIET_MS,
    TURN_TIMEOUT_S,
    call_state,
    speak,
    turn,
    update_inputs,
)
from tests.support.fake_llm import FakeLLM
from tests.support.fake_openai_audio import FakeSpeech
from tests.support.payload_keys import TEST_DATA_CONVERTER
from tests.workflows.scripts import say

FRAME = frame_bytes(8000)


def test_played_time_counts_only_frames_the_send_loop_took() -> None:
    out = PlayoutSource(8000)
    out.enqueue(b"\x01\x00" * 800)  # a 100 ms filler already queued
    mark = out.mark()
    out.enqueue(b"\x02\x00" * 1600)  # the reply: 200 ms
    assert not out.drained.is_set()
    for _ in range(5):  # the filler plays
        out.next_frame()
    assert out.played_ms_since(mark) == 0
    for _ in range(3):
        out.next_frame()
    assert out.played_ms_since(mark) == 60
    dropped = out.clear()  # barge-in
    assert dropped == 7 and out.drained.is_set()
    assert out.next_frame() == bytes(FRAME)
    assert out.played_ms_since(mark) == 60  # silence is not played speech


def test_a_short_tail_is_padded_and_counted_by_its_real_length() -> None:
    out = PlayoutSource(8000)
    mark = out.mark()
    out.enqueue(b"\x05\x00" * 200)  # 25 ms: one frame and a 5 ms tail
    assert out.next_frame() == b"\x05\x00" * 160
    last = out.next_frame()
    assert last[:80] == b"\x05\x00" * 40 and last[80:] == bytes(FRAME - 80)
    assert out.played_ms_since(mark) == 25 and out.drained.is_set()


def test_prometheus_exposition() -> None:
    metrics = EdgeMetrics()
    metrics.call_started()
    metrics.turn(TurnLatency("call-1", "speech", 10.0, 10.2, 10.25, 10.26))
    metrics.turn(TurnLatency("call-1", "dtmf", 11.0, None, 11.05, None))
    metrics.failure("stt")
    metrics.barge_in()
    families = list(text_string_to_metric_families(metrics.render()))
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[name, tuple(sorted(labels.items()))]

    assert value("voiceorder_edge_calls_active") == 1
    assert value("voiceorder_edge_turns_total", kind="dtmf") == 1
    assert value("voiceorder_edge_turns_total", kind="silence") == 0  # exported from the start
    assert value("voiceorder_edge_failures_total", part="stt") == 1
    assert value("voiceorder_edge_barge_ins_total") == 1
    assert value("voiceorder_edge_turn_seconds_count") == 1  # the DTMF turn never played audio
    assert value("voiceorder_edge_update_seconds_count") == 2
    assert {f.name: f.type for f in families}["voiceorder_edge_stt_seconds"] == "histogram"
    # seconds, not ms: the speech turn's 200 ms STT falls in the 0.2 s bucket, not below
    assert value("voiceorder_edge_stt_seconds_bucket", le="0.15") == 0
    assert value("voiceorder_edge_stt_seconds_bucket", le="0.2") == 1
    assert metrics.failures["stt"] == 1 and metrics.turns == {"speech": 1, "dtmf": 1, "silence": 0}


def test_two_edges_in_one_process_count_apart() -> None:
    first, second = EdgeMetrics(), EdgeMetrics()
    first.filler()
    first.dtmf_duplicate()
    assert (first.fillers, first.dtmf_duplicates) == (1, 1)
    assert (second.fillers, second.dtmf_duplicates) == (0, 0)
    assert "voiceorder_edge_fillers_total 0.0" in second.render()


def test_turn_latency_stages() -> None:
    latency = TurnLatency("call-1", "speech", 1.0, 1.2, 1.25, 1.3)
    assert latency.as_log() == {
        "call_id": "call-1",
        "kind": "speech",
        "stt_ms": 200.0,
        "first_sentence_ms": None,
        "update_ms": 50.0,
        "tts_first_audio_ms": 50.0,
        "total_ms": 300.0,
        "end_of_turn_ms": None,
        "early_stt": False,
        "streamed": 0,
    }
    keys = TurnLatency("call-1", "dtmf", 1.0, None, 1.04, None)
    assert keys.stt_ms is None and keys.update_ms == 40.0 and keys.total_ms is None
    # Streamed: the first sentence came before the reply, and its audio before the reply too.
    streamed = TurnLatency("call-1", "speech", 1.0, 1.2, 1.9, 1.7, first_sentence=1.6, streamed=2)
    assert streamed.first_sentence_ms == 400.0 and streamed.tts_first_ms == 100.0
    assert streamed.update_ms == 700.0 and streamed.total_ms == 700.0


def test_metrics_histogram_every_stage_of_a_turn() -> None:
    metrics = EdgeMetrics()
    metrics.turn(
        TurnLatency(
            "call-1", "speech", 1.0, 1.05, 1.9, 1.7,
            first_sentence=1.6, streamed=2, end_of_turn_ms=400, early_stt=True,
        )
    )  # fmt: skip
    metrics.turn(TurnLatency("call-2", "dtmf", 1.0, None, 1.04, 1.1))
    counts = {
        sample.name: sample.value
        for family in text_string_to_metric_families(metrics.render())
        for sample in family.samples
        if sample.name.endswith("_seconds_count")
    }
    prefix = "voiceorder_edge_"
    assert counts[f"{prefix}end_of_turn_wait_seconds_count"] == 1  # keys wait for no silence
    assert counts[f"{prefix}first_sentence_seconds_count"] == 1
    assert counts[f"{prefix}stt_seconds_count"] == 1
    assert counts[f"{prefix}update_seconds_count"] == 2
    assert counts[f"{prefix}turn_seconds_count"] == 2
    assert (metrics.streamed_turns, metrics.early_stt_turns) == (1, 1)


async def test_without_stt_the_caller_hears_an_apology_and_keys_still_work(
    call_worker: Client, call_settings: Settings, fake_llm: FakeLLM, fake_speech: FakeSpeech
) -> None:
    async with running_edge(call_worker, call_settings, fake_speech, stt=False) as edge:
        calls = EdgeCalls(edge, fake_llm, fake_speech, call_settings)
        peer, session = await calls.dial()
        try:
            await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
            await turn(peer, "Алло, вы меня слышите?")
            apology = peer.speech_spans()[-1].duration
            # NO_STT's two sentences at 420 words a minute; the workflow never got a turn
            assert apology > 1.5, (apology, NO_STT)
            assert await update_inputs(session, "caller_said") == []

            base = f"http://127.0.0.1:{edge.metrics_port}"
            async with httpx.AsyncClient(base_url=base, timeout=5) as http:
                health = await http.get("/health")
                assert health.status_code == 200 and health.json()["calls_active"] == 1
                metrics = await http.get("/metrics")
            assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
            assert 'voiceorder_edge_turns_total{kind="speech"} 1' in metrics.text

            await peer.send_dtmf("0")
            async with asyncio.timeout(TURN_TIMEOUT_S):
                await peer.bot_hung_up.wait()
            assert session.workflow is not None
            assert await session.workflow.result() == "transferred"
        finally:
            await peer.hang_up()


ari_rig = e2e.ari_rig  # the FakeAri + ARI edge fixture, shared with the e2e tests


async def test_a_dialplan_connection_under_ari_is_answered_at_8_khz(ari_rig: e2e.AriRig) -> None:
    """AudioSocket() in the dialplan (no Stasis leg registered for the UUID) is always 8 kHz,
    even when the edge runs with ARI and its Stasis legs are slin16. ARI still vouches for
    the UUID: the dialplan set VOICEORDER_UUID on the caller's channel."""
    ari_rig.ari.channelvars = ["VOICEORDER_UUID"]
    audiosocket_id = uuid.uuid4()
    ari_rig.ari.dialplan_call(NO_ORDERS.phone, {"VOICEORDER_UUID": str(audiosocket_id)})
    peer = await AudioSocketPeer.connect("127.0.0.1", ari_rig.edge.port, audiosocket_id, rate=8000)
    ari_rig.peers[peer.call_id] = peer
    session = await ari_rig.edge.session(peer.call_id)
    await peer.wait_for_bot_speech(timeout_s=TURN_TIMEOUT_S)
    assert peer.bot_rate == 8000 and session.outbound.rate == 8000
    assert session.caller_number == NO_ORDERS.phone  # found by its variable over ARI


async def test_edge_shutdown_hands_its_callers_to_the_operators(ari_rig: e2e.AriRig) -> None:
    channel, peer, session = await ari_rig.place(NO_ORDERS.phone)
    await peer.wait_for_bot_speech(timeout_s=TURN_TIMEOUT_S)
    await ari_rig.edge.close()  # SIGTERM of `voiceorder edge` does this
    assert ari_rig.ari.continued == [(channel.id, "operators")]
    assert session.finished.is_set() and not peer.connected
    assert session.workflow is not None
    await session.workflow.result()
    assert (await e2e.call_state(session)).hangup_reason == "server_closed"


async def test_filler_silence_reprompt_and_stt_outage(
    call_worker: Client,
    call_settings: Settings,
    fake_llm: FakeLLM,
    fake_speech: FakeSpeech,
) -> None:
    timings = SessionTimings(filler_after_s=0.4, silence_reprompt_s=2.0, inter_digit_s=1.0)
    async with running_edge(call_worker, call_settings, fake_speech, timings=timings) as edge:
        calls = EdgeCalls(edge, fake_llm, fake_speech, call_settings)
        peer, session = await calls.dial(llm=[say("Гречка есть.")], heard=["Есть гречка?"])
        try:
            await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
            fake_llm.set_latency(2.0)
            try:
                stopped = await speak(peer, "Гречка")
                first = await peer.wait_for_bot_speech(since=stopped, timeout_s=TURN_TIMEOUT_S)
                workflow = session.workflow
                assert workflow is not None

                async def replied() -> bool:
                    return workflow.last_reply is not None and workflow.last_reply.reply_id == 2

                await eventually(replied)
                await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
            finally:
                fake_llm.set_latency(0.0)
            assert edge.metrics.fillers == 1
            # endpointing (0.45 s) + the LLM's 2 s come before any reply: this is the filler
            assert first - stopped < 2.4, first - stopped
            assert workflow.last_reply is not None
            assert workflow.last_reply.text == "Гречка есть."

            # no caller input: after the re-prompt timeout the bot asks again
            quiet = asyncio.get_running_loop().time()
            await peer.wait_for_bot_speech(since=quiet, timeout_s=10)
            await peer.wait_until_bot_quiet(QUIET_MS, since=quiet, timeout_s=TURN_TIMEOUT_S)
            assert "слышите" in workflow.last_reply.text
            assert (await call_state(session)).silences == 1

            # STT down: the caller hears an apology (and the hint to press 0), no turn is sent
            fake_speech.fail_all(503)
            try:
                await turn(peer, "Алло")
            finally:
                fake_speech.recover()
            assert edge.metrics.failures.get("stt") == 1
            assert workflow.last_reply.text.startswith("Вы меня слышите")
            assert (await call_state(session)).turn_no == 1
        finally:
            await peer.hang_up()


async def test_with_no_llm_the_edge_starts_guided_calls(
    call_worker: Client, call_settings: Settings, fake_llm: FakeLLM, fake_speech: FakeSpeech
) -> None:
    """AGENT=auto and no LLM configured: the edge's calls are led by the guided agent."""
    no_llm = call_settings.model_copy(update={"openai_base_url": None})
    assert Edge.from_settings(no_llm, call_worker).deps.agent == "guided"
    assert Edge.from_settings(call_settings, call_worker).deps.agent == "auto"
    async with running_edge(
        call_worker, call_settings, fake_speech, stt=False, agent=AgentMode.GUIDED
    ) as edge:
        peer, session = await EdgeCalls(edge, fake_llm, fake_speech, call_settings).dial()
        try:
            await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
            assert (await call_state(session)).agent_mode == "guided"
        finally:
            await peer.hang_up()


async def test_the_edge_carries_call_attention_after_s_into_the_call(
    call_worker: Client, call_settings: Settings, fake_llm: FakeLLM, fake_speech: FakeSpeech
) -> None:
    """CALL_ATTENTION_AFTER_S reaches the workflow's CallStart from the edge too (it did
    only from `voiceorder chat`)."""
    tuned = call_settings.model_copy(update={"call_attention_after_s": 7})
    assert Edge.from_settings(tuned, call_worker).deps.attention_after_s == 7
    async with running_edge(
        call_worker, call_settings, fake_speech, stt=False, attention_after_s=7
    ) as edge:
        peer, session = await EdgeCalls(edge, fake_llm, fake_speech, call_settings).dial()
        try:
            await peer.wait_for_bot_speech(timeout_s=TURN_TIMEOUT_S)
            assert session.workflow is not None
            history = await session.workflow.handle.fetch_history()
            started = history.events[0].workflow_execution_started_event_attributes
            [call_start] = await TEST_DATA_CONVERTER.decode(started.input.payloads[:1])
            assert call_start["attention_after_s"] == 7
        finally:
            await peer.hang_up()


def test_a_pause_keeps_the_queue_and_resume_goes_on_where_it_stopped() -> None:
    taps: list[bytes] = []
    out = PlayoutSource(8000, tap=taps.append)
    mark = out.mark()
    out.begin_sentence()
    out.enqueue(b"\x01\x00" * 1600)  # 200 ms
    for _ in range(3):
        out.next_frame()
    out.pause()
    assert out.next_frame() == bytes(FRAME) and not out.drained.is_set()
    assert out.played_ms_since(mark) == 60
    assert out.resume(rewind=False) == 0
    frames = [out.next_frame() for _ in range(7)]
    assert all(frame == b"\x01\x00" * 160 for frame in frames) and out.drained.is_set()
    assert out.played_ms_since(mark) == 200
    assert len(taps) == 11 and taps[3] == bytes(FRAME)  # silence is handed to the tap too


def test_a_rewinding_resume_replays_the_sentence_and_moves_the_position_back() -> None:
    out = PlayoutSource(8000)
    mark = out.mark()
    out.begin_sentence()
    out.enqueue(b"\x01\x00" * 480)  # sentence one: 60 ms
    out.begin_sentence()
    out.enqueue(b"\x02\x00" * 400 + b"\x03\x00" * 400)  # sentence two: 100 ms
    for _ in range(5):  # one, then 40 ms of two
        out.next_frame()
    out.pause()
    assert out.played_ms_since(mark) == 100
    assert out.resume(rewind=True) == 40  # back to the start of sentence two
    assert out.played_ms_since(mark) == 60
    played = b"".join(out.next_frame() for _ in range(5))
    assert played == b"\x02\x00" * 400 + b"\x03\x00" * 400 and out.drained.is_set()
    assert out.played_ms_since(mark) == 160
    out.begin_sentence()
    out.enqueue(b"\x04\x00" * 160)
    out.next_frame()
    out.pause()
    assert out.resume(rewind=True) == 20  # only the sentence being played is replayed
    assert out.clear() == 1 and not out.paused

"""The edge end to end over real TCP: a simulated Asterisk (AudioSocketPeer, FakeAri) → edge →
real CallWorkflow on the Temporal dev server, real Store API and PostgreSQL → audio back.

STT is FakeSpeech (transcripts scripted per call id `call-<uuid>`), the LLM is FakeLLM, TTS
is espeak-ng; the caller's audio is espeak speech too, so silero's VAD hears real speech.
Timing bounds are loose (a loaded 2-core box); the measured values are printed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowHandle

from audiosocket.ari import AriClient
from audiosocket.edge import Edge
from audiosocket.protocol import Uuid, encode
from audiosocket.session import EdgeCallSession
from audiosocket.simulator.fake_ari import FakeAri, FakeChannel
from audiosocket.simulator.peer import AudioSocketPeer
from core.settings import Settings
from prompts import keypad_line
from store_api.seed.personas import NO_ORDERS
from tests.audiosocket.conftest import (
    EdgeCalls,
    caller_speech,
    eventually,
    running_edge,
)
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.fake_openai_audio import FakeSpeech
from tests.support.payload_keys import TEST_DATA_CONVERTER
from tests.support.servers import StoreApiServer
from tests.workflows.history import keep_history
from tests.workflows.scripts import COURIER_TVERSKAYA, pick_product, say, search
from workflows.state import CallState

QUIET_MS = 500  # the bot has finished its reply (espeak's sentence pauses are shorter)
TURN_TIMEOUT_S = 30


async def speak(peer: AudioSocketPeer, text: str) -> float:
    """The caller says `text` (espeak audio, paced in real time); returns when they stopped."""
    pcm = await asyncio.to_thread(caller_speech, text, peer.rate)
    await peer.play(pcm)
    return asyncio.get_running_loop().time()


async def turn(peer: AudioSocketPeer, text: str) -> None:
    """One caller turn: speak, then wait until the bot answered and fell quiet."""
    stopped = await speak(peer, text)
    await peer.wait_until_bot_quiet(QUIET_MS, since=stopped, timeout_s=TURN_TIMEOUT_S)


def workflow_of(session: EdgeCallSession) -> WorkflowHandle[Any, str]:
    assert session.workflow is not None, "the call workflow did not start"
    return session.workflow.handle


async def call_state(session: EdgeCallSession) -> CallState:
    state: CallState = await workflow_of(session).query("state", result_type=CallState)
    return state


async def update_inputs(session: EdgeCallSession, name: str) -> list[dict[str, Any]]:
    """The arguments of every accepted `name` update, from the workflow's history."""
    history = await workflow_of(session).fetch_history()
    found = []
    for event in history.events:
        if event.HasField("workflow_execution_update_accepted_event_attributes"):
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if request.input.name == name:
                [payload] = await TEST_DATA_CONVERTER.decode(request.input.args.payloads[:1])
                found.append(payload)
    return found


async def signals(session: EdgeCallSession, name: str) -> int:
    history = await workflow_of(session).fetch_history()
    return sum(
        1
        for event in history.events
        if event.HasField("workflow_execution_signaled_event_attributes")
        and event.workflow_execution_signaled_event_attributes.signal_name == name
    )


async def orders_of_call(store_api: StoreApiServer, phone: str, call_id: str) -> list[Any]:
    async with httpx.AsyncClient(base_url=store_api.base_url, headers=store_api.auth) as api:
        found = (await api.get("/orders/search", params={"phone": phone, "limit": 20})).json()
        orders = [(await api.get(f"/orders/{o['id']}")).json() for o in found["items"]]
    return [o for o in orders if o["call_id"] == call_id]


async def audit_events(settings: Settings, call_id: str) -> list[str]:
    import asyncpg

    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch(
            "SELECT event FROM bot.order_audit WHERE call_id = $1 ORDER BY at, id", call_id
        )
    finally:
        await conn.close()
    return [r["event"] for r in rows]


# --- the ARI path: FakeAri places calls, the edge's router answers and bridges them ---------


@dataclass
class AriRig:
    ari: FakeAri
    edge: Edge
    llm: FakeLLM
    speech: FakeSpeech
    settings: Settings
    peers: dict[uuid.UUID, AudioSocketPeer] = field(default_factory=dict)
    _scripts: list[tuple[list[Reply], list[str]]] = field(default_factory=list)
    _watchers: set[asyncio.Task[None]] = field(default_factory=set)

    async def connect_leg(self, host: str, port: int, leg_id: uuid.UUID, fmt: str) -> object:
        """Asterisk dials the edge during externalMedia: the UUID the router chose names the
        call, so the fakes are scripted for `call-<uuid>` here, before the first frame."""
        llm, heard = self._scripts.pop(0) if self._scripts else ([], [])
        if llm:
            self.llm.script(f"call-{leg_id}", llm)
        if heard:
            self.speech.script(f"call-{leg_id}", heard)
        rate = 16000 if fmt == "slin16" else 8000
        peer = await AudioSocketPeer.connect(host, port, leg_id, rate=rate)
        self.peers[leg_id] = peer
        watcher = asyncio.create_task(self._leg_closed_by_edge(leg_id, peer))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        return peer

    async def _leg_closed_by_edge(self, leg_id: uuid.UUID, peer: AudioSocketPeer) -> None:
        await peer.ended.wait()
        if peer.bot_hung_up.is_set():  # 0x00 or EOF from the edge, not ARI deleting the leg
            await self.ari.media_leg_closed(leg_id)  # Asterisk hangs up that channel

    async def place(
        self, phone: str | None, *, llm: list[Reply] | None = None, heard: list[str] | None = None
    ) -> tuple[FakeChannel, AudioSocketPeer, EdgeCallSession]:
        self._scripts.append((llm or [], heard or []))
        channel = await self.ari.place_call(phone)
        router = self.edge.router
        assert router is not None

        async def bridged() -> bool:
            return any(c.caller_channel_id == channel.id and c.bridged for c in router.calls)

        await eventually(bridged, 10)
        leg_id = next(c.audiosocket_id for c in router.calls if c.caller_channel_id == channel.id)
        return channel, self.peers[leg_id], await self.edge.session(leg_id)


@pytest.fixture
async def ari_rig(
    call_worker: Client, call_settings: Settings, fake_llm: FakeLLM, fake_speech: FakeSpeech
) -> AsyncIterator[AriRig]:
    holder: list[AriRig] = []

    async def connector(host: str, port: int, leg_id: uuid.UUID, fmt: str) -> object:
        return await holder[0].connect_leg(host, port, leg_id, fmt)

    async with FakeAri(media_connector=connector) as ari:
        client = AriClient(ari.base_url, ari.user, ari.password, ari.app)
        async with running_edge(call_worker, call_settings, fake_speech, ari=client) as edge:
            rig = AriRig(ari, edge, fake_llm, fake_speech, call_settings)
            holder.append(rig)
            await ari.wait_for_subscriber()
            try:
                yield rig
            finally:
                for peer in rig.peers.values():
                    await peer.hang_up()
                for watcher in list(rig._watchers):
                    watcher.cancel()


def s4_script() -> list[Reply]:
    return [
        search("гречка"),
        say("Есть гречка ядрица. Сколько пачек?"),
        pick_product(2),
        say("Доставить курьером или заберёте сами?"),
        Reply.tool("update_order_delivery", COURIER_TVERSKAYA),
        Reply.tool("confirm_order"),  # the read-back; its plain "да" the workflow confirms
        Reply.tool("end_call", {"reason": "заказ оформлен"}),
    ]


async def test_s4_full_order_by_voice_through_ari(
    ari_rig: AriRig, store_api: StoreApiServer
) -> None:
    channel, peer, session = await ari_rig.place(
        NO_ORDERS.phone,
        llm=s4_script(),
        heard=[
            "Хочу заказать гречку",
            "Две пачки",
            "Курьером: Москва, Тверская семь, квартира двенадцать",
            "Да, всё верно",
            "Нет, спасибо, это всё",
        ],
    )
    assert peer.rate == 16000 and session.outbound.rate == 16000  # externalMedia, slin16
    await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
    assert session.caller_number == NO_ORDERS.phone  # from StasisStart, into the workflow
    assert (await call_state(session)).caller_phone == NO_ORDERS.phone
    assert session.workflow is not None and session.workflow.last_reply is not None
    assert "Дмитрий" in session.workflow.last_reply.text

    for phrase, stage in (
        ("Хочу заказать гречку", "LISTENING"),
        ("Две пачки", "DRAFTING"),
        ("Курьером, Тверская семь", "AWAITING_CONFIRMATION"),
        ("Да, всё верно", "CONFIRMED"),
    ):
        await turn(peer, phrase)
        assert session.workflow.last_reply.stage == stage, session.workflow.last_reply

    stopped = await speak(peer, "Нет, спасибо, это всё")
    async with asyncio.timeout(TURN_TIMEOUT_S):
        await peer.ended.wait()  # ARI deleted the leg after the bot's goodbye
    ended = asyncio.get_running_loop().time()
    goodbye = peer.speech_spans(since=stopped)
    assert goodbye, "the goodbye was not played before the hang-up"
    assert ended >= goodbye[-1].end - 0.1
    assert await session.workflow.result() == "order_confirmed"
    await keep_history(session.workflow, "edge_s4_courier_by_voice")
    # The bot ended the call: ARI deleted the caller channel (Asterisk would leave the
    # caller alone in the bridge otherwise), then the leg and the bridge.
    await ari_rig.ari.wait_until(lambda: channel.id in ari_rig.ari.deleted_channels)
    await ari_rig.ari.wait_until(lambda: not ari_rig.ari.bridges)

    orders = await orders_of_call(store_api, NO_ORDERS.phone, session.call_id)
    assert [o["status"] for o in orders] == ["confirmed"]
    assert orders[0]["items"][0]["quantity"] == 2
    events = await audit_events(ari_rig.settings, session.call_id)
    for event in ("order_draft_created", "order_readback_spoken", "order_confirmed", "sms_sent"):
        assert event in events, (event, events)
    ari_rig.llm.assert_consumed(session.call_id)
    ari_rig.speech.assert_consumed(session.call_id)
    # every turn's playback was reported in full (the caller never interrupted)
    reports = [t["previous_playback"] for t in await update_inputs(session, "caller_said")]
    assert all(r is not None and r["played_to_end"] for r in reports), reports


async def draft_by_voice(
    rig: AriRig, llm_after_draft: list[Reply], heard_after: list[str]
) -> tuple[FakeChannel, AudioSocketPeer, EdgeCallSession]:
    """An ARI call of a known caller that reached DRAFTING by voice."""
    channel, peer, session = await rig.place(
        NO_ORDERS.phone,
        llm=[search("гречка"), pick_product(1), say("Как доставить?"), *llm_after_draft],
        heard=["Гречку, одну пачку", *heard_after],
    )
    await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
    await turn(peer, "Гречку, одну пачку")
    assert session.workflow is not None and session.workflow.last_reply is not None
    assert session.workflow.last_reply.stage == "DRAFTING"
    return channel, peer, session


async def test_s6_cancel_by_voice_and_s8_hang_up_mid_draft_two_calls_at_once(
    ari_rig: AriRig, store_api: StoreApiServer
) -> None:
    """Two callers at the same time: one cancels by voice (S6), one hangs up while drafting
    (S8: the draft is cancelled by post-call work); ARI cleans up the hung-up call."""

    async def s6() -> EdgeCallSession:
        channel, peer, session = await draft_by_voice(
            ari_rig,
            [Reply.tool("cancel_order", {"reason": "покупатель передумал"}), say("Отменила.")],
            ["Отмена, не надо"],
        )
        await turn(peer, "Отмена, не надо")
        assert session.workflow is not None and session.workflow.last_reply is not None
        assert session.workflow.last_reply.stage == "CANCELLED"
        await ari_rig.ari.caller_hangs_up(channel.id)
        return session

    async def s8() -> EdgeCallSession:
        channel, peer, session = await draft_by_voice(ari_rig, [], [])
        # ChannelHangupRequest → ChannelLeftBridge → StasisEnd → ChannelDestroyed; the
        # AudioSocket leg stays up until the router deletes it (then EOF).
        await ari_rig.ari.caller_hangs_up(channel.id)
        async with asyncio.timeout(10):
            await session.finished.wait()
            await peer.ended.wait()
        return session

    cancelled, hung_up = await asyncio.gather(s6(), s8())
    for session in (cancelled, hung_up):
        await workflow_of(session).result()  # post-call work done
        orders = await orders_of_call(store_api, NO_ORDERS.phone, session.call_id)
        assert [o["status"] for o in orders] == ["cancelled"], session.call_id
        assert "order_cancelled" in await audit_events(ari_rig.settings, session.call_id)
        assert await signals(session, "hang_up") == 1
    assert cancelled.workflow is not None and hung_up.workflow is not None
    await keep_history(cancelled.workflow, "edge_s6_cancel_by_voice")
    await keep_history(hung_up.workflow, "edge_s8_hang_up_mid_draft")
    assert (await call_state(hung_up)).hangup_reason == "caller"
    ari = ari_rig.ari
    await ari.wait_until(lambda: not ari.media_channels() and not ari.bridges)
    assert len(ari.destroyed_bridges) == 2


async def test_ari_dtmf_reported_twice_counts_once_and_zero_transfers(ari_rig: AriRig) -> None:
    channel, peer, session = await ari_rig.place(
        NO_ORDERS.phone, llm=[say("Не нашла такой заказ.")]
    )
    await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
    # Asterisk reports a key on both paths: 0x03 on the AudioSocket and ChannelDtmfReceived.
    await peer.send_dtmf("5")
    await ari_rig.ari.press(channel.id, "5")
    await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
    state = await call_state(session)
    pressed = [m["content"] for m in state.messages if m["role"] == "user"]
    assert pressed == [keypad_line("5")], pressed

    await ari_rig.ari.press(channel.id, "0")
    await peer.send_dtmf("0")
    async with asyncio.timeout(TURN_TIMEOUT_S):
        await peer.ended.wait()
    assert peer.speech_spans(), "the transfer was not announced"
    assert await workflow_of(session).result() == "transferred"
    ari = ari_rig.ari
    # the caller continues in the operator context; the bot's leg and bridge are gone
    assert ari.continued == [(channel.id, "operators")]
    assert channel.id not in ari.deleted_channels
    await ari.wait_until(lambda: not ari.media_channels() and not ari.bridges)
    assert ari_rig.edge.metrics.dtmf_duplicates == 2
    events = await audit_events(ari_rig.settings, session.call_id)
    assert events.count("call_transferred") == 1


# --- the dialplan AudioSocket() path: no ARI, 8 kHz, caller number unknown -------------------


async def test_silence_flows_before_the_greeting_and_pacing_holds(edge_calls: EdgeCalls) -> None:
    loop = asyncio.get_running_loop()
    dialled = loop.time()
    peer, session = await edge_calls.dial(llm=[say("Слушаю.")], heard=["Алло"])
    greeting = await peer.wait_for_bot_speech(since=dialled, timeout_s=TURN_TIMEOUT_S)
    await peer.wait_until_bot_quiet(QUIET_MS, since=dialled, timeout_s=TURN_TIMEOUT_S)
    await turn(peer, "Алло")
    before = [pcm for at, pcm in peer.received if at < greeting]
    assert before, "no audio before the greeting: silence must flow from the first moment"
    assert peer.received[0][0] - dialled < 0.5
    assert all(not any(frame) for frame in before)
    assert session.caller_number is None and session.outbound.rate == 8000
    pacing = peer.pacing()
    print(f"\nedge pacing over a call (peer, edge and worker share one loop): {pacing}")
    # Loose: here the worker and the fakes run on the edge's event loop and can stall it;
    # `voiceorder bench edge-pacing` measures the edge on its own.
    assert pacing.lateness_p99_ms < 60 and pacing.max_gap_ms < 400, pacing
    assert abs(pacing.audio_seconds - (loop.time() - peer.received[0][0])) < 0.5

    await peer.hang_up()  # EOF, as Asterisk does when the caller hangs up
    async with asyncio.timeout(10):
        await session.finished.wait()
    await workflow_of(session).result()
    assert await signals(session, "hang_up") == 1
    assert (await call_state(session)).hangup_reason == "caller"


async def test_barge_in_cuts_bot_audio_and_reports_what_was_played(
    edge_calls: EdgeCalls,
) -> None:
    long_reply = (
        "Доставка работает каждый день с девяти утра до девяти вечера. "
        "Курьер привезёт заказ в выбранный двухчасовой интервал. "
        "Стоимость доставки зависит от суммы заказа и района. "
        "Самовывоз из любого пункта выдачи бесплатный."
    )
    peer, session = await edge_calls.dial(
        llm=[say(long_reply), say("Слушаю вас.")], heard=["Расскажите о доставке", "Подождите"]
    )
    await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
    interruption = await asyncio.to_thread(caller_speech, "Подождите, подождите", peer.rate)
    # A whole phrase, not one word: a lone short word on a loaded box may stay under the
    # VAD's speech threshold, and then no turn starts at all.
    stopped = await speak(peer, "Расскажите, пожалуйста, о доставке")
    reply_started = await peer.wait_for_bot_speech(since=stopped, timeout_s=TURN_TIMEOUT_S)
    await asyncio.sleep(1.0)
    loop = asyncio.get_running_loop()
    caller_onset = loop.time()
    await peer.play(interruption)
    stopped = loop.time()
    cut = peer.speech_spans(since=reply_started)[0].end - caller_onset
    print(f"\nbarge-in: bot audio stopped {cut * 1000:.0f} ms after the caller's onset")
    assert cut < 0.4, f"bot kept talking {cut:.3f} s into the caller's speech"
    workflow = session.workflow
    assert workflow is not None

    async def answered() -> bool:
        # Not the first bot speech after the cut: on a loaded box the filler can come first.
        return workflow.last_reply is not None and workflow.last_reply.text == "Слушаю вас."

    await eventually(answered, TURN_TIMEOUT_S)

    played = (await update_inputs(session, "caller_said"))[1]["previous_playback"]
    heard_ms = (caller_onset - reply_started) * 1000
    print(f"barge-in: reported played_ms={played['played_ms']}, peer heard ~{heard_ms:.0f} ms")
    assert played["played_to_end"] is False
    assert abs(played["played_ms"] - heard_ms) < 400, (played, heard_ms)
    assert edge_calls.edge.metrics.barge_ins == 1


async def test_dtmf_zero_transfers_after_the_announcement(edge_calls: EdgeCalls) -> None:
    peer, session = await edge_calls.dial()
    await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
    pressed = asyncio.get_running_loop().time()
    await peer.send_dtmf("0")
    await peer.wait_for_bot_speech(since=pressed, timeout_s=TURN_TIMEOUT_S)
    await peer.send_dtmf("5")  # the announcement of a call's end is not cut
    async with asyncio.timeout(TURN_TIMEOUT_S):
        await peer.bot_hung_up.wait()
    assert edge_calls.edge.metrics.barge_ins == 0
    spans = peer.speech_spans(since=pressed)
    assert spans, "the transfer was not announced"
    assert peer.bot_hangup_kind == "0x00"
    assert peer.bot_hangup_at is not None and peer.bot_hangup_at >= spans[-1].end - 0.1
    assert await workflow_of(session).result() == "transferred"
    assert "call_transferred" in await audit_events(edge_calls.settings, session.call_id)


async def test_a_bad_frame_ends_only_its_own_call(edge_calls: EdgeCalls) -> None:
    good, good_session = await edge_calls.dial(llm=[say("Слушаю вас.")], heard=["Алло"])
    bad_id = uuid.uuid4()
    reader, writer = await asyncio.open_connection("127.0.0.1", edge_calls.edge.port)
    writer.write(encode(Uuid(bad_id)))
    bad_session = await edge_calls.edge.session(bad_id)
    await good.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
    # an unknown kind with a payload: Asterisk never sends it; the edge must drop the call
    writer.write(b"\x42\x00\x03abc")
    async with asyncio.timeout(10):
        while await reader.read(4096):  # silence frames, then EOF
            pass
        await bad_session.finished.wait()
    writer.close()
    await workflow_of(bad_session).result()
    assert (await call_state(bad_session)).hangup_reason == "protocol_error"
    await turn(good, "Алло")
    assert good_session.workflow is not None and good_session.workflow.last_reply is not None
    assert good_session.workflow.last_reply.text == "Слушаю вас."
    assert good.connected and good.pacing().max_gap_ms < 400

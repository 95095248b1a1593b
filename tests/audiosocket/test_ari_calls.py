"""AriCallRouter against FakeAri over real HTTP/WebSocket, with a real AudioSocketServer as the
edge end of the media leg (FakeAri's default connector dials it and sends the UUID frame)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import pytest

from audiosocket.ari import AriClient
from audiosocket.ari_calls import AriCall, AriCallRouter
from audiosocket.pacing import FrameSource
from audiosocket.server import AudioSocketServer, Call, HangupReason
from audiosocket.simulator.fake_ari import FakeAri, FakeChannel
from audiosocket.testing import RecordingHandler

TIMEOUT = 10.0


@dataclass
class Listener:
    digits: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    hangups: list[uuid.UUID] = field(default_factory=list)
    fail_dtmf_for: set[uuid.UUID] = field(default_factory=set)

    async def on_caller_dtmf(self, audiosocket_id: uuid.UUID, digit: str) -> None:
        if audiosocket_id in self.fail_dtmf_for:
            raise RuntimeError("listener bug")
        self.digits.append((audiosocket_id, digit))

    async def on_caller_hangup(self, audiosocket_id: uuid.UUID) -> None:
        self.hangups.append(audiosocket_id)


@dataclass
class Rig:
    ari: FakeAri
    router: AriCallRouter
    listener: Listener
    handlers: dict[uuid.UUID, RecordingHandler]
    seen_at_connect: dict[uuid.UUID, AriCall | None]
    edge: AudioSocketServer

    async def call(
        self,
        number: str | None = "+79161234567",
        *,
        caller_name: str | None = None,
        exten: str = "100",
    ) -> tuple[FakeChannel, AriCall]:
        """Place a call and wait until both legs are bridged."""
        channel = await self.ari.place_call(number, caller_name=caller_name, exten=exten)
        await self.ari.wait_until(lambda: self.call_of(channel) is not None)
        call = self.call_of(channel)
        assert call is not None
        await self.ari.wait_until(lambda: call.bridged, TIMEOUT)
        return channel, call

    def call_of(self, channel: FakeChannel) -> AriCall | None:
        return next((c for c in self.router.calls if c.caller_channel_id == channel.id), None)


@asynccontextmanager
async def _rig(
    *, media_stasis_delay: float = 0.1, orphan_grace: float | None = 5.0
) -> AsyncIterator[Rig]:
    handlers: dict[uuid.UUID, RecordingHandler] = {}
    seen: dict[uuid.UUID, AriCall | None] = {}
    router_box: list[AriCallRouter] = []

    def factory(call: Call) -> RecordingHandler:
        # What the edge does when the UUID frame arrives: find the caller.
        seen[call.id] = router_box[0].lookup(call.id)
        handler = RecordingHandler(call, FrameSource(16000))
        handlers[call.id] = handler
        return handler

    async with (
        AudioSocketServer("127.0.0.1", 0, factory) as edge,
        FakeAri(media_stasis_delay=media_stasis_delay) as ari,
    ):
        client = AriClient(
            ari.base_url, "asterisk", "asterisk", "voiceorder", reconnect_initial=0.05
        )
        router = AriCallRouter(
            client,
            external_host=f"127.0.0.1:{edge.port}",
            operator_context="operators",
            orphan_grace=orphan_grace,
        )
        router_box.append(router)
        listener = Listener()
        router.set_listener(listener)
        task = asyncio.create_task(router.run())
        try:
            await ari.wait_for_subscriber()
            yield Rig(ari, router, listener, handlers, seen, edge)
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
            await client.close()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with _rig() as r:
        yield r


async def test_caller_number_reaches_the_edge_by_uuid(rig: Rig) -> None:
    channel, call = await rig.call("+79161234567", caller_name="Иван", exten="200")
    assert call.caller_number == "+79161234567"
    assert call.caller_name == "Иван"
    assert call.exten == "200"
    # The edge's UUID frame arrived during externalMedia and already found the caller.
    found = rig.seen_at_connect[call.audiosocket_id]
    assert found is not None and found.caller_number == "+79161234567"
    assert rig.router.lookup(call.audiosocket_id) is call
    assert await rig.router.wait_for(call.audiosocket_id, 0.1) is call
    # Both legs in one mixing bridge, caller answered.
    bridge = rig.ari.bridges[call.bridge_id or ""]
    assert bridge.bridge_type == "mixing"
    assert set(bridge.channels) == {channel.id, call.media_channel_id}
    assert rig.ari.channels[channel.id].state == "Up"


async def test_router_logs_only_the_masked_caller_number(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """SEC4: the caller's full number never reaches the edge's logs."""
    caplog.set_level("DEBUG")
    _, call = await rig.call("+79161234567")
    await rig.router.hang_up(call.audiosocket_id)
    assert "+7916***4567" in caplog.text
    assert "79161234567" not in caplog.text


async def test_external_media_parameters(rig: Rig) -> None:
    _, call = await rig.call()
    (request,) = rig.ari.requests_to("POST", "/channels/externalMedia")
    assert request.query == {
        "app": "voiceorder",
        "external_host": f"127.0.0.1:{rig.edge.port}",
        "encapsulation": "audiosocket",
        "transport": "tcp",
        "format": "slin16",
        "data": str(call.audiosocket_id),
    }
    assert uuid.UUID(request.query["data"]).version == 4


async def test_media_leg_is_added_only_after_its_stasis_start() -> None:
    # A long race window: adding the leg right after the HTTP reply would get 422.
    async with _rig(media_stasis_delay=0.5) as rig:
        _, call = await rig.call()
        adds = rig.ari.requests_to("POST", "/addChannel")
        assert [r.query["channel"] for r in adds] == [
            call.caller_channel_id,
            call.media_channel_id,
        ]
        assert [r.status for r in adds] == [204, 204], "a 422 means the race was lost"
        # Its own StasisStart started no second call.
        assert len(rig.router.calls) == 1


async def test_caller_hang_up_notifies_once_and_cleans_up(rig: Rig) -> None:
    channel, call = await rig.call()
    handler = rig.handlers[call.audiosocket_id]
    await rig.ari.caller_hangs_up(channel.id)
    await rig.ari.wait_until(lambda: call.bridge_id in rig.ari.destroyed_bridges)
    assert rig.listener.hangups == [call.audiosocket_id]
    assert call.media_channel_id in rig.ari.deleted_channels
    assert channel.id not in rig.ari.deleted_channels  # it was already gone
    # Deleting the media channel closed the AudioSocket TCP: the edge sees the caller leave.
    async with asyncio.timeout(TIMEOUT):
        await handler.ended.wait()
    assert handler.reasons == [HangupReason.CALLER]
    await rig.ari.wait_until(lambda: rig.router.lookup(call.audiosocket_id) is None)
    await asyncio.sleep(0.1)
    assert rig.listener.hangups == [call.audiosocket_id]


async def test_bot_hang_up_deletes_the_caller(rig: Rig) -> None:
    channel, call = await rig.call()
    await rig.router.hang_up(call.audiosocket_id)
    assert channel.id in rig.ari.deleted_channels
    assert call.media_channel_id in rig.ari.deleted_channels
    assert call.bridge_id in rig.ari.destroyed_bridges
    assert not rig.ari.channels  # nobody left on the fake PBX
    await asyncio.sleep(0.1)
    assert rig.listener.hangups == []  # the bot's own hang-up is not the caller's
    await rig.router.hang_up(call.audiosocket_id)  # twice: harmless


async def test_transfer_continues_in_the_operator_context(rig: Rig) -> None:
    channel, call = await rig.call()
    assert await rig.router.transfer(call.audiosocket_id)
    assert rig.ari.continued == [(channel.id, "operators")]
    (request,) = rig.ari.requests_to("POST", f"/channels/{channel.id}/continue")
    assert request.query == {"context": "operators"}
    # The caller leaves the bridge before `continue`, so the operator never hears the bot's leg.
    (removal,) = rig.ari.requests_to("POST", f"/bridges/{call.bridge_id}/removeChannel")
    assert (removal.query, removal.status) == ({"channel": channel.id}, 204)
    assert rig.ari.requests.index(removal) < rig.ari.requests.index(request)
    assert channel.id not in rig.ari.deleted_channels
    assert call.media_channel_id in rig.ari.deleted_channels
    assert call.bridge_id in rig.ari.destroyed_bridges
    assert rig.ari.channels[channel.id].context == "operators"
    await asyncio.sleep(0.1)
    assert rig.listener.hangups == []


async def test_dtmf_reaches_the_listener_in_order(rig: Rig) -> None:
    channel, call = await rig.call()
    for digit in "12#":
        await rig.ari.press(channel.id, digit)
    await rig.ari.press(
        call.media_channel_id or "", "9"
    )  # the media leg's DTMF is not the caller's
    await rig.ari.wait_until(lambda: len(rig.listener.digits) == 3)
    assert rig.listener.digits == [(call.audiosocket_id, d) for d in "12#"]


async def test_websocket_drop_reconnects_and_keeps_routing(rig: Rig) -> None:
    channel, call = await rig.call()
    await rig.ari.drop_websockets()
    await rig.ari.wait_until(lambda: rig.ari.subscribers == 0, TIMEOUT)
    await rig.ari.wait_for_subscriber(TIMEOUT)
    # The existing call still works, and new calls are routed.
    await rig.ari.press(channel.id, "5")
    await rig.ari.wait_until(lambda: rig.listener.digits == [(call.audiosocket_id, "5")])
    _, second = await rig.call("+79990000000")
    assert second.caller_number == "+79990000000"


async def test_bad_json_event_is_skipped(rig: Rig) -> None:
    await rig.ari.send_raw("{not json")
    await rig.ari.send_raw('{"type": "StasisStart"}')  # no channel
    await rig.ari.send_raw("[1, 2]")
    _, call = await rig.call()
    assert call.bridged


async def test_one_calls_failure_does_not_affect_another(rig: Rig) -> None:
    good_channel, good = await rig.call("+70000000001")
    rig.listener.fail_dtmf_for.add(good.audiosocket_id)
    await rig.ari.press(good_channel.id, "1")  # the listener raises; the router carries on
    rig.ari.fail("POST", "/ari/channels/externalMedia", 500, "Internal Server Error")
    bad_channel = await rig.ari.place_call("+70000000002")
    # The bot cannot take it: the caller goes to the operators, the edge hears it is over.
    await rig.ari.wait_until(lambda: (bad_channel.id, "operators") in rig.ari.continued)
    await rig.ari.wait_until(lambda: len(rig.listener.hangups) == 1)
    await rig.ari.wait_until(lambda: rig.call_of(bad_channel) is None)
    # The first call is untouched and still fully served.
    assert good.bridged and rig.router.lookup(good.audiosocket_id) is good
    rig.listener.fail_dtmf_for.clear()
    await rig.ari.press(good_channel.id, "7")
    await rig.ari.wait_until(lambda: (good.audiosocket_id, "7") in rig.listener.digits)
    await rig.ari.caller_hangs_up(good_channel.id)
    await rig.ari.wait_until(lambda: good.audiosocket_id in rig.listener.hangups)


async def test_caller_hangs_up_while_the_media_leg_is_not_in_stasis_yet() -> None:
    async with _rig(media_stasis_delay=1.0) as rig:
        channel = await rig.ari.place_call("+79161234567")
        await rig.ari.wait_until(lambda: bool(rig.ari.media_channels()))
        await rig.ari.caller_hangs_up(channel.id)
        (media,) = rig.ari.requests_to("POST", "/channels/externalMedia")
        await rig.ari.wait_until(lambda: len(rig.ari.destroyed_bridges) == 1)
        assert len(rig.listener.hangups) == 1
        assert not rig.ari.channels, "the AudioSocket leg was deleted too"
        adds = rig.ari.requests_to("POST", "/addChannel")
        assert len(adds) == 1  # only the caller was ever added
        await rig.ari.wait_until(lambda: not rig.router.calls)
        assert media.query["data"] == str(rig.listener.hangups[0])


async def test_media_leg_ending_alone_hangs_up_the_caller_after_a_grace() -> None:
    async with _rig(orphan_grace=0.2) as rig:
        channel, call = await rig.call()
        # The edge sends 0x00 (Asterisk drops the leg) but never asks for hang-up/transfer.
        handler = rig.handlers[call.audiosocket_id]
        handler.call.hangup()
        await rig.ari.wait_until(lambda: channel.id in rig.ari.deleted_channels, TIMEOUT)
        await rig.ari.wait_until(lambda: call.bridge_id in rig.ari.destroyed_bridges)
        assert not rig.ari.channels


async def test_wait_for_an_unknown_uuid_times_out() -> None:
    async with _rig() as rig:
        assert await rig.router.wait_for(uuid.uuid4(), 0.05) is None
        assert rig.router.lookup(uuid.uuid4()) is None
        await rig.router.hang_up(uuid.uuid4())  # unknown: logged, no request
        assert not await rig.router.transfer(uuid.uuid4())
        assert not rig.ari.requests_to("DELETE", "")


async def test_media_stasis_start_before_the_http_reply() -> None:
    async with _rig(media_stasis_delay=-0.2) as rig:
        _, call = await rig.call()
        adds = rig.ari.requests_to("POST", "/addChannel")
        assert [r.status for r in adds] == [204, 204]
        assert rig.router.calls == [call]


async def test_many_concurrent_calls_are_kept_apart() -> None:
    async with _rig(media_stasis_delay=0.05) as rig:
        numbers = [f"+7916000{n:04d}" for n in range(20)]
        placed = await asyncio.gather(*(rig.call(n) for n in numbers))
        assert sorted(c.caller_number or "" for _, c in placed) == numbers
        assert len({c.audiosocket_id for _, c in placed}) == 20
        for _, call in placed:
            found = rig.seen_at_connect[call.audiosocket_id]
            assert found is call
        for channel, _ in placed[::2]:
            await rig.ari.press(channel.id, "3")
        await asyncio.gather(*(rig.ari.caller_hangs_up(ch.id) for ch, _ in placed[::2]))
        await asyncio.gather(*(rig.router.hang_up(c.audiosocket_id) for _, c in placed[1::2]))
        await rig.ari.wait_until(lambda: len(rig.ari.destroyed_bridges) == 20, TIMEOUT)
        assert sorted(rig.listener.hangups) == sorted(c.audiosocket_id for _, c in placed[::2])
        assert sorted(rig.listener.digits) == sorted(
            (c.audiosocket_id, "3") for _, c in placed[::2]
        )
        assert not rig.ari.channels
        await rig.ari.wait_until(lambda: not rig.router.calls)


async def test_dialplan_audiosocket_call_is_found_by_its_variable(rig: Rig) -> None:
    rig.ari.channelvars = ["VOICEORDER_UUID"]
    hung_up, transferred = uuid.uuid4(), uuid.uuid4()
    first = rig.ari.dialplan_call("+79161112233", {"VOICEORDER_UUID": str(hung_up)})
    second = rig.ari.dialplan_call(None, {"VOICEORDER_UUID": str(transferred)})
    rig.ari.dialplan_call("+70000000000", {})  # some other call on the PBX
    call = await rig.router.wait_for(hung_up, TIMEOUT)
    assert call is not None and call.via_dialplan
    assert (call.caller_number, call.caller_channel_id) == ("+79161112233", first.id)
    assert rig.router.lookup(hung_up) is call
    other = await rig.router.wait_for(transferred, TIMEOUT)
    assert other is not None and other.caller_number is None
    assert other.caller_channel_id == second.id
    # Bot hang-up deletes the caller (allowed outside Stasis); a transfer is the dialplan's.
    await rig.router.hang_up(hung_up)
    assert rig.ari.deleted_channels == [first.id]
    assert await rig.router.transfer(transferred)
    assert not rig.ari.requests_to("POST", "/continue")
    assert second.id in rig.ari.channels
    assert rig.router.lookup(hung_up) is None and rig.router.lookup(transferred) is None


async def test_hang_up_missed_while_events_were_down_is_noticed(rig: Rig) -> None:
    channel, call = await rig.call()
    rig.ari.accepting_websockets = False
    await rig.ari.drop_websockets()
    await rig.ari.wait_until(lambda: rig.ari.subscribers == 0)
    await rig.ari.caller_hangs_up(channel.id)  # nobody hears these events
    assert rig.listener.hangups == []
    rig.ari.accepting_websockets = True
    await rig.ari.wait_for_subscriber(TIMEOUT)
    await rig.ari.wait_until(lambda: call.bridge_id in rig.ari.destroyed_bridges, TIMEOUT)
    assert rig.listener.hangups == [call.audiosocket_id]
    assert call.media_channel_id in rig.ari.deleted_channels
    assert not rig.ari.channels


async def test_calls_left_by_a_previous_edge_go_to_the_operators() -> None:
    def factory(call: Call) -> RecordingHandler:
        return RecordingHandler(call, FrameSource(16000))

    async with (
        AudioSocketServer("127.0.0.1", 0, factory) as edge,
        FakeAri(media_stasis_delay=0.05) as ari,
    ):

        def router_for(client: AriClient) -> AriCallRouter:
            return AriCallRouter(
                client,
                external_host=f"127.0.0.1:{edge.port}",
                operator_context="operators",
                leftover_grace=0.5,
            )

        # The first edge process bridges a call, then dies without cleaning up.
        first_client = AriClient(ari.base_url, "asterisk", "asterisk", "voiceorder")
        first = router_for(first_client)
        first_task = asyncio.create_task(first.run())
        await ari.wait_for_subscriber()
        stranded = await ari.place_call("+79161234567")
        await ari.wait_until(lambda: bool(first.calls) and first.calls[0].bridged)
        media_id = first.calls[0].media_channel_id
        first_task.cancel()
        with suppress(asyncio.CancelledError):
            await first_task
        await first_client.close()
        await ari.wait_until(lambda: ari.subscribers == 0)
        # The next one sends the stranded caller to a human and drops the dead leg, but
        # leaves alone a call that arrives right as it connects.
        second_client = AriClient(ari.base_url, "asterisk", "asterisk", "voiceorder")
        second = router_for(second_client)
        second_task = asyncio.create_task(second.run())
        try:
            await ari.wait_for_subscriber()
            fresh = await ari.place_call("+79990000000")
            await ari.wait_until(lambda: (stranded.id, "operators") in ari.continued, TIMEOUT)
            await ari.wait_until(lambda: media_id in ari.deleted_channels, TIMEOUT)
            await asyncio.sleep(0.3)
            assert [c.caller_channel_id for c in second.calls] == [fresh.id]
            assert second.calls[0].bridged
            assert (fresh.id, "operators") not in ari.continued
        finally:
            second_task.cancel()
            with suppress(asyncio.CancelledError):
                await second_task
            await second_client.close()

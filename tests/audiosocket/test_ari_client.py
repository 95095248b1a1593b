"""AriClient over real HTTP/WebSocket against FakeAri, plus the event parser on raw JSON."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import suppress

import pytest

from audiosocket.ari import (
    AriClient,
    AriError,
    AriEvent,
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    ChannelLeftBridge,
    EventsConnected,
    OtherEvent,
    StasisEnd,
    StasisStart,
    parse_event,
)
from audiosocket.simulator.fake_ari import FakeAri
from tests.support.servers import free_port

TIMEOUT = 10.0


async def _no_media(host: str, port: int, audiosocket_id: uuid.UUID, media_format: str) -> None:
    """REST-only tests: no AudioSocket leg behind externalMedia."""


@pytest.fixture
async def ari() -> AsyncIterator[FakeAri]:
    async with FakeAri(media_connector=_no_media, media_stasis_delay=0.01) as fake:
        yield fake


@pytest.fixture
async def client(ari: FakeAri) -> AsyncIterator[AriClient]:
    async with AriClient(ari.base_url, "asterisk", "asterisk", "voiceorder") as c:
        yield c


class EventTap:
    """Consumes `client.events()` in a task and queues what arrives."""

    def __init__(self, client: AriClient) -> None:
        self.queue: asyncio.Queue[AriEvent] = asyncio.Queue()
        self.error: BaseException | None = None
        self._task = asyncio.create_task(self._run(client))

    async def _run(self, client: AriClient) -> None:
        try:
            async for event in client.events():
                await self.queue.put(event)
        except AriError as exc:
            self.error = exc

    async def next(self, *, skip: tuple[type, ...] = (EventsConnected,)) -> AriEvent:
        async with asyncio.timeout(TIMEOUT):
            while True:
                event = await self.queue.get()
                if not isinstance(event, skip):
                    return event

    async def stop(self) -> None:
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task


@pytest.fixture
async def tap(client: AriClient, ari: FakeAri) -> AsyncIterator[EventTap]:
    t = EventTap(client)
    await ari.wait_for_subscriber()
    yield t
    await t.stop()


# --- REST ---------------------------------------------------------------------------------


async def test_rest_calls_hit_the_ari_endpoints(
    ari: FakeAri, client: AriClient, tap: EventTap
) -> None:
    caller = await ari.place_call("+79161234567", variables={"VOICEORDER_UUID": "abc"})
    await client.answer(caller.id)
    bridge_id = await client.create_bridge()
    await client.add_channel(bridge_id, caller.id)
    media = await client.external_media(
        external_host="10.0.0.5:9092", data="1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b", format="slin"
    )
    assert media.name == "AudioSocket/10.0.0.5:9092-1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"
    assert await client.get_variable(caller.id, "VOICEORDER_UUID") == "abc"
    assert await client.get_variable(caller.id, "UNSET") is None
    await client.continue_in_dialplan(caller.id, "operators", "s", 1)
    await client.destroy_bridge(bridge_id)
    await client.hangup(media.id)
    assert [(r.method, r.path, r.query) for r in ari.requests if r.path != "/ari/events"] == [
        ("POST", f"/ari/channels/{caller.id}/answer", {}),
        ("POST", "/ari/bridges", {"type": "mixing"}),
        ("POST", f"/ari/bridges/{bridge_id}/addChannel", {"channel": caller.id}),
        (
            "POST",
            "/ari/channels/externalMedia",
            {
                "app": "voiceorder",
                "external_host": "10.0.0.5:9092",
                "encapsulation": "audiosocket",
                "transport": "tcp",
                "format": "slin",
                "data": "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b",
            },
        ),
        ("GET", f"/ari/channels/{caller.id}/variable", {"variable": "VOICEORDER_UUID"}),
        ("GET", f"/ari/channels/{caller.id}/variable", {"variable": "UNSET"}),
        (
            "POST",
            f"/ari/channels/{caller.id}/continue",
            {"context": "operators", "extension": "s", "priority": "1"},
        ),
        ("DELETE", f"/ari/bridges/{bridge_id}", {}),
        ("DELETE", f"/ari/channels/{media.id}", {}),
    ]
    assert ari.continued == [(caller.id, "operators")]


async def test_errors_carry_status_and_asterisk_text(ari: FakeAri, client: AriClient) -> None:
    with pytest.raises(AriError) as err:
        await client.answer("no-such-channel")
    assert (err.value.status, err.value.message) == (404, "Channel not found")
    with pytest.raises(AriError) as err:
        await client.get_variable("no-such-channel", "X")
    assert err.value.status == 404
    with pytest.raises(AriError) as err:
        await client.external_media(external_host="127.0.0.1:1", data="not-a-uuid")
    assert err.value.status == 400 and "UUID" in err.value.message
    # Deleting what is already gone is not an error (the caller may have hung up first).
    await client.hangup("no-such-channel")
    await client.destroy_bridge("no-such-bridge")


async def test_wrong_password_is_a_clear_401(ari: FakeAri) -> None:
    async with AriClient(ari.base_url, "asterisk", "wrong", "voiceorder") as bad:
        with pytest.raises(AriError) as err:
            await bad.create_bridge()
        assert err.value.status == 401
        assert "Authentication required" in str(err.value)
        # The event stream does not retry bad credentials forever.
        with pytest.raises(AriError) as err:
            async with asyncio.timeout(TIMEOUT):
                async for _ in bad.events():
                    pass
        assert err.value.status == 401


async def test_unreachable_asterisk_is_status_0() -> None:
    port = free_port()
    async with AriClient(f"http://127.0.0.1:{port}/ari", "u", "p", "voiceorder") as c:
        assert c.base_url == f"http://127.0.0.1:{port}"
        with pytest.raises(AriError) as err:
            await c.answer("1.1")
        assert err.value.status == 0 and "unreachable" in str(err.value)


async def test_closed_client_refuses_requests(ari: FakeAri) -> None:
    c = AriClient(ari.base_url, "asterisk", "asterisk", "voiceorder")
    await c.close()
    with pytest.raises(AriError):
        await c.answer("1.1")


# --- events -------------------------------------------------------------------------------


async def test_events_are_parsed_into_dataclasses(ari: FakeAri, tap: EventTap) -> None:
    caller = await ari.place_call("+79161234567", caller_name="Анна", exten="555", args=["x"])
    start = await tap.next()
    assert start == StasisStart(
        Channel(
            id=caller.id,
            name=caller.name,
            caller_number="+79161234567",
            caller_name="Анна",
            exten="555",
            state="Ring",
            context="from-trunk",
            app_name="Stasis",
            app_data="voiceorder",
        ),
        ["x"],
    )
    await ari.press(caller.id, "#")
    assert await tap.next() == ChannelDtmfReceived(caller.id, "#")
    await ari.caller_hangs_up(caller.id)
    assert await tap.next() == ChannelHangupRequest(caller.id)
    assert await tap.next() == StasisEnd(caller.id)
    assert await tap.next() == ChannelDestroyed(caller.id)


async def test_no_caller_id_is_none(ari: FakeAri, tap: EventTap) -> None:
    await ari.place_call(None)
    start = await tap.next()
    assert isinstance(start, StasisStart)
    assert start.channel.caller_number is None and start.channel.caller_name is None


async def test_malformed_events_are_skipped(ari: FakeAri, tap: EventTap) -> None:
    await ari.send_raw("{oops")
    await ari.send_raw('{"type": "ChannelDtmfReceived", "channel": {"id": "1.1"}}')  # no digit
    await ari.send_raw('"just a string"')
    await ari.send_raw('{"type": "ChannelVarset", "variable": "X", "value": "1"}')
    other = await tap.next()
    assert isinstance(other, OtherEvent) and other.type == "ChannelVarset"
    caller = await ari.place_call("1")
    start = await tap.next()
    assert isinstance(start, StasisStart) and start.channel.id == caller.id
    assert start.channel.in_stasis_app("voiceorder")


async def test_event_stream_reconnects_after_a_drop(
    ari: FakeAri, client: AriClient, tap: EventTap, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.connected and client.connects == 1
    assert await tap.next(skip=()) == EventsConnected(1)
    await ari.drop_websockets()
    await ari.wait_until(lambda: client.connects == 2, TIMEOUT)
    await ari.wait_for_subscriber()
    assert await tap.next(skip=()) == EventsConnected(2)  # the consumer learns of the gap
    caller = await ari.place_call("+7")
    start = await tap.next()
    assert isinstance(start, StasisStart) and start.channel.id == caller.id
    assert any("reconnecting" in r.message for r in caplog.records)


async def test_reconnect_backoff_is_capped(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    c = AriClient(
        f"http://127.0.0.1:{port}", "u", "p", "a", reconnect_initial=0.01, reconnect_max=0.04
    )
    tap = EventTap(c)
    await asyncio.sleep(0.5)
    await tap.stop()
    await c.close()
    delays = [
        float(r.args[-1])  # type: ignore[index, arg-type]
        for r in caplog.records
        if "reconnecting" in r.message
    ]
    assert len(delays) >= 3
    assert max(delays) == pytest.approx(0.04)


def test_parse_event_shapes() -> None:
    channel = {
        "id": "1700000000.7",
        "name": "PJSIP/trunk-00000007",
        "state": "Up",
        "caller": {"name": "", "number": "89161234567"},
        "dialplan": {"context": "from-trunk", "exten": "100", "priority": 2},
    }
    bridge = {"id": "b1", "bridge_type": "mixing"}
    assert parse_event(
        json.dumps({"type": "ChannelLeftBridge", "channel": channel, "bridge": bridge})
    ) == (ChannelLeftBridge("1700000000.7", "b1"))
    start = parse_event(json.dumps({"type": "StasisStart", "channel": channel, "args": []}))
    assert isinstance(start, StasisStart) and start.channel.caller_number == "89161234567"
    assert parse_event(b"\xff\xfe") is None
    assert parse_event("{}") is None
    assert parse_event(json.dumps({"type": "StasisEnd", "channel": {"name": "x"}})) is None

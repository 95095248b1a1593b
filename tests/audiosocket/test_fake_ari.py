"""FakeAri itself, driven by a plain aiohttp client (not our AriClient), so the fake's wire
behaviour is checked independently: auth, Asterisk's error shapes, the 422 race, the
hang-up event order and the AudioSocket leg that stays up until it is deleted."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from audiosocket.protocol import Hangup, Uuid, encode, read_message
from audiosocket.simulator.fake_ari import FakeAri

TIMEOUT = 10.0
AUTH = {"Authorization": aiohttp.encode_basic_auth("asterisk", "asterisk")}


class EdgeStub:
    """A bare TCP listener standing in for the edge: records each AudioSocket connection."""

    def __init__(self) -> None:
        self.connections: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self.server: asyncio.Server | None = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.connections.put((reader, writer))

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])


@pytest.fixture
async def ari() -> AsyncIterator[FakeAri]:
    async with FakeAri(media_stasis_delay=1.0) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


@pytest.fixture
async def events(
    ari: FakeAri, http: aiohttp.ClientSession
) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def pump() -> None:
        async with http.ws_connect(
            f"{ari.base_url}/ari/events", params={"app": "voiceorder"}
        ) as ws:
            async for message in ws:
                await queue.put(json.loads(message.data))

    task = asyncio.create_task(pump())
    await ari.wait_for_subscriber()
    yield queue
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def next_event(
    queue: asyncio.Queue[dict[str, Any]], kind: str, channel_id: str | None = None
) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        while True:
            event = await queue.get()
            if event["type"] == kind and channel_id in (None, event["channel"]["id"]):
                return event


def media_params(port: int, media_format: str, call_id: uuid.UUID | None = None) -> dict[str, str]:
    """What the edge sends to `POST /channels/externalMedia` for an AudioSocket leg."""
    return {
        "app": "voiceorder",
        "external_host": f"127.0.0.1:{port}",
        "encapsulation": "audiosocket",
        "transport": "tcp",
        "format": media_format,
        "data": str(call_id or uuid.uuid4()),
    }


async def test_requests_need_credentials(ari: FakeAri) -> None:
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.post(f"{ari.base_url}/ari/bridges") as r:
            assert r.status == 401
            assert await r.json() == {"message": "Authentication required"}
            assert r.headers["WWW-Authenticate"].startswith("Basic")
        bad = {"Authorization": aiohttp.encode_basic_auth("asterisk", "nope")}
        async with anonymous.post(f"{ari.base_url}/ari/bridges", headers=bad) as r:
            assert r.status == 401
        # Asterisk also accepts api_key=user:password.
        async with anonymous.post(
            f"{ari.base_url}/ari/bridges", params={"api_key": "asterisk:asterisk"}
        ) as r:
            assert r.status == 200
            assert (await r.json())["bridge_type"] == "mixing"
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await anonymous.ws_connect(f"{ari.base_url}/ari/events?app=voiceorder")
        assert err.value.status == 401
    assert all(r.method for r in ari.requests)


async def test_stasis_start_has_asterisks_shape(
    ari: FakeAri, events: asyncio.Queue[dict[str, Any]]
) -> None:
    with pytest.raises(RuntimeError):
        await FakeAri().place_call("1")  # nobody subscribed: Stasis() would fail
    channel = await ari.place_call("+79161234567", caller_name="Пётр", exten="777")
    event = await next_event(events, "StasisStart")
    assert event["application"] == "voiceorder"
    assert event["timestamp"].endswith("+0000")
    assert event["args"] == []
    body = event["channel"]
    assert body["id"] == channel.id and body["name"].startswith("PJSIP/")
    assert body["state"] == "Ring"
    assert body["caller"] == {"name": "Пётр", "number": "+79161234567"}
    assert body["dialplan"]["exten"] == "777" and body["dialplan"]["priority"] == 1


async def test_external_media_race_and_leg_lifetime(
    ari: FakeAri, http: aiohttp.ClientSession, events: asyncio.Queue[dict[str, Any]]
) -> None:
    edge = EdgeStub()
    port = await edge.start()
    call_id = uuid.uuid4()
    caller = await ari.place_call("+7")
    async with http.post(f"{ari.base_url}/ari/bridges", params={"type": "mixing"}) as r:
        bridge = (await r.json())["id"]
    async with http.post(
        f"{ari.base_url}/ari/channels/externalMedia",
        params=media_params(port, "slin16", call_id),
    ) as r:
        assert r.status == 200
        media = await r.json()
    # The edge got the connection during the request, UUID first (01 00 10 + 16 bytes).
    reader, writer = await asyncio.wait_for(edge.connections.get(), TIMEOUT)
    assert await read_message(reader) == Uuid(call_id)
    assert media["name"] == f"AudioSocket/127.0.0.1:{port}-{call_id}"
    # Reply before StasisStart: adding it now is the 422 a real Asterisk gives.
    add = f"{ari.base_url}/ari/bridges/{bridge}/addChannel"
    async with http.post(add, params={"channel": media["id"]}) as r:
        assert r.status == 422
        assert await r.json() == {"message": "Channel not in Stasis application"}
    start = await next_event(events, "StasisStart", media["id"])
    assert start["channel"]["name"].startswith("AudioSocket/")
    async with http.post(add, params={"channel": f"{caller.id},{media['id']}"}) as r:
        assert r.status == 204
    assert set(ari.bridges[bridge].channels) == {caller.id, media["id"]}
    # Caller hangs up: Asterisk's event order; the AudioSocket TCP stays up.
    await ari.caller_hangs_up(caller.id)
    await next_event(events, "ChannelHangupRequest", caller.id)
    order = ["ChannelHangupRequest"] + [(await events.get())["type"] for _ in range(3)]
    assert order == [
        "ChannelHangupRequest",
        "ChannelLeftBridge",
        "StasisEnd",
        "ChannelDestroyed",
    ]
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await reader.read(1)
    # Deleting the media channel closes it (EOF at the edge).
    async with http.delete(f"{ari.base_url}/ari/channels/{media['id']}") as r:
        assert r.status == 204
    async with asyncio.timeout(TIMEOUT):
        assert await read_message(reader) is None
    async with http.delete(f"{ari.base_url}/ari/channels/{media['id']}") as r:
        assert r.status == 404
    writer.close()
    assert edge.server is not None
    edge.server.close()


async def test_edge_hang_up_drops_only_the_media_leg(
    ari: FakeAri, http: aiohttp.ClientSession, events: asyncio.Queue[dict[str, Any]]
) -> None:
    edge = EdgeStub()
    port = await edge.start()
    caller = await ari.place_call("+7")
    async with http.post(
        f"{ari.base_url}/ari/channels/externalMedia",
        params=media_params(port, "slin"),
    ) as r:
        media = await r.json()
    _, writer = await asyncio.wait_for(edge.connections.get(), TIMEOUT)
    writer.write(encode(Hangup()))  # the edge's 0x00
    await writer.drain()
    await next_event(events, "ChannelDestroyed", media["id"])
    assert caller.id in ari.channels  # the caller is left alone; the app must act
    writer.close()
    assert edge.server is not None
    edge.server.close()


async def test_continue_and_variables(
    ari: FakeAri, http: aiohttp.ClientSession, events: asyncio.Queue[dict[str, Any]]
) -> None:
    caller = await ari.place_call("+7", variables={"CALLERID_HINT": "x"})
    url = f"{ari.base_url}/ari/channels/{caller.id}"
    async with http.get(f"{url}/variable", params={"variable": "CALLERID_HINT"}) as r:
        assert await r.json() == {"value": "x"}
    async with http.get(f"{url}/variable") as r:
        assert r.status == 400
    async with http.post(f"{url}/continue", params={"context": "operators"}) as r:
        assert r.status == 204
    end = await next_event(events, "StasisEnd")
    assert end["channel"]["id"] == caller.id
    async with http.post(f"{url}/answer") as r:
        assert r.status == 409  # no longer in Stasis
    assert ari.continued == [(caller.id, "operators")]


async def test_refused_media_connection_fails_the_request(
    ari: FakeAri, http: aiohttp.ClientSession
) -> None:
    edge = EdgeStub()
    port = await edge.start()
    assert edge.server is not None
    edge.server.close()
    await edge.server.wait_closed()
    async with http.post(
        f"{ari.base_url}/ari/channels/externalMedia",
        params=media_params(port, "slin16"),
    ) as r:
        assert r.status == 500
    assert not ari.media_channels()

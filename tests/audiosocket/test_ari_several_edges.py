"""Several edges on one Asterisk, against FakeAri over real HTTP/WebSocket.

Asterisk gives a Stasis app to one WebSocket at a time (the newer one takes it over and the
older one gets `ApplicationReplaced`; closing any of them deactivates the app), so edges
cannot share one app: each subscribes its own (`voiceorder-1`, `voiceorder-2`) and the
dialplan tries them in turn, moving on when `Stasis()` fails (docs/edge.md, "Several edges on
one Asterisk"). Each edge is a router with a real AudioSocketServer as its media end.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from audiosocket.ari import AriClient, AriError
from audiosocket.ari_calls import AriCallRouter
from audiosocket.pacing import FrameSource
from audiosocket.server import AudioSocketServer, Call
from audiosocket.simulator.fake_ari import FakeAri, FakeChannel, StasisFailed
from audiosocket.testing import RecordingHandler

TIMEOUT = 10.0
APPS = ["voiceorder-1", "voiceorder-2"]
AUTH = {"Authorization": aiohttp.encode_basic_auth("asterisk", "asterisk")}


@dataclass
class EdgeUnderTest:
    """One edge process as far as ARI goes: its router, app and AudioSocket listener."""

    app: str
    router: AriCallRouter
    client: AriClient
    server: AudioSocketServer
    task: asyncio.Task[None]
    connections: set[uuid.UUID]

    def owns(self, channel: FakeChannel) -> bool:
        return any(c.caller_channel_id == channel.id and c.bridged for c in self.router.calls)

    async def stop(self) -> None:
        """What SIGKILL leaves behind: the WebSocket gone, the calls not cleaned up."""
        self.task.cancel()
        with suppress(asyncio.CancelledError):
            await self.task
        await self.client.close()


@asynccontextmanager
async def running_edge(ari: FakeAri, app: str) -> AsyncIterator[EdgeUnderTest]:
    connections: set[uuid.UUID] = set()

    def factory(call: Call) -> RecordingHandler:
        connections.add(call.id)
        return RecordingHandler(call, FrameSource(16000))

    async with AudioSocketServer("127.0.0.1", 0, factory) as server:
        client = AriClient(ari.base_url, "asterisk", "asterisk", app, reconnect_initial=0.05)
        router = AriCallRouter(
            client,
            external_host=f"127.0.0.1:{server.port}",
            operator_context="operators",
            leftover_grace=0.3,
        )
        task = asyncio.create_task(router.run())
        edge = EdgeUnderTest(app, router, client, server, task, connections)
        try:
            await ari.wait_for_subscriber(TIMEOUT, app=app)
            yield edge
        finally:
            await edge.stop()


@pytest.fixture
async def ari() -> AsyncIterator[FakeAri]:
    async with FakeAri(media_stasis_delay=0.05) as fake:
        yield fake


async def test_each_edge_gets_the_calls_of_its_own_app_and_the_dialplan_skips_a_dead_one(
    ari: FakeAri,
) -> None:
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(running_edge(ari, APPS[0]))
        two = await stack.enter_async_context(running_edge(ari, APPS[1]))

        # The dialplan's rotation: one call starts at each app.
        first = await ari.place_call_on_any("+79161234567", APPS, first=0)
        second = await ari.place_call_on_any("+79160000001", APPS, first=1)
        await ari.wait_until(lambda: one.owns(first) and two.owns(second), TIMEOUT)
        assert [c.caller_channel_id for c in one.router.calls] == [first.id]
        assert [c.caller_channel_id for c in two.router.calls] == [second.id]
        # Each AudioSocket leg reached the edge whose router asked for it, nowhere else.
        assert one.connections == {c.audiosocket_id for c in one.router.calls}
        assert two.connections == {c.audiosocket_id for c in two.router.calls}
        # Only the owning app saw each caller's events.
        apps_of = {e["channel"]["id"]: e["application"] for e in ari.events_sent}
        assert (apps_of[first.id], apps_of[second.id]) == (APPS[0], APPS[1])

        # Edge 2 dies: its app has no WebSocket, so Stasis(voiceorder-2) fails at once and
        # the dialplan goes on to voiceorder-1.
        await two.stop()
        await ari.wait_until(lambda: not ari.app_active(APPS[1]), TIMEOUT)
        with pytest.raises(StasisFailed, match="'voiceorder-2' not active"):
            await ari.place_call("+79160000002", app=APPS[1])
        third = await ari.place_call_on_any("+79160000002", APPS, first=1)
        await ari.wait_until(lambda: one.owns(third), TIMEOUT)

        # Edge 2 comes back under its own app name: the caller it left in Stasis goes to
        # the operators; edge 1's callers, in another app, are none of its business.
        back = await stack.enter_async_context(running_edge(ari, APPS[1]))
        await ari.wait_until(lambda: (second.id, "operators") in ari.continued, TIMEOUT)
        fourth = await ari.place_call_on_any("+79160000003", APPS, first=1)
        await ari.wait_until(lambda: back.owns(fourth), TIMEOUT)
        assert [channel for channel, _ in ari.continued] == [second.id]
        assert one.owns(first) and one.owns(third)


async def test_one_app_name_on_two_websockets_is_what_asterisk_refuses_to_share(
    ari: FakeAri,
) -> None:
    """Why edges cannot share ARI_APP: the newer WebSocket takes the app over, the older one
    is told and hears nothing more, and when either closes the app is gone for both."""
    async with aiohttp.ClientSession(headers=AUTH) as http:
        url = f"{ari.base_url}/ari/events"
        older = await http.ws_connect(url, params={"app": "voiceorder"})
        await ari.wait_for_subscriber(TIMEOUT)
        newer = await http.ws_connect(url, params={"app": "voiceorder"})
        await ari.wait_until(lambda: ari.subscribers == 2, TIMEOUT)

        replaced = await _next_message(older)
        assert (replaced["type"], replaced["application"]) == ("ApplicationReplaced", "voiceorder")
        caller = await ari.place_call("+79161234567")
        start = await _next_message(newer)
        assert (start["type"], start["channel"]["id"]) == ("StasisStart", caller.id)
        with pytest.raises(TimeoutError):
            await _next_message(older, within_s=0.3)

        await older.close()
        await ari.wait_until(lambda: ari.subscribers == 1, TIMEOUT)
        assert not ari.app_active("voiceorder"), "closing the older one unregistered the app"
        with pytest.raises(StasisFailed):
            await ari.place_call("+79160000001")
        await newer.close()


async def test_the_edge_stops_with_a_clear_error_when_another_takes_its_app(
    ari: FakeAri,
) -> None:
    mine = AriClient(ari.base_url, "asterisk", "asterisk", "voiceorder", reconnect_initial=0.05)
    other = AriClient(ari.base_url, "asterisk", "asterisk", "voiceorder")

    async def consume(client: AriClient) -> None:
        async for _ in client.events():
            pass

    task = asyncio.create_task(consume(mine))
    try:
        await ari.wait_for_subscriber(TIMEOUT)
        intruder = asyncio.create_task(consume(other))
        with pytest.raises(AriError) as info:
            await asyncio.wait_for(task, TIMEOUT)
        assert info.value.status == 409
        assert "every edge needs its own ARI_APP" in str(info.value)
        intruder.cancel()
        with suppress(asyncio.CancelledError):
            await intruder
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError, AriError):
            await task
        await mine.close()
        await other.close()


async def _next_message(
    ws: aiohttp.ClientWebSocketResponse, within_s: float = TIMEOUT
) -> dict[str, Any]:
    async with asyncio.timeout(within_s):
        while True:
            message = await ws.receive()
            if message.type is aiohttp.WSMsgType.TEXT:
                data: dict[str, Any] = json.loads(message.data)
                if data["type"] not in ("ChannelStateChange", "ChannelEnteredBridge"):
                    return data

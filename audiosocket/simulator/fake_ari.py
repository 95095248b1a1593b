"""A fake Asterisk ARI for tests and the call simulator: real HTTP + WebSocket on 127.0.0.1.

It speaks the subset of ARI the edge uses, with Asterisk's JSON shapes and error texts, and
reproduces what was observed on a real Asterisk 22.10.1 (../shared/spec/audiosocket.md):
- `externalMedia` opens the AudioSocket leg *during* the request (via `media_connector`), and
  the media channel's own `StasisStart` is sent only `media_stasis_delay` after the HTTP reply;
  adding it to a bridge before that fails with 422 "Channel not in Stasis application";
- a caller hang-up is `ChannelHangupRequest` → `ChannelLeftBridge` → `StasisEnd` →
  `ChannelDestroyed`, and the AudioSocket leg (and its TCP socket) stays up until the app
  deletes that channel;
- when the edge ends the AudioSocket connection (0x00 or close), the media channel hangs up
  and the caller is left alone in the bridge.

Several Stasis apps, as Asterisk keeps them (res/res_stasis.c, res/stasis/app.c,
res/ari/ari_websockets.c): `GET /ari/events?app=a,b` registers each app for that WebSocket;
an app has one WebSocket at a time — a newer one takes it over and the older one gets
`ApplicationReplaced` and no more events of it; when any WebSocket that registered an app
closes, the app is deactivated by name (even if a newer WebSocket had taken it over), and
`Stasis(app)` fails at once for an app without an active WebSocket. A channel's events go to
the app it is in (the media leg's: the `app` of its externalMedia request).
Every request is recorded, so tests assert on what the client really sent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from audiosocket.protocol import Hangup, ProtocolError, Uuid, encode, read_message

log = logging.getLogger(__name__)

# (host, port, uuid, format) → open the AudioSocket leg. Whatever it returns is kept as the
# leg; if that has an async `hang_up()` or `close()`, it is called when the app deletes the
# media channel (Asterisk closes the socket then), and if it has a `bot_hung_up` asyncio.Event
# (like AudioSocketPeer), its setting hangs the media channel up (the edge sent 0x00).
MediaConnector = Callable[[str, int, uuid.UUID, str], Awaitable[object]]

ASTERISK_ID = "02:42:ac:11:00:02"
MEDIA_FORMATS = frozenset({"slin", "slin12", "slin16", "slin24", "slin32", "slin44", "slin48"})


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int = 0  # filled in once the reply is ready


@dataclass
class FakeChannel:
    id: str
    name: str
    caller_number: str = ""
    caller_name: str = ""
    exten: str = "100"
    context: str = "from-trunk"
    priority: int = 1
    state: str = "Ring"
    in_stasis: bool = False
    stasis_app: str = ""  # the app whose Stasis() the channel is in (app_data)
    bridge_id: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    audiosocket_id: uuid.UUID | None = None  # media legs only
    leg: object = None  # what the media connector returned
    hung_up: bool = False

    def to_json(self, channelvars: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": "",
            "caller": {"name": self.caller_name, "number": self.caller_number},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": self.context,
                "exten": self.exten,
                "priority": self.priority,
                "app_name": "Stasis" if self.in_stasis else "",
                "app_data": self.stasis_app if self.in_stasis else "",
            },
            "creationtime": _timestamp(),
            "language": "en",
        }
        if channelvars:
            body["channelvars"] = {name: self.variables.get(name) for name in channelvars}
        return body


@dataclass
class FakeBridge:
    id: str
    bridge_type: str
    channels: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "technology": "simple_bridge",
            "bridge_type": self.bridge_type,
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": "",
            "channels": list(self.channels),
            "creationtime": _timestamp(),
            "video_mode": "none",
        }


@dataclass
class _Failure:
    method: str
    path: str
    status: int
    message: str
    times: int


class StasisFailed(RuntimeError):
    """`Stasis(app)` in the dialplan failed at once (STASISSTATUS=FAILED): no WebSocket holds
    the app. The dialplan goes on with its next priority (e.g. the next edge's app)."""


class AriHttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class FakeAri:
    """`async with FakeAri() as ari:` serves on `ari.base_url` until the block ends."""

    def __init__(
        self,
        *,
        user: str = "asterisk",
        password: str = "asterisk",
        app: str = "voiceorder",
        media_connector: MediaConnector | None = None,
        media_stasis_delay: float = 0.05,
        port: int = 0,
    ) -> None:
        """`media_stasis_delay`: seconds between the externalMedia reply and the media
        channel's StasisStart; negative sends the StasisStart first and delays the reply.
        `port`: where to listen on 127.0.0.1 (0: a free one)."""
        self.user = user
        self.password = password
        self.app = app
        self.media_connector: MediaConnector = media_connector or connect_audiosocket
        self.media_stasis_delay = media_stasis_delay
        # False: /ari/events answers 503 (Asterisk restarting); clients must retry.
        self.accepting_websockets = True
        # ari.conf `channelvars`: variables shown in every channel object.
        self.channelvars: list[str] = []
        self.requests: list[RecordedRequest] = []
        self.channels: dict[str, FakeChannel] = {}
        self.bridges: dict[str, FakeBridge] = {}
        self.continued: list[tuple[str, str]] = []  # (channel id, context)
        self.deleted_channels: list[str] = []  # DELETE /channels/{id} that found the channel
        self.destroyed_bridges: list[str] = []
        self.events_sent: list[dict[str, Any]] = []
        self._subscribers: list[web.WebSocketResponse] = []  # every open event WebSocket
        # app → the WebSocket that holds it now (None: registered once, inactive now).
        self._apps: dict[str, web.WebSocketResponse | None] = {}
        self._subscribed = asyncio.Condition()
        self._failures: list[_Failure] = []
        self._ids = itertools.count(1)
        self._epoch = int(time.time())
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._port = port

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._record, self._authenticate, self._errors])
        app.router.add_get("/ari/events", self._events)
        app.router.add_post("/ari/channels/externalMedia", self._external_media)
        app.router.add_get("/ari/channels", self._list_channels)
        app.router.add_get("/ari/channels/{id}", self._get_channel)
        app.router.add_delete("/ari/channels/{id}", self._delete_channel)
        app.router.add_post("/ari/channels/{id}/answer", self._answer)
        app.router.add_post("/ari/channels/{id}/continue", self._continue)
        app.router.add_get("/ari/channels/{id}/variable", self._get_variable)
        app.router.add_post("/ari/bridges", self._create_bridge)
        app.router.add_get("/ari/bridges/{id}", self._get_bridge)
        app.router.add_delete("/ari/bridges/{id}", self._destroy_bridge)
        app.router.add_post("/ari/bridges/{id}/addChannel", self._add_channel)
        app.router.add_post("/ari/bridges/{id}/removeChannel", self._remove_channel)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        server = site._server  # aiohttp exposes no public accessor for the bound port
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self._port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def close(self) -> None:
        for ws in list(self._subscribers):
            await ws.close()
        for channel in list(self.channels.values()):
            await self._close_leg(channel)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeAri:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # --- what a test does ---------------------------------------------------------------------

    async def wait_for_subscriber(
        self,
        timeout: float = 10.0,  # noqa: ASYNC109
        *,
        app: str | None = None,
    ) -> None:
        """Until an event WebSocket holds `app` (default: ours); Stasis() fails without one."""
        name = app or self.app
        async with asyncio.timeout(timeout), self._subscribed:
            await self._subscribed.wait_for(lambda: self.app_active(name))

    @property
    def subscribers(self) -> int:
        """Event WebSockets open now, whatever their apps."""
        return len(self._subscribers)

    def app_active(self, app: str) -> bool:
        return self._apps.get(app) is not None

    async def place_call(
        self,
        caller_number: str | None,
        *,
        exten: str = "100",
        caller_name: str | None = None,
        args: list[str] | None = None,
        variables: dict[str, str] | None = None,
        app: str | None = None,
    ) -> FakeChannel:
        """A PJSIP call reaches `Stasis(app)` (default: ours): the channel and its
        StasisStart. Raises StasisFailed, as Stasis() fails, when no WebSocket holds `app`."""
        name = app or self.app
        if not self.app_active(name):
            state = "not active" if name in self._apps else "not registered"
            raise StasisFailed(f"Stasis app '{name}' {state}")
        channel = FakeChannel(
            id=self._channel_id(),
            name=f"PJSIP/trunk-{next(self._ids):08x}",
            caller_number=caller_number or "",
            caller_name=caller_name or "",
            exten=exten,
            in_stasis=True,
            stasis_app=name,
            variables=dict(variables or {}),
        )
        self.channels[channel.id] = channel
        await self._emit("StasisStart", channel, args=list(args or []), replace_channel=None)
        return channel

    async def place_call_on_any(
        self, caller_number: str | None, apps: list[str], *, first: int = 0
    ) -> FakeChannel:
        """What the sample dialplan does with several edges (deploy/asterisk/extensions.conf):
        `Stasis()` on each app in turn from `first`, on to the next while it fails."""
        for step in range(len(apps)):
            try:
                return await self.place_call(caller_number, app=apps[(first + step) % len(apps)])
            except StasisFailed:
                continue
        raise StasisFailed(f"no edge holds any of {apps}")

    def dialplan_call(
        self, caller_number: str | None, variables: dict[str, str], *, exten: str = "100"
    ) -> FakeChannel:
        """A call the dialplan handles itself (e.g. `AudioSocket()`): a channel that is
        not in Stasis and sends no events; only REST sees it."""
        channel = FakeChannel(
            id=self._channel_id(),
            name=f"PJSIP/trunk-{next(self._ids):08x}",
            caller_number=caller_number or "",
            exten=exten,
            context="voiceorder-audiosocket",
            state="Up",
            variables=dict(variables),
        )
        self.channels[channel.id] = channel
        return channel

    async def caller_hangs_up(self, channel_id: str) -> None:
        """The far end hangs up (cause 16, Normal Clearing)."""
        await self._hang_up(self._channel(channel_id), soft=False)

    async def press(self, channel_id: str, digit: str, duration_ms: int = 100) -> None:
        channel = self._channel(channel_id)
        await self._emit("ChannelDtmfReceived", channel, digit=digit, duration_ms=duration_ms)

    async def media_leg_closed(self, audiosocket_id: uuid.UUID) -> None:
        """The edge ended the AudioSocket connection: Asterisk hangs up that channel (the
        caller stays in the bridge). The default connector calls this on 0x00/EOF; a custom
        connector may call it itself."""
        for channel in list(self.channels.values()):
            if channel.audiosocket_id == audiosocket_id and not channel.hung_up:
                await self._hang_up(channel, soft=False, close_leg=False)

    def fail(self, method: str, path: str, status: int, message: str, *, times: int = 1) -> None:
        """Answer the next `times` requests `method path` (exact path, e.g.
        "/ari/channels/123.4/answer") with `status` and Asterisk-style `{"message": ...}`."""
        self._failures.append(_Failure(method.upper(), path, status, message, times))

    async def drop_websockets(self) -> None:
        """Close every event WebSocket (as an Asterisk restart would)."""
        for ws in list(self._subscribers):
            await ws.close(code=1001, message=b"going away")

    async def send_raw(self, text: str) -> None:
        """Put arbitrary text on every event WebSocket (malformed-event tests)."""
        for ws in list(self._subscribers):
            await ws.send_str(text)

    def requests_to(self, method: str, path_suffix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    def media_channels(self) -> list[FakeChannel]:
        return [c for c in self.channels.values() if c.audiosocket_id is not None]

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109
        interval: float = 0.01,
    ) -> None:
        """Poll `predicate` (state changes come from many handlers; polling keeps it simple)."""
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110
                await asyncio.sleep(interval)

    # --- middlewares ------------------------------------------------------------------------

    @web.middleware
    async def _record(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        record = RecordedRequest(request.method, request.path, dict(request.query))
        self.requests.append(record)
        response = await handler(request)
        record.status = response.status
        return response

    @web.middleware
    async def _authenticate(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response(
                {"message": "Authentication required"},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'},
            )
        return await handler(request)

    @web.middleware
    async def _errors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        for failure in self._failures:
            if failure.times > 0 and (failure.method, failure.path) == (
                request.method,
                request.path,
            ):
                failure.times -= 1
                return web.json_response({"message": failure.message}, status=failure.status)
        try:
            return await handler(request)
        except AriHttpError as exc:
            return web.json_response({"message": exc.message}, status=exc.status)

    def _authorized(self, request: web.Request) -> bool:
        expected = f"{self.user}:{self.password}"
        if request.query.get("api_key") == expected:
            return True
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            return base64.b64decode(header[6:]).decode() == expected
        except ValueError:
            return False

    # --- handlers ---------------------------------------------------------------------------

    async def _events(self, request: web.Request) -> web.StreamResponse:
        apps = [a.strip() for a in request.query.get("app", "").split(",") if a.strip()]
        if not apps:
            raise AriHttpError(400, "Missing parameter app")
        if not self.accepting_websockets:
            raise AriHttpError(503, "Service Unavailable")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async with self._subscribed:
            self._subscribers.append(ws)
            for app in apps:
                previous = self._apps.get(app)
                self._apps[app] = ws
                if previous is not None and previous is not ws:
                    # app_update(): the newer WebSocket wins; the older one is told so.
                    await _send_quietly(previous, _app_event("ApplicationReplaced", app))
            self._subscribed.notify_all()
        try:
            async for message in ws:
                if message.type is WSMsgType.ERROR:
                    break
        finally:
            self._subscribers.remove(ws)
            for app in apps:
                # The session's cleanup unregisters its apps by name: whoever holds one now
                # loses it too (stasis_app_unregister → app_deactivate).
                self._apps[app] = None
        return ws

    async def _list_channels(self, request: web.Request) -> web.StreamResponse:
        return web.json_response([c.to_json(self.channelvars) for c in self.channels.values()])

    async def _get_channel(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self._channel_or_404(request).to_json(self.channelvars))

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        channel = self._stasis_channel(request)
        if channel.state != "Up":
            channel.state = "Up"
            await self._emit("ChannelStateChange", channel)
        return web.Response(status=204)

    async def _create_bridge(self, request: web.Request) -> web.StreamResponse:
        bridge = FakeBridge(id=str(uuid.uuid4()), bridge_type=request.query.get("type", "mixing"))
        self.bridges[bridge.id] = bridge
        return web.json_response(bridge.to_json())

    async def _get_bridge(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self._bridge_or_404(request).to_json())

    async def _destroy_bridge(self, request: web.Request) -> web.StreamResponse:
        bridge = self._bridge_or_404(request)
        for channel_id in list(bridge.channels):
            channel = self.channels.get(channel_id)
            if channel is not None:
                channel.bridge_id = None
                await self._emit("ChannelLeftBridge", channel, bridge=bridge.to_json())
        del self.bridges[bridge.id]
        self.destroyed_bridges.append(bridge.id)
        return web.Response(status=204)

    async def _add_channel(self, request: web.Request) -> web.StreamResponse:
        bridge = self._bridge_or_404(request)
        ids = _required(request, "channel").split(",")
        channels = []
        for channel_id in ids:
            channel = self.channels.get(channel_id)
            if channel is None:
                raise AriHttpError(400, "Channel not found")
            if not channel.in_stasis:
                raise AriHttpError(422, "Channel not in Stasis application")
            channels.append(channel)
        for channel in channels:
            if channel.bridge_id == bridge.id:
                continue
            if channel.bridge_id is not None:
                raise AriHttpError(409, "Channel is already bridged")
            channel.bridge_id = bridge.id
            bridge.channels.append(channel.id)
            await self._emit("ChannelEnteredBridge", channel, bridge=bridge.to_json())
        return web.Response(status=204)

    async def _remove_channel(self, request: web.Request) -> web.StreamResponse:
        bridge = self._bridge_or_404(request)
        channel = self.channels.get(_required(request, "channel"))
        if channel is None:
            raise AriHttpError(400, "Channel not found")
        if channel.bridge_id != bridge.id:
            raise AriHttpError(422, "Channel not in this bridge")
        await self._leave_bridge(channel)
        return web.Response(status=204)

    async def _external_media(self, request: web.Request) -> web.StreamResponse:
        app = _required(request, "app")
        external_host = _required(request, "external_host")
        media_format = _required(request, "format")
        encapsulation = request.query.get("encapsulation", "rtp")
        transport = request.query.get("transport", "udp")
        if encapsulation != "audiosocket":
            raise AriHttpError(501, f"this fake only does AudioSocket, not {encapsulation}")
        if transport != "tcp":
            raise AriHttpError(400, "AudioSocket needs transport=tcp")
        if media_format not in MEDIA_FORMATS:
            raise AriHttpError(422, f"Unsupported format {media_format}")
        try:
            audiosocket_id = uuid.UUID(request.query.get("data", ""))
        except ValueError:
            raise AriHttpError(400, "data must be a UUID for AudioSocket") from None
        host, _, port = external_host.rpartition(":")
        if not host or not port.isdigit():
            raise AriHttpError(400, "external_host must be host:port")
        channel = FakeChannel(
            id=self._channel_id(),
            name=f"AudioSocket/{external_host}-{audiosocket_id}",
            exten="s",
            context="default",
            state="Up",
            audiosocket_id=audiosocket_id,
            stasis_app=app,
        )
        # Asterisk dials the edge during the request; a refused connection fails it.
        try:
            channel.leg = await self.media_connector(host, int(port), audiosocket_id, media_format)
        except OSError as exc:
            raise AriHttpError(500, f"Failed to create external media channel: {exc}") from None
        if isinstance(channel.leg, AudioSocketLeg):
            channel.leg.on_closed = self.media_leg_closed
        else:
            hung_up = getattr(channel.leg, "bot_hung_up", None)  # e.g. an AudioSocketPeer
            if isinstance(hung_up, asyncio.Event):
                self._spawn(self._watch_leg(hung_up, audiosocket_id))
        self.channels[channel.id] = channel
        if self.media_stasis_delay < 0:
            # The other order (also possible on a loaded Asterisk): the event beats the reply.
            channel.in_stasis = True
            await self._emit("StasisStart", channel, args=[], replace_channel=None)
            await asyncio.sleep(-self.media_stasis_delay)
        else:
            # The race seen on a real Asterisk: the reply leaves before the channel is in Stasis.
            self._spawn(self._enter_stasis_later(channel, app))
        return web.json_response(channel.to_json())

    async def _delete_channel(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel_or_404(request)
        self.deleted_channels.append(channel.id)
        await self._hang_up(channel, soft=True)
        return web.Response(status=204)

    async def _continue(self, request: web.Request) -> web.StreamResponse:
        channel = self._stasis_channel(request)
        context = request.query.get("context") or channel.context
        channel.context = context
        channel.exten = request.query.get("extension") or channel.exten
        channel.priority = int(request.query.get("priority") or 1)
        self.continued.append((channel.id, context))
        await self._leave_bridge(channel)
        channel.in_stasis = False
        await self._emit("StasisEnd", channel)
        return web.Response(status=204)

    async def _get_variable(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel_or_404(request)
        name = _required(request, "variable")
        if name not in channel.variables:
            raise AriHttpError(404, "Provided variable was not found")
        return web.json_response({"value": channel.variables[name]})

    # --- channel life -----------------------------------------------------------------------

    async def _watch_leg(self, hung_up: asyncio.Event, audiosocket_id: uuid.UUID) -> None:
        await hung_up.wait()
        await self.media_leg_closed(audiosocket_id)

    async def _enter_stasis_later(self, channel: FakeChannel, app: str) -> None:
        await asyncio.sleep(self.media_stasis_delay)
        if channel.hung_up or not self.app_active(app):
            return
        channel.in_stasis = True
        await self._emit("StasisStart", channel, args=[], replace_channel=None)

    async def _hang_up(self, channel: FakeChannel, *, soft: bool, close_leg: bool = True) -> None:
        if channel.hung_up:
            return
        channel.hung_up = True
        await self._emit("ChannelHangupRequest", channel, cause=16, soft=soft)
        await self._leave_bridge(channel)
        if channel.in_stasis:
            channel.in_stasis = False
            await self._emit("StasisEnd", channel)
        self.channels.pop(channel.id, None)
        await self._emit("ChannelDestroyed", channel, cause=16, cause_txt="Normal Clearing")
        if close_leg:
            await self._close_leg(channel)

    async def _leave_bridge(self, channel: FakeChannel) -> None:
        bridge = self.bridges.get(channel.bridge_id or "")
        channel.bridge_id = None
        if bridge is not None and channel.id in bridge.channels:
            bridge.channels.remove(channel.id)
            await self._emit("ChannelLeftBridge", channel, bridge=bridge.to_json())

    async def _close_leg(self, channel: FakeChannel) -> None:
        leg, channel.leg = channel.leg, None
        if leg is None:
            return
        closer = getattr(leg, "hang_up", None) or getattr(leg, "close", None)
        if closer is None:
            return
        try:
            result = closer()
            if isinstance(result, Awaitable):
                await result
        except Exception:
            log.exception("fake ARI: closing the media leg of %s failed", channel.id)

    async def _emit(self, kind: str, channel: FakeChannel, **fields: Any) -> None:
        """An event of `channel`, to the WebSocket of the app the channel belongs to."""
        app = channel.stasis_app or self.app
        event: dict[str, Any] = {
            "type": kind,
            "timestamp": _timestamp(),
            "asterisk_id": ASTERISK_ID,
            "application": app,
            "channel": channel.to_json(self.channelvars),
        }
        event.update({k: v for k, v in fields.items() if v is not None})
        self.events_sent.append(event)
        ws = self._apps.get(app)
        if ws is not None:
            await _send_quietly(ws, event)

    # --- helpers ------------------------------------------------------------------------------

    def _channel_id(self) -> str:
        return f"{self._epoch}.{next(self._ids)}"

    def _channel(self, channel_id: str) -> FakeChannel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise KeyError(f"no live channel {channel_id}") from None

    def _channel_or_404(self, request: web.Request) -> FakeChannel:
        channel = self.channels.get(request.match_info["id"])
        if channel is None:
            raise AriHttpError(404, "Channel not found")
        return channel

    def _stasis_channel(self, request: web.Request) -> FakeChannel:
        channel = self._channel_or_404(request)
        if not channel.in_stasis:
            raise AriHttpError(409, "Channel not in Stasis application")
        return channel

    def _bridge_or_404(self, request: web.Request) -> FakeBridge:
        bridge = self.bridges.get(request.match_info["id"])
        if bridge is None:
            raise AriHttpError(404, "Bridge not found")
        return bridge

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _app_event(kind: str, app: str) -> dict[str, Any]:
    return {"type": kind, "timestamp": _timestamp(), "asterisk_id": ASTERISK_ID, "application": app}


async def _send_quietly(ws: web.WebSocketResponse, event: dict[str, Any]) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(json.dumps(event))


def _required(request: web.Request, name: str) -> str:
    value = request.query.get(name, "")
    if not value:
        raise AriHttpError(400, f"Missing parameter {name}")
    return value


def _timestamp() -> str:
    """Asterisk's format: 2026-11-27T17:01:05.123+0000."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


# --- the default AudioSocket leg: what Asterisk's chan_audiosocket does on the wire ---------


class AudioSocketLeg:
    """A TCP connection to the edge that sent the UUID frame and reads (and discards) the
    edge's audio. `on_closed` runs when the edge sends 0x00 or closes the socket."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        audiosocket_id: uuid.UUID,
    ) -> None:
        self.audiosocket_id = audiosocket_id
        self.frames_received = 0
        self.closed = asyncio.Event()
        self.on_closed: Callable[[uuid.UUID], Awaitable[None]] | None = None
        self._reader = reader
        self._writer = writer
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            while True:
                message = await read_message(self._reader)
                if message is None or isinstance(message, Hangup):
                    break
                self.frames_received += 1
        except (ProtocolError, ConnectionError) as exc:
            log.warning("fake AudioSocket leg %s: %s", self.audiosocket_id, exc)
        finally:
            self._writer.close()
            self.closed.set()
        if self.on_closed is not None:
            await self.on_closed(self.audiosocket_id)

    async def hang_up(self) -> None:
        """Asterisk deleted the channel: close the socket (the edge sees EOF)."""
        self.on_closed = None
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def connect_audiosocket(
    host: str, port: int, audiosocket_id: uuid.UUID, media_format: str
) -> AudioSocketLeg:
    """Open TCP to the edge and send the UUID frame (header 01 00 10), like Asterisk."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(encode(Uuid(audiosocket_id)))
    await writer.drain()
    return AudioSocketLeg(reader, writer, audiosocket_id)

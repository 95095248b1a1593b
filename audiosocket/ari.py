"""A small Asterisk REST Interface (ARI) client: the ~8 REST calls and ~6 events the edge needs.

Spoken directly with aiohttp (REST + the `/ari/events` WebSocket) rather than through an old
ARI library; facts are from Asterisk's rest-api/api-docs and ../shared/spec/audiosocket.md.

Inbound JSON comes from the network, so it is validated with pydantic at this boundary and
turned into frozen dataclasses; an event that cannot be parsed is logged and skipped. The
event stream reconnects on its own with a capped exponential backoff; bad credentials are a
configuration error and end it with an `AriError` instead of a retry loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, ValidationError

from core.phones import mask_phones_in

log = logging.getLogger(__name__)

DEFAULT_REQUEST_TIMEOUT = 10.0
DEFAULT_RECONNECT_INITIAL = 0.5
DEFAULT_RECONNECT_MAX = 10.0
# aiohttp answers Asterisk's pings on its own; our own pings detect a silently dead TCP link.
WEBSOCKET_HEARTBEAT = 20.0
# Sent to the older WebSocket when another one registers the same app (res/stasis/app.c):
# from then on its events go elsewhere. Not retried: reconnecting would take the app back
# from the other edge, which would take it back in turn.
APP_REPLACED = "ApplicationReplaced"


class AriError(Exception):
    """An ARI request failed: `status` is the HTTP status (0: Asterisk unreachable) and
    `message` Asterisk's own error text (e.g. "Channel not in Stasis application")."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"ARI {status}: {message}" if status else f"ARI unreachable: {message}")
        self.status = status
        self.message = message


# --- what the edge sees --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str
    caller_number: str | None
    caller_name: str | None
    exten: str | None
    state: str = ""
    context: str | None = None
    # The variables ari.conf `channelvars` asks Asterisk to include in channel objects.
    variables: Mapping[str, str] = field(default_factory=dict, hash=False)
    # The dialplan application running now: "Stasis" with data "<app>[,args]" in Stasis.
    app_name: str | None = None
    app_data: str | None = None

    def in_stasis_app(self, app: str) -> bool:
        return self.app_name == "Stasis" and (self.app_data or "").split(",")[0] == app


@dataclass(frozen=True, slots=True)
class StasisStart:
    """A channel entered our Stasis app (the caller, or the AudioSocket leg we created)."""

    channel: Channel
    args: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StasisEnd:
    channel_id: str


@dataclass(frozen=True, slots=True)
class ChannelHangupRequest:
    channel_id: str


@dataclass(frozen=True, slots=True)
class ChannelDestroyed:
    channel_id: str


@dataclass(frozen=True, slots=True)
class ChannelLeftBridge:
    channel_id: str
    bridge_id: str


@dataclass(frozen=True, slots=True)
class ChannelDtmfReceived:
    channel_id: str
    digit: str


@dataclass(frozen=True, slots=True)
class OtherEvent:
    """Any event type the edge does not act on, kept whole (log only its type: channel
    objects carry the caller's number)."""

    type: str
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class EventsConnected:
    """Not from Asterisk: `events()` yields it each time the WebSocket is (re)established,
    before that connection's first event. `count` > 1 means events may have been missed."""

    count: int


AriEvent = (
    StasisStart
    | StasisEnd
    | ChannelHangupRequest
    | ChannelDestroyed
    | ChannelLeftBridge
    | ChannelDtmfReceived
    | OtherEvent
    | EventsConnected
)


# --- the wire shapes (only the fields we read; Asterisk sends many more) --------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _CallerId(_Wire):
    name: str = ""
    number: str = ""


class _Dialplan(_Wire):
    context: str | None = None
    exten: str | None = None
    priority: int | None = None
    app_name: str | None = None
    app_data: str | None = None


class _Channel(_Wire):
    id: str
    name: str = ""
    state: str = ""
    caller: _CallerId = _CallerId()
    dialplan: _Dialplan = _Dialplan()
    channelvars: dict[str, str | None] = {}

    def to_channel(self) -> Channel:
        return Channel(
            id=self.id,
            name=self.name,
            # Asterisk sends "" for an absent caller ID.
            caller_number=self.caller.number or None,
            caller_name=self.caller.name or None,
            exten=self.dialplan.exten or None,
            state=self.state,
            context=self.dialplan.context or None,
            variables={k: v for k, v in self.channelvars.items() if v is not None},
            app_name=self.dialplan.app_name or None,
            app_data=self.dialplan.app_data or None,
        )


class _Bridge(_Wire):
    id: str


class _ChannelEvent(_Wire):
    channel: _Channel


class _StasisStart(_ChannelEvent):
    args: list[str] = []


class _ChannelLeftBridge(_ChannelEvent):
    bridge: _Bridge


class _ChannelDtmfReceived(_ChannelEvent):
    digit: str


class _Variable(_Wire):
    value: str | None = None


def parse_channel(data: object) -> Channel:
    """A channel object from a REST reply; raises ValueError when it is not one."""
    try:
        return _Channel.model_validate(data).to_channel()
    except ValidationError as exc:
        raise ValueError(f"not an ARI channel object: {exc}") from None


def _shown(text: str | bytes) -> str:
    """A malformed event as a log may show it: the caller's number masked."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return mask_phones_in(text)


def parse_event(text: str | bytes) -> AriEvent | None:
    """One WebSocket message as an event; None (with a log line) when it is malformed."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        log.warning("ARI event is not JSON, skipped: %s: %.200r", exc, _shown(text))
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        log.warning("ARI event without a type, skipped: %.200r", _shown(text))
        return None
    kind: str = data["type"]
    try:
        match kind:
            case "StasisStart":
                start = _StasisStart.model_validate(data)
                return StasisStart(start.channel.to_channel(), list(start.args))
            case "StasisEnd":
                return StasisEnd(_ChannelEvent.model_validate(data).channel.id)
            case "ChannelHangupRequest":
                return ChannelHangupRequest(_ChannelEvent.model_validate(data).channel.id)
            case "ChannelDestroyed":
                return ChannelDestroyed(_ChannelEvent.model_validate(data).channel.id)
            case "ChannelLeftBridge":
                left = _ChannelLeftBridge.model_validate(data)
                return ChannelLeftBridge(left.channel.id, left.bridge.id)
            case "ChannelDtmfReceived":
                dtmf = _ChannelDtmfReceived.model_validate(data)
                return ChannelDtmfReceived(dtmf.channel.id, dtmf.digit)
            case _:
                return OtherEvent(kind, data)
    except ValidationError as exc:
        log.warning("ARI %s event malformed, skipped: %s", kind, exc)
        return None


# --- the client ------------------------------------------------------------------------------


class AriClient:
    """REST calls and the event stream of one Stasis application.

    `base_url` is Asterisk's HTTP server, e.g. `http://127.0.0.1:8088` (a trailing `/ari` is
    accepted too). The aiohttp session is created on first use, inside the running loop.
    """

    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        app: str,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        reconnect_initial: float = DEFAULT_RECONNECT_INITIAL,
        reconnect_max: float = DEFAULT_RECONNECT_MAX,
    ) -> None:
        root = base_url.rstrip("/")
        if root.endswith("/ari"):
            root = root[: -len("/ari")]
        self.base_url = root
        self.app = app
        self._headers = {"Authorization": aiohttp.encode_basic_auth(user, password)}
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._reconnect_initial = reconnect_initial
        self._reconnect_max = reconnect_max
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._connected = False
        self.connects = 0  # how many times the event WebSocket was (re)established

    # --- REST ------------------------------------------------------------------------------

    async def answer(self, channel_id: str) -> None:
        await self._request("POST", f"/channels/{channel_id}/answer")

    async def create_bridge(self, bridge_type: str = "mixing") -> str:
        reply = await self._request("POST", "/bridges", {"type": bridge_type})
        try:
            return _Bridge.model_validate(reply).id
        except ValidationError as exc:
            raise AriError(502, f"bridge reply without an id: {exc}") from None

    async def add_channel(self, bridge_id: str, channel_id: str) -> None:
        await self._request("POST", f"/bridges/{bridge_id}/addChannel", {"channel": channel_id})

    async def remove_channel(self, bridge_id: str, channel_id: str) -> None:
        await self._request("POST", f"/bridges/{bridge_id}/removeChannel", {"channel": channel_id})

    async def destroy_bridge(self, bridge_id: str) -> None:
        """DELETE the bridge; an already gone bridge (404) is not an error."""
        await self._request("DELETE", f"/bridges/{bridge_id}", ignore_404=True)

    async def external_media(
        self,
        *,
        external_host: str,
        data: str,
        format: str = "slin16",
        encapsulation: str = "audiosocket",
        transport: str = "tcp",
    ) -> Channel:
        """Create the AudioSocket leg. Asterisk connects to `external_host` and sends `data`
        (which must be a UUID) as the first frame during this request."""
        reply = await self._request(
            "POST",
            "/channels/externalMedia",
            {
                "app": self.app,
                "external_host": external_host,
                "encapsulation": encapsulation,
                "transport": transport,
                "format": format,
                "data": data,
            },
        )
        try:
            return parse_channel(reply)
        except ValueError as exc:
            raise AriError(502, f"externalMedia reply: {exc}") from None

    async def hangup(self, channel_id: str) -> None:
        """DELETE the channel; one that is already gone (404) is not an error."""
        await self._request("DELETE", f"/channels/{channel_id}", ignore_404=True)

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str,
        extension: str | None = None,
        priority: int | None = None,
    ) -> None:
        params: dict[str, str] = {"context": context}
        if extension is not None:
            params["extension"] = extension
        if priority is not None:
            params["priority"] = str(priority)
        await self._request("POST", f"/channels/{channel_id}/continue", params)

    async def get_variable(self, channel_id: str, name: str) -> str | None:
        """A channel (or global dialplan) variable; None when it is not set."""
        try:
            reply = await self._request(
                "GET", f"/channels/{channel_id}/variable", {"variable": name}
            )
        except AriError as exc:
            # Asterisk answers 404 both for an unknown channel and an unset variable.
            if exc.status == 404 and "variable" in exc.message.lower():
                return None
            raise
        try:
            value = _Variable.model_validate(reply).value
        except ValidationError as exc:
            raise AriError(502, f"variable reply: {exc}") from None
        return value or None

    async def list_channels(self) -> list[Channel]:
        """Every channel on the Asterisk, in Stasis or not (the dialplan path's lookup)."""
        reply = await self._request("GET", "/channels")
        if not isinstance(reply, list):
            shown = mask_phones_in(repr(reply))
            raise AriError(502, f"channel list reply is not a list: {shown:.200}")
        channels = []
        for item in reply:
            try:
                channels.append(parse_channel(item))
            except ValueError as exc:
                log.warning("ARI channel list: skipped an entry: %s", exc)
        return channels

    async def get_channel(self, channel_id: str) -> Channel:
        reply = await self._request("GET", f"/channels/{channel_id}")
        try:
            return parse_channel(reply)
        except ValueError as exc:
            raise AriError(502, str(exc)) from None

    async def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        ignore_404: bool = False,
    ) -> Any:
        session = self._ensure_session()
        url = f"{self.base_url}/ari{path}"
        try:
            async with session.request(
                method, url, params=dict(params or {}), headers=self._headers, timeout=self._timeout
            ) as response:
                body = await response.text()
                if response.status == 404 and ignore_404:
                    log.debug("ARI %s %s: already gone (404)", method, path)
                    return None
                if response.status >= 400:
                    raise AriError(response.status, _error_text(response.status, body))
                if not body.strip():
                    return None
                try:
                    return json.loads(body)
                except json.JSONDecodeError:
                    raise AriError(
                        502, f"{method} {path}: reply is not JSON: {body:.200}"
                    ) from None
        except TimeoutError:
            raise AriError(0, f"{method} {path} timed out at {self.base_url}") from None
        except aiohttp.ClientError as exc:
            raise AriError(0, f"{method} {path} at {self.base_url}: {exc}") from None

    # --- events -----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the event WebSocket is up right now (events are being received)."""
        return self._connected

    async def events(self) -> AsyncIterator[AriEvent]:
        """Events of our app, forever: reconnects after a drop (capped backoff, one log line
        per attempt). Ends with AriError on 401/403 (wrong ARI_USER/ARI_PASSWORD) or when
        another connection takes the app over (409), and returns once `close()` was called."""
        session = self._ensure_session()
        url = f"{self.base_url}/ari/events"
        params = {"app": self.app, "subscribeAll": "false"}
        delay = self._reconnect_initial
        while not self._closed:
            try:
                async with session.ws_connect(
                    url, params=params, headers=self._headers, heartbeat=WEBSOCKET_HEARTBEAT
                ) as ws:
                    self.connects += 1
                    self._connected = True
                    delay = self._reconnect_initial
                    log.info("ARI events connected: %s app=%s", url, self.app)
                    yield EventsConnected(self.connects)
                    async for message in ws:
                        if message.type is aiohttp.WSMsgType.TEXT:
                            event = parse_event(message.data)
                            if isinstance(event, OtherEvent) and event.type == APP_REPLACED:
                                raise AriError(409, _replaced(self.app))
                            if event is not None:
                                yield event
                        elif message.type is aiohttp.WSMsgType.ERROR:
                            log.warning("ARI events WebSocket error: %s", ws.exception())
                            break
                    reason = f"closed (code {ws.close_code})"
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (401, 403):
                    raise AriError(
                        exc.status, f"event WebSocket refused the credentials ({exc.message})"
                    ) from None
                reason = f"handshake failed: {exc.status} {exc.message}"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self._connected = False
            if self._closed:
                return
            log.warning("ARI events %s; reconnecting in %.1f s", reason, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._reconnect_max)

    async def close(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> AriClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise AriError(0, "client is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session


def _replaced(app: str) -> str:
    return (
        f"another connection subscribed the Stasis app {app!r}, and Asterisk gives an app to "
        "one WebSocket only: every edge needs its own ARI_APP (see docs/edge.md, "
        '"Several edges on one Asterisk")'
    )


def _error_text(status: int, body: str) -> str:
    """Asterisk's error replies are `{"message": "..."}`; fall back to the raw body."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        for key in ("message", "error"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return body.strip()[:200] or f"HTTP {status}"

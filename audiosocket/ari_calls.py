"""The Stasis call flow: from a caller's `StasisStart` to an AudioSocket leg in one bridge.

Per caller (../shared/spec/audiosocket.md, "Getting the caller's number"):
answer → mixing bridge → add the caller → choose a uuid4 → `externalMedia(data=uuid)` →
wait for the media channel's own `StasisStart` → add it to the bridge.

Why it is shaped like this:
- The call is registered under its UUID *before* `externalMedia` is sent: Asterisk connects
  to the edge and sends the UUID frame during that request, so the edge's `lookup` must
  already find the caller's number then (and `wait_for` covers any later registration).
- The HTTP reply of `externalMedia` can arrive before the media channel is in Stasis, and
  `addChannel` then fails with 422; the router waits for that channel's `StasisStart` (which
  may also come before the reply) and still retries a 422 a few times.
- The media leg's own `StasisStart` must not start a call: it is recognised by its id (the
  reply) or, when it beats the reply, by its `AudioSocket/` name.
- When the caller hangs up, Asterisk keeps the AudioSocket channel (and its TCP) up until the
  app deletes it, so the router deletes the media leg and the bridge. When the bot hangs up,
  Asterisk leaves the caller alone in the bridge, so `hang_up` deletes the caller channel.
- DTMF arrives both here (`ChannelDtmfReceived`) and as AudioSocket 0x03 frames; the router
  just passes the ARI copy on, and the edge keeps one of the two (its job, not ours).
- Each call's steps run in their own task; any failure is logged for that call only.

The dialplan path (`AudioSocket(uuid, host:port)` without Stasis) is found too: the dialplan
sets VOICEORDER_UUID, ari.conf `channelvars = VOICEORDER_UUID` makes Asterisk show it in
channel objects, and `wait_for` looks the UUID up in `GET /channels`. Such a call has no
bridge or media channel; `hang_up` deletes the caller channel, and `transfer` leaves it to
the dialplan, which continues after `AudioSocket()` once the edge sends 0x00.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from audiosocket.ari import (
    AriClient,
    AriError,
    AriEvent,
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    EventsConnected,
    StasisEnd,
    StasisStart,
)
from core.phones import mask_phone

log = logging.getLogger(__name__)

MEDIA_CHANNEL_PREFIX = "AudioSocket/"
DEFAULT_MEDIA_STASIS_TIMEOUT = 5.0
# A 422 after the StasisStart wait means the event got lost; a few short retries cover it.
ADD_MEDIA_RETRIES = 5
ADD_MEDIA_RETRY_DELAY = 0.1
# The variable the dialplan path sets to the UUID it passes to AudioSocket().
DIALPLAN_UUID_VARIABLE = "VOICEORDER_UUID"
# Dialplan-path calls are not in Stasis, so no event tells us they ended; keep the last few.
DIALPLAN_CALLS_KEPT = 512
# Channels in our app that no StasisStart of this process explains (a previous edge process
# died mid-call) are released after this long: their StasisStart may be in flight.
DEFAULT_LEFTOVER_GRACE = 2.0
# How long a caller may sit in the bridge after the AudioSocket leg ended without the edge
# asking for a hang-up or a transfer, before the router hangs the caller up itself.
DEFAULT_ORPHAN_GRACE = 5.0


class AriCallListener(Protocol):
    """Implemented by the edge; called from the router's tasks, in event order per call."""

    async def on_caller_dtmf(self, audiosocket_id: uuid.UUID, digit: str) -> None: ...

    async def on_caller_hangup(self, audiosocket_id: uuid.UUID) -> None: ...


@dataclass
class AriCall:
    """One caller in our Stasis app, keyed by the UUID its AudioSocket leg sends first."""

    audiosocket_id: uuid.UUID
    caller_channel_id: str
    caller_number: str | None
    bridge_id: str | None = None
    media_channel_id: str | None = None
    caller_name: str | None = None
    exten: str | None = None
    bridged: bool = False  # both legs are in the bridge: audio flows
    via_dialplan: bool = False  # AudioSocket() in the dialplan, not Stasis


@dataclass
class _CallState:
    call: AriCall
    setup: asyncio.Task[None] | None = None
    ending: bool = False  # hang-up, transfer or caller gone: no new steps start
    caller_gone: bool = False
    media_gone: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # wakes the setup's waits
    done: asyncio.Event = field(default_factory=asyncio.Event)  # everything cleaned up
    listener_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    hangup_notified: bool = False


class AriCallRouter:
    def __init__(
        self,
        client: AriClient,
        *,
        external_host: str,
        operator_context: str,
        media_format: str = "slin16",
        operator_extension: str | None = None,
        media_stasis_timeout: float = DEFAULT_MEDIA_STASIS_TIMEOUT,
        orphan_grace: float | None = DEFAULT_ORPHAN_GRACE,
        leftover_grace: float | None = DEFAULT_LEFTOVER_GRACE,
    ) -> None:
        self._client = client
        self.external_host = external_host
        self.operator_context = operator_context
        self.operator_extension = operator_extension
        self.media_format = media_format
        self._media_stasis_timeout = media_stasis_timeout
        self._orphan_grace = orphan_grace
        self._leftover_grace = leftover_grace
        self._listener: AriCallListener | None = None
        self._calls: dict[uuid.UUID, _CallState] = {}
        self._by_caller: dict[str, uuid.UUID] = {}
        self._by_media: dict[str, uuid.UUID] = {}
        self._media_in_stasis: dict[str, asyncio.Event] = {}
        self._registered: dict[uuid.UUID, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._dialplan_calls: OrderedDict[uuid.UUID, AriCall] = OrderedDict()

    def set_listener(self, listener: AriCallListener) -> None:
        self._listener = listener

    # --- the edge's side --------------------------------------------------------------------

    def lookup(self, audiosocket_id: uuid.UUID) -> AriCall | None:
        state = self._calls.get(audiosocket_id)
        if state is not None:
            return state.call
        return self._dialplan_calls.get(audiosocket_id)

    async def wait_for(
        self,
        audiosocket_id: uuid.UUID,
        timeout: float,  # noqa: ASYNC109 - the contract the edge codes against
    ) -> AriCall | None:
        """The call with this UUID, waiting up to `timeout` s for it to be registered."""
        call = self.lookup(audiosocket_id)
        if call is not None:
            return call
        registered = self._registered.setdefault(audiosocket_id, asyncio.Event())
        try:
            async with asyncio.timeout(timeout):
                # Stasis calls are registered before Asterisk connects, so an unknown UUID is
                # most likely the dialplan path: look there first, then keep waiting.
                call = await self._find_dialplan_call(audiosocket_id)
                if call is not None:
                    return call
                await registered.wait()
        except TimeoutError:
            pass
        finally:
            if self._registered.get(audiosocket_id) is registered and not registered.is_set():
                del self._registered[audiosocket_id]
        return self.lookup(audiosocket_id)

    async def _find_dialplan_call(self, audiosocket_id: uuid.UUID) -> AriCall | None:
        try:
            channels = await self._client.list_channels()
        except AriError as exc:
            log.warning("ari: dialplan lookup of %s failed: %s", audiosocket_id, exc)
            return None
        wanted = str(audiosocket_id)
        for channel in channels:
            if channel.variables.get(DIALPLAN_UUID_VARIABLE, "").strip().lower() == wanted:
                call = AriCall(
                    audiosocket_id=audiosocket_id,
                    caller_channel_id=channel.id,
                    caller_number=channel.caller_number,
                    caller_name=channel.caller_name,
                    exten=channel.exten,
                    via_dialplan=True,
                )
                self._dialplan_calls[audiosocket_id] = call
                while len(self._dialplan_calls) > DIALPLAN_CALLS_KEPT:
                    self._dialplan_calls.popitem(last=False)
                log.info(
                    "ari call %s: dialplan AudioSocket() call on %s from %s",
                    audiosocket_id,
                    channel.id,
                    mask_phone(channel.caller_number) or "unknown number",
                )
                return call
        return None

    @property
    def calls(self) -> list[AriCall]:
        return [state.call for state in self._calls.values()]

    async def hang_up(self, audiosocket_id: uuid.UUID) -> None:
        """The bot ends the call: delete the caller channel, the media leg and the bridge."""
        dialplan_call = self._dialplan_calls.pop(audiosocket_id, None)
        if dialplan_call is not None:
            try:
                await self._client.hangup(dialplan_call.caller_channel_id)
            except AriError as exc:
                log.error("ari call %s: hanging up the caller failed: %s", audiosocket_id, exc)
            return
        state = self._calls.get(audiosocket_id)
        if state is None or state.ending:
            log.info("ari call %s: hang-up for a call already ending or unknown", audiosocket_id)
            return
        self._begin_ending(state)
        await self._settle_setup(state)
        try:
            await self._client.hangup(state.call.caller_channel_id)
        except AriError as exc:
            log.error("ari call %s: hanging up the caller failed: %s", audiosocket_id, exc)
        await self._teardown(state)

    async def transfer(self, audiosocket_id: uuid.UUID) -> bool:
        """Send the caller to the operators (`continue` into OPERATOR_CONTEXT), then delete
        the media leg and the bridge. False when the transfer failed; the caller is then
        hung up rather than left in a silent bridge."""
        if self._dialplan_calls.pop(audiosocket_id, None) is not None:
            # Not in Stasis, so `continue` is refused; the dialplan goes on after AudioSocket()
            # when the edge sends 0x00 (deploy/asterisk/extensions.conf sends it to operators).
            log.info("ari call %s: dialplan call; the dialplan transfers it", audiosocket_id)
            return True
        state = self._calls.get(audiosocket_id)
        if state is None or state.ending:
            log.warning("ari call %s: transfer of a call already ending or unknown", audiosocket_id)
            return False
        self._begin_ending(state)
        await self._settle_setup(state)
        call = state.call
        transferred = False
        if not state.caller_gone:
            if call.bridge_id is not None:
                # `continue` also takes it out of the bridge, but only once the channel leaves
                # Stasis; removing it first keeps the operator from hearing the bot's leg.
                with contextlib.suppress(AriError):
                    await self._client.remove_channel(call.bridge_id, call.caller_channel_id)
            try:
                await self._client.continue_in_dialplan(
                    call.caller_channel_id, self.operator_context, self.operator_extension
                )
                transferred = True
                log.info(
                    "ari call %s: caller %s continues in context %s",
                    audiosocket_id,
                    call.caller_channel_id,
                    self.operator_context,
                )
            except AriError as exc:
                log.error("ari call %s: transfer failed (%s); hanging up", audiosocket_id, exc)
                with contextlib.suppress(AriError):
                    await self._client.hangup(call.caller_channel_id)
        await self._teardown(state)
        return transferred

    # --- events ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume events until cancelled (or until the client ends with an AriError such as
        bad credentials, which propagates). Open calls' tasks are cancelled on the way out."""
        try:
            async for event in self._client.events():
                try:
                    self.handle(event)
                except Exception:
                    log.exception("ari: handling %s failed", type(event).__name__)
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def handle(self, event: AriEvent) -> None:
        """Route one event (public so the edge or a test can feed events itself)."""
        match event:
            case StasisStart(channel=channel):
                self._on_stasis_start(channel)
            case (
                StasisEnd(channel_id)
                | ChannelHangupRequest(channel_id)
                | ChannelDestroyed(channel_id)
            ):
                self._on_channel_gone(channel_id)
            case ChannelDtmfReceived(channel_id, digit):
                self._on_dtmf(channel_id, digit)
            case EventsConnected(count):
                self._spawn(self._reconcile() if count > 1 else self._release_leftovers())
            case _:
                log.debug("ari: %s event not used", getattr(event, "type", type(event).__name__))

    def _on_stasis_start(self, channel: Channel) -> None:
        if self._is_media_leg(channel):
            self._media_started(channel.id).set()
            return
        if channel.id in self._by_caller:
            log.info("ari: channel %s re-entered Stasis; already routed", channel.id)
            return
        call = AriCall(
            audiosocket_id=uuid.uuid4(),
            caller_channel_id=channel.id,
            caller_number=channel.caller_number,
            caller_name=channel.caller_name,
            exten=channel.exten,
        )
        state = _CallState(call)
        log.info(
            "ari call %s: caller %s (%s) on %s dialled %s",
            call.audiosocket_id,
            channel.id,
            mask_phone(channel.caller_number) or "unknown number",
            channel.name,
            channel.exten,
        )
        self._by_caller[channel.id] = call.audiosocket_id
        self._calls[call.audiosocket_id] = state
        registered = self._registered.pop(call.audiosocket_id, None)
        if registered is not None:
            registered.set()
        state.setup = self._spawn(self._set_up(state))

    def _is_media_leg(self, channel: Channel) -> bool:
        return (
            channel.id in self._by_media
            # Its StasisStart can beat the externalMedia reply, so the id may be unknown yet.
            or channel.name.startswith(MEDIA_CHANNEL_PREFIX)
        )

    def _on_channel_gone(self, channel_id: str) -> None:
        caller_of = self._by_caller.get(channel_id)
        if caller_of is not None:
            state = self._calls.get(caller_of)
            if state is not None and not state.caller_gone:
                state.caller_gone = True
                if not state.ending:
                    self._begin_ending(state)
                    self._spawn(self._caller_hung_up(state))
            return
        media_of = self._by_media.get(channel_id)
        if media_of is not None:
            self._media_in_stasis.pop(channel_id, None)
            state = self._calls.get(media_of)
            if state is not None and not state.media_gone:
                state.media_gone = True
                if not state.ending and self._orphan_grace is not None:
                    self._spawn(self._hang_up_orphan(state, self._orphan_grace))
            return
        self._media_in_stasis.pop(channel_id, None)

    def _on_dtmf(self, channel_id: str, digit: str) -> None:
        audiosocket_id = self._by_caller.get(channel_id)
        state = self._calls.get(audiosocket_id) if audiosocket_id else None
        if state is None or state.ending:
            return
        self._spawn(self._notify(state, "on_caller_dtmf", digit))

    async def _reconcile(self) -> None:
        """After a reconnect: events of the gap are lost, and Asterisk keeps an AudioSocket
        leg up until it is deleted, so ask about every open call's channels."""
        for state in list(self._calls.values()):
            if state.ending:
                continue
            call = state.call
            for channel_id in (call.caller_channel_id, call.media_channel_id):
                if channel_id is None:
                    continue
                try:
                    await self._client.get_channel(channel_id)
                except AriError as exc:
                    if exc.status != 404:
                        log.warning("ari: reconcile of %s failed: %s", channel_id, exc)
                        continue
                    log.warning(
                        "ari call %s: channel %s ended while events were down",
                        call.audiosocket_id,
                        channel_id,
                    )
                    self._on_channel_gone(channel_id)

    async def _release_leftovers(self) -> None:
        """On the first connect: callers a previous edge process left in our Stasis app sit
        in a silent bridge (Asterisk keeps them), and their AudioSocket legs stay up. Send
        the callers to the operators and delete the legs."""
        if self._leftover_grace is None:
            return
        try:
            channels = await self._client.list_channels()
        except AriError as exc:
            log.warning("ari: could not look for calls left by a previous edge: %s", exc)
            return
        candidates = [c for c in channels if c.in_stasis_app(self._client.app)]
        if not candidates:
            return
        await asyncio.sleep(self._leftover_grace)
        for channel in candidates:
            if self._is_ours(channel.id):
                continue
            try:
                if channel.name.startswith(MEDIA_CHANNEL_PREFIX):
                    log.warning(
                        "ari: deleting AudioSocket leg %s left by a previous edge", channel.id
                    )
                    await self._client.hangup(channel.id)
                else:
                    log.warning(
                        "ari: caller %s (%s) was left in Stasis by a previous edge; "
                        "sending it to %s",
                        channel.id,
                        mask_phone(channel.caller_number) or "unknown number",
                        self.operator_context,
                    )
                    await self._client.continue_in_dialplan(
                        channel.id, self.operator_context, self.operator_extension
                    )
            except AriError as exc:
                log.warning("ari: releasing leftover channel %s failed: %s", channel.id, exc)

    def _is_ours(self, channel_id: str) -> bool:
        return (
            channel_id in self._by_caller
            or channel_id in self._by_media
            or channel_id in self._media_in_stasis
        )

    # --- per-call steps ----------------------------------------------------------------------

    async def _set_up(self, state: _CallState) -> None:
        call = state.call
        try:
            await self._client.answer(call.caller_channel_id)
            call.bridge_id = await self._client.create_bridge()
            if state.ending:
                return
            await self._client.add_channel(call.bridge_id, call.caller_channel_id)
            if state.ending:
                return
            media = await self._client.external_media(
                external_host=self.external_host,
                data=str(call.audiosocket_id),
                format=self.media_format,
            )
            call.media_channel_id = media.id
            self._by_media[media.id] = call.audiosocket_id
            if state.ending:
                return
            await self._add_media_leg(state, media.id)
            call.bridged = True
            log.info(
                "ari call %s: caller %s and AudioSocket leg %s bridged in %s",
                call.audiosocket_id,
                call.caller_channel_id,
                media.id,
                call.bridge_id,
            )
        except AriError as exc:
            if state.ending:
                log.info("ari call %s: setup stopped, call ending: %s", call.audiosocket_id, exc)
                return
            log.error("ari call %s: setup failed: %s", call.audiosocket_id, exc)
            await self._give_up(state)

    async def _add_media_leg(self, state: _CallState, media_id: str) -> None:
        started = self._media_started(media_id)
        waiters = {asyncio.ensure_future(started.wait()), asyncio.ensure_future(state.ended.wait())}
        try:
            await asyncio.wait(
                waiters, timeout=self._media_stasis_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
        if state.ending:
            return
        if not started.is_set():
            log.warning(
                "ari call %s: no StasisStart for AudioSocket leg %s within %.1f s; adding anyway",
                state.call.audiosocket_id,
                media_id,
                self._media_stasis_timeout,
            )
        assert state.call.bridge_id is not None
        for attempt in range(ADD_MEDIA_RETRIES + 1):
            try:
                await self._client.add_channel(state.call.bridge_id, media_id)
                return
            except AriError as exc:
                if exc.status != 422 or attempt == ADD_MEDIA_RETRIES or state.ending:
                    raise
                await asyncio.sleep(ADD_MEDIA_RETRY_DELAY)

    async def _give_up(self, state: _CallState) -> None:
        """Setup failed: the bot cannot talk, so hand the caller to a human (or hang up),
        tell the edge the call is over for it, and clean up."""
        self._begin_ending(state)
        call = state.call
        try:
            await self._client.continue_in_dialplan(
                call.caller_channel_id, self.operator_context, self.operator_extension
            )
            log.warning(
                "ari call %s: caller sent to %s after the failed setup",
                call.audiosocket_id,
                self.operator_context,
            )
        except AriError as exc:
            log.error(
                "ari call %s: transfer after failed setup failed: %s", call.audiosocket_id, exc
            )
            with contextlib.suppress(AriError):
                await self._client.hangup(call.caller_channel_id)
        await self._notify(state, "on_caller_hangup")
        await self._teardown(state)

    async def _caller_hung_up(self, state: _CallState) -> None:
        await self._notify(state, "on_caller_hangup")
        await self._settle_setup(state)
        await self._teardown(state)

    async def _hang_up_orphan(self, state: _CallState, grace: float) -> None:
        await asyncio.sleep(grace)
        if state.ending:
            return
        log.warning(
            "ari call %s: AudioSocket leg ended %.1f s ago with no hang-up or transfer; "
            "hanging up the caller left alone in the bridge",
            state.call.audiosocket_id,
            grace,
        )
        await self.hang_up(state.call.audiosocket_id)

    async def _notify(self, state: _CallState, what: str, digit: str = "") -> None:
        listener = self._listener
        call_id = state.call.audiosocket_id
        async with state.listener_lock:
            if what == "on_caller_hangup":
                if state.hangup_notified:
                    return
                state.hangup_notified = True
            if listener is None:
                log.warning("ari call %s: no listener for %s", call_id, what)
                return
            try:
                if what == "on_caller_dtmf":
                    await listener.on_caller_dtmf(call_id, digit)
                else:
                    await listener.on_caller_hangup(call_id)
            except Exception:
                log.exception("ari call %s: listener %s failed", call_id, what)

    def _begin_ending(self, state: _CallState) -> None:
        state.ending = True
        state.ended.set()

    async def _settle_setup(self, state: _CallState) -> None:
        """Let a running setup reach a stopping point (it checks `ending` between steps), so
        the media leg it may have created is known and can be deleted."""
        task = state.setup
        if task is None or task is asyncio.current_task() or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), self._media_stasis_timeout + 5.0)
        except TimeoutError:
            log.error(
                "ari call %s: setup did not stop; cleaning up anyway", state.call.audiosocket_id
            )
        except Exception:
            pass  # already logged by the setup task

    async def _teardown(self, state: _CallState) -> None:
        """Delete the media leg and the bridge (404s ignored), then forget the call."""
        call = state.call
        if state.done.is_set():
            return
        if call.media_channel_id is not None:
            try:
                await self._client.hangup(call.media_channel_id)
            except AriError as exc:
                log.error(
                    "ari call %s: deleting the AudioSocket leg failed: %s", call.audiosocket_id, exc
                )
        if call.bridge_id is not None:
            try:
                await self._client.destroy_bridge(call.bridge_id)
            except AriError as exc:
                log.error("ari call %s: destroying the bridge failed: %s", call.audiosocket_id, exc)
        call.bridged = False
        self._forget(state)
        state.done.set()
        log.info("ari call %s: cleaned up", call.audiosocket_id)

    def _forget(self, state: _CallState) -> None:
        call = state.call
        self._calls.pop(call.audiosocket_id, None)
        self._by_caller.pop(call.caller_channel_id, None)
        if call.media_channel_id is not None:
            self._by_media.pop(call.media_channel_id, None)
            self._media_in_stasis.pop(call.media_channel_id, None)

    def _media_started(self, channel_id: str) -> asyncio.Event:
        return self._media_in_stasis.setdefault(channel_id, asyncio.Event())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

"""Which AudioSocket connections become calls.

AudioSocket has no authentication: any peer that reaches the port may send any UUID, and the
UUID becomes the call's workflow id (`call-<uuid>`). A UUID that names an earlier call must
never start a second conversation under it, so the edge refuses, before any workflow starts:
- the nil UUID (a dialplan `AudioSocket()` written with a constant instead of `${UUID()}`);
- a UUID this edge has already served (the dialplan path has no other check here; Temporal's
  ID reuse policy refuses it durably, across edge restarts and between edges, too);
- on the ARI path, a UUID the router did not ask Asterisk for (checked by the session once the
  router had its chance to register the call).
A refused connection gets 0x00 at once: the dialplan goes on after `AudioSocket()` (to the
operators, in the shipped samples), and an intruder learns nothing.

A genuine call the edge has no room for (`EDGE_MAX_CALLS` calls already on the line) is
refused too, before its workflow starts, but never in silence: a Stasis caller is sent to the
operators (ARI `continue`, by the edge), anyone else hears the short busy phrase (`BusyCall`)
and is hung up. Past the cap every call would get worse — late greetings, broken audio — so
the calls already talking keep their quality and the newcomer learns at once.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from enum import StrEnum

from audiosocket.pacing import FrameSource
from audiosocket.playout import PlayoutSource
from audiosocket.server import Call, HangupReason

# UUIDs remembered for the reuse check: hours of calls on a busy line, ~10 MB at most.
REMEMBERED_UUIDS = 100_000


class Refusal(StrEnum):
    NIL_UUID = "nil_uuid"
    UUID_REUSED = "uuid_reused"
    UNKNOWN_UUID = "unknown_uuid"  # ARI is on, but the router never asked for this UUID
    EDGE_FULL = "edge_full"  # EDGE_MAX_CALLS calls are already on the line


class CallRefused(Exception):
    """A connection that must not become a call (see `Refusal`)."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


class UuidGuard:
    """Refuses the nil UUID and any UUID already seen by this edge (bounded memory)."""

    def __init__(self, remember: int = REMEMBERED_UUIDS) -> None:
        self._remember = remember
        self._seen: OrderedDict[uuid.UUID, None] = OrderedDict()

    def check(self, call_id: uuid.UUID) -> Refusal | None:
        if call_id.int == 0:
            return Refusal.NIL_UUID
        if call_id in self._seen:
            return Refusal.UUID_REUSED
        self._seen[call_id] = None
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        return None


class RefusedCall:
    """The CallHandler of a refused connection: 0x00 on the first clock tick, nothing else."""

    def __init__(self, call: Call, rate: int) -> None:
        self._outbound = PlayoutSource(rate)
        call.hangup()

    @property
    def outbound(self) -> FrameSource:
        return self._outbound

    async def on_audio(self, pcm: bytes, rate: int) -> None:
        return None

    async def on_dtmf(self, digit: str) -> None:
        return None

    async def on_hangup(self, reason: HangupReason) -> None:
        return None


class BusyCall(RefusedCall):
    """The CallHandler of a call refused for capacity: the busy phrase (synthesised once at
    start), then 0x00. With no phrase (TTS failed) it is 0x00 at once, like `RefusedCall`."""

    def __init__(self, call: Call, rate: int, phrase: bytes) -> None:
        self._outbound = PlayoutSource(rate)
        if phrase:
            self._outbound.enqueue(phrase)
        call.hangup(after_speech=True)

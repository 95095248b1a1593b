"""The callers of B3: N AudioSocket legs in one lean process, as Asterisk would send them.

Each leg connects, sends its UUID, then a 20 ms frame every 20 ms for the whole call (as
Asterisk does with `transmit_silence`): real speech (espeak Russian phrases) half of the
time, digital silence the other half, each leg starting at a random point of the script and
on a random phase of the 20 ms grid, as independent calls would. Every frame the edge sends is
timestamped on arrival.

Why not `audiosocket/simulator/peer.py`: it keeps every frame with its RMS and runs a task per
call, which is right for tests and wrong here, where one core must drive hundreds of calls
without becoming the bottleneck it measures. This one pre-encodes the caller's frames, sends
them from one loop woken every millisecond, and decodes arrivals in `data_received`; the wire
format is the same codec (`audiosocket/protocol.py`).

Run by bench/streams.py: `python -m bench.streams_load SPEC_FILE RESULT_FILE`.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import sys
import uuid
from array import array
from pathlib import Path
from typing import Any

from audiosocket.pacing import DEFAULT_LEAD_SECONDS, FRAME_SECONDS, frame_bytes
from audiosocket.protocol import Audio, FrameDecoder, Hangup, Uuid, encode
from audiosocket.sender import BATCH_SECONDS

PHASES = 20  # 1 ms phase slots of the 20 ms grid
EARLY_MS = (DEFAULT_LEAD_SECONDS + BATCH_SECONDS) * 1000  # how early the edge may send
GAP_FRAMES = 3  # an inter-arrival above this many frames is a gap (as in bench/edge_pacing.py)


class Leg(asyncio.Protocol):
    """One call's socket: writes the caller's frames, timestamps the edge's."""

    def __init__(self, frames: list[bytes], start: int) -> None:
        self.call_id = uuid.uuid4()
        self._frames = frames
        self._next = start
        self._decoder = FrameDecoder()
        self._loop = asyncio.get_running_loop()
        self.arrivals = array("d")
        self.transport: asyncio.Transport | None = None
        self.connected = asyncio.Event()
        self.lost = False
        self.hung_up_by_edge = False
        self.sent = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(encode(Uuid(self.call_id)))
        self.transport = transport
        self.connected.set()

    def data_received(self, data: bytes) -> None:
        now = self._loop.time()
        for message in self._decoder.feed(data):
            if isinstance(message, Audio):
                self.arrivals.append(now)
            elif isinstance(message, Hangup):
                self.hung_up_by_edge = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True

    def send_frame(self) -> None:
        if self.transport is None or self.lost or self.transport.is_closing():
            return
        self.transport.write(self._frames[self._next])
        self._next = (self._next + 1) % len(self._frames)
        self.sent += 1

    def hang_up(self) -> None:
        if self.transport is not None:
            self.transport.close()


def caller_frames(script: bytes, rate: int) -> list[bytes]:
    """The caller's side as encoded AudioSocket messages: speech, then as long a silence."""
    size = frame_bytes(rate)
    whole = len(script) - len(script) % size
    return [encode(Audio(rate, script[i : i + size])) for i in range(0, whole, size)]


def spread_ms(arrivals: array[float], since: float, until: float) -> tuple[list[float], int]:
    """How much later than the earliest frame's grid each frame that arrived in [since, until)
    came (the 20 ms grid anchored at the earliest frame, re-anchored after a gap); and the
    gaps. A slot the edge skipped shows as 20 ms more for the frames after it."""
    lateness: list[float] = []
    gaps = 0
    segment: list[float] = []

    def close() -> None:
        if segment:
            anchor = min(segment)
            lateness.extend((offset - anchor) * 1000 for offset in segment)
            segment.clear()

    previous: float | None = None
    index = 0
    for at in arrivals:
        if at < since or at >= until:
            continue
        if previous is not None and at - previous > GAP_FRAMES * FRAME_SECONDS:
            gaps += 1
            close()
            index = 0
        segment.append(at - index * FRAME_SECONDS)
        index += 1
        previous = at
    close()
    return lateness, gaps


async def _send_all(legs: list[Leg], until: float, lag: list[float]) -> None:
    """One loop for every leg: leg i sends on phase slot i % PHASES of the 20 ms grid."""
    loop = asyncio.get_running_loop()
    slots: list[list[Leg]] = [[] for _ in range(PHASES)]
    for i, leg in enumerate(legs):
        slots[i % PHASES].append(leg)
    base = loop.time()
    while base < until:
        behind = loop.time() - base
        if behind > 2 * FRAME_SECONDS:
            # Starved of CPU: skip the slots that passed, as Asterisk's timer does, rather than
            # burst the backlog at the edge (which its inbound budget would rightly cut).
            base += (behind // FRAME_SECONDS) * FRAME_SECONDS
            lag.append(behind)
        for slot, members in enumerate(slots):
            due = base + slot * FRAME_SECONDS / PHASES
            # Always yield, even when behind: arrivals are timestamped by the same loop.
            await asyncio.sleep(max(0.0, due - loop.time()))
            lag.append(max(0.0, loop.time() - due))
            for leg in members:
                leg.send_frame()
        base += FRAME_SECONDS


async def run(spec: dict[str, Any], script: bytes) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    rate = spec["rate"]
    frames = caller_frames(script, rate)
    rng = random.Random(spec.get("seed", 1))
    calls, ramp_s, seconds = spec["calls"], spec["ramp_s"], spec["seconds"]
    legs = [Leg(frames, rng.randrange(len(frames))) for _ in range(calls)]
    started = loop.time()
    # Calls arrive over the ramp, not all at once (a burst of connects is another benchmark).
    for i, leg in enumerate(legs):
        await asyncio.sleep(max(0.0, started + ramp_s * i / calls - loop.time()))
        await loop.create_connection(lambda leg=leg: leg, "127.0.0.1", spec["port"])  # type: ignore[misc]
    measure_from = loop.time() + spec["settle_s"]
    measure_until = measure_from + seconds
    lag: list[float] = []
    await _send_all(legs, measure_until, lag)
    for leg in legs:
        leg.hang_up()
    await asyncio.sleep(0.2)
    spread: list[float] = []
    gaps = 0
    frames_received = 0
    for leg in legs:
        late, leg_gaps = spread_ms(leg.arrivals, measure_from, measure_until)
        spread.extend(late)
        gaps += leg_gaps
        frames_received += len(late)
    spread.sort()
    # The edge may send a frame up to lead + batch before its slot (pacing.py, sender.py), so
    # the earliest arrival is that much before the slot: a frame is late by what it came after.
    lateness = [max(0.0, x - EARLY_MS) for x in spread]
    lag.sort()
    return {
        "calls": calls,
        "frames_measured": frames_received,
        "frames_sent": sum(leg.sent for leg in legs),
        "lateness_p50_ms": _percentile(lateness, 0.50),
        "lateness_p99_ms": _percentile(lateness, 0.99),
        "lateness_max_ms": round(lateness[-1], 2) if lateness else 0.0,
        "spread_p99_ms": _percentile(spread, 0.99),
        "gaps": gaps,
        "calls_cut_by_edge": sum(1 for leg in legs if leg.hung_up_by_edge),
        "sender_lag_p99_ms": _percentile([x * 1000 for x in lag], 0.99),
    }


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return round(ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))], 2)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    result = asyncio.run(run(spec, Path(spec["script_file"]).read_bytes()))
    Path(sys.argv[2]).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()

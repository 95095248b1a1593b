"""The simulated Asterisk legs of `./dev bench edge-pacing`, in a process of their own.

They timestamp every frame the edge sends; in the benchmark's own process they shared an
event loop with the fake LLM and the fake STT, and when all calls' turns reached the fakes
at once that loop stalled for ~100 ms: every call "heard" a gap the edge never made. Here
nothing else runs on their loop. Their loop can still fall behind on its own (a hundred calls
playing their phrase at once, the process waiting for a core): a frame is timestamped when
the leg's reader gets to it, so such a stall shows as a gap the edge never made. `LoopLag`
watches for that, and each gap says whether the callers' loop was late enough to explain it.

    python -m bench.edge_pacing_callers edge PORT LEG...   # a call per leg UUID
    python -m bench.edge_pacing_callers bare PORT SECONDS CALLS

prints a JSON object: `calls`, a `CallPacing` per call, and `loop_lag`, the loop's
(wake-up time, ms late) samples.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from dataclasses import asdict, dataclass
from typing import Any

CALLER_PHRASE = "Здравствуйте, хочу заказать гречку"
GAP_S = 3 * 0.020  # an inter-arrival above three frames is a gap, not jitter


@dataclass
class CallPacing:
    first_frame_ms: float
    silent_frames_before_greeting: int
    greeting_after_ms: float
    frames: int
    lateness_ms: list[float]
    jitter_ms: list[float]
    gaps_ms: list[float]
    gaps_end_at: list[float]  # the loop time the frame after each gap arrived


class LoopLag:
    """How late this process's event loop wakes up: a task asks to be woken every
    `every_s` and records how much later it was."""

    def __init__(self, every_s: float = 0.005) -> None:
        self.every_s = every_s
        self.samples: list[tuple[float, float]] = []  # (woke at, ms late)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.every_s
            await asyncio.sleep(self.every_s)
            woke = loop.time()
            self.samples.append((woke, max(0.0, woke - due) * 1000))


def analyse(
    connected: float, received: list[tuple[float, bytes]], rate: int, greeting: float | None
) -> CallPacing:
    """Lateness of every frame against the grid anchored at the earliest-possible first frame
    (re-anchored after a gap, so one stall counts once, as a gap, and where speech starts or
    stops: the edge starts a reply's first frame at once instead of at the silence's next
    slot, and moves back to its grid in the silence after it: audiosocket/pacing.py)."""
    bytes_per_s = rate * 2
    lateness: list[float] = []
    jitter: list[float] = []
    gaps: list[float] = []
    gaps_end_at: list[float] = []
    segment: list[tuple[float, float]] = []
    offset = 0.0

    def close() -> None:
        if segment:
            anchor = min(at - audio for at, audio in segment)
            lateness.extend((at - audio - anchor) * 1000 for at, audio in segment)
            segment.clear()

    previous: tuple[float, float] | None = None
    was_speech: bool | None = None
    for at, pcm in received:
        seconds = len(pcm) / bytes_per_s
        speech = any(pcm)
        if previous is not None:
            delta = at - previous[0]
            if delta > GAP_S:
                gaps.append(delta * 1000)
                gaps_end_at.append(at)
                close()
                offset = 0.0
            elif speech != was_speech:
                close()
                offset = 0.0
            else:
                jitter.append(abs(delta - previous[1]) * 1000)
        was_speech = speech
        segment.append((at, offset))
        offset += seconds
        previous = (at, seconds)
    close()
    before = [pcm for at, pcm in received if greeting is None or at < greeting]
    return CallPacing(
        first_frame_ms=(received[0][0] - connected) * 1000 if received else float("inf"),
        silent_frames_before_greeting=sum(1 for pcm in before if not any(pcm)),
        greeting_after_ms=((greeting or connected) - connected) * 1000,
        frames=len(received),
        lateness_ms=lateness,
        jitter_ms=jitter,
        gaps_ms=gaps,
        gaps_end_at=gaps_end_at,
    )


async def _call_edge(port: int, leg: uuid.UUID, pcm: bytes) -> CallPacing:
    from audiosocket.simulator.peer import AudioSocketPeer

    loop = asyncio.get_running_loop()
    connected = loop.time()
    peer = await AudioSocketPeer.connect("127.0.0.1", port, leg, rate=8000)
    try:
        greeting = await peer.wait_for_bot_speech(since=connected, timeout_s=60)
        await peer.wait_until_bot_quiet(600, since=connected, timeout_s=60)
        await peer.play(pcm)
        stopped = loop.time()
        await peer.wait_for_bot_speech(since=stopped, timeout_s=60)
        await peer.wait_until_bot_quiet(600, since=stopped, timeout_s=60)
    finally:
        await peer.hang_up()
    return analyse(connected, peer.received, 8000, greeting)


async def _call_bare(port: int, seconds: float) -> CallPacing:
    from audiosocket.simulator.peer import AudioSocketPeer

    loop = asyncio.get_running_loop()
    connected = loop.time()
    peer = await AudioSocketPeer.connect("127.0.0.1", port, uuid.uuid4(), rate=8000)
    await asyncio.sleep(seconds)
    await peer.hang_up()
    return analyse(connected, peer.received, 8000, None)


async def main(argv: list[str]) -> dict[str, Any]:
    mode, port = argv[0], int(argv[1])
    lag = LoopLag()
    if mode == "bare":
        seconds, count = float(argv[2]), int(argv[3])
        calls = [_call_bare(port, seconds) for _ in range(count)]
    else:
        from audiosocket.speech import synthesize_to_pcm

        pcm = synthesize_to_pcm(CALLER_PHRASE, 8000)
        calls = [_call_edge(port, uuid.UUID(leg), pcm) for leg in argv[2:]]
    lag.start()
    try:
        paced = await asyncio.gather(*calls)
    finally:
        lag.stop()
    return {"calls": [asdict(call) for call in paced], "loop_lag": lag.samples}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1:]))))

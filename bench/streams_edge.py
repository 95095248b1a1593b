"""One edge process of B3 (`./dev bench streams`): the real AudioSocket server and the real
per-call audio path, with a stand-in for the workflow.

What runs per call is what `EdgeCallSession` runs per frame: the server's 20 ms send clock
and reader, `PlayoutSource`, and the endpointer (silero VAD on the shared model) fed with every
inbound frame and ticked every 30 ms on the wall clock. What it does not run is per turn, not
per frame: STT, the workflow update and TTS (B1, B2 and B4 measure those). When the endpointer
ends an utterance the stand-in "answers" at once with a reply synthesised before the run;
caller speech during the reply cuts it, as a barge-in does. Why a stand-in: with a real
workflow every turn of hundreds of calls would also load the Temporal server, a worker and
the fakes on the same two cores, and B3 would measure them instead of the edge's audio.

Run by bench/streams.py: `python -m bench.streams_edge PORT RATE REPLY_FILE STATS_FILE MODE`;
MODE `silence` is the baseline: the same server and clock, inbound audio read and dropped, no
VAD, no endpointer, no ticker; `speech-unbatched` runs the VAD one window at a time (what the
edge did before batching), to show what batching saves.
Prints `listening PORT` when ready; on SIGTERM closes every call and writes its statistics
(the server's SendClock figures of every call, utterances, barge-ins) as JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from audiosocket.pacing import LATENESS_BUCKETS, FrameSource
from audiosocket.playout import PlayoutSource
from audiosocket.server import AudioSocketServer, Call, CallHandler, HangupReason
from audiosocket.session import SessionTimings, default_endpointer
from audiosocket.speech import Endpointer, SpeechEnded, SpeechStarted
from audiosocket.speech.endpointer import EndpointerEvent
from audiosocket.speech.vad import batched_runs, open_streams

MODES = ("speech", "speech-unbatched", "silence")


class EdgeTotals:
    """What every call of this process adds up to."""

    def __init__(self) -> None:
        self.calls = 0
        self.ended: dict[str, int] = {}
        self.sent = self.late = self.skipped = 0
        self.max_lateness_ms = 0.0
        self.lateness_ms = [0] * LATENESS_BUCKETS
        self.utterances = 0
        self.barge_ins = 0

    def add(self, call: Call, reason: HangupReason) -> None:
        stats = call.stats
        self.ended[reason.value] = self.ended.get(reason.value, 0) + 1
        self.sent += stats.sent
        self.late += stats.late
        self.skipped += stats.skipped
        self.max_lateness_ms = max(self.max_lateness_ms, stats.max_lateness * 1000)
        for bucket, count in enumerate(stats.lateness_ms):
            self.lateness_ms[bucket] += count

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "ended": self.ended,
            "frames_sent": self.sent,
            "late": self.late,
            "skipped": self.skipped,
            "max_lateness_ms": round(self.max_lateness_ms, 2),
            "lateness_ms_histogram": self.lateness_ms,
            "utterances": self.utterances,
            "barge_ins": self.barge_ins,
            "vad_streams_open": sum(open_streams().values()),
            "vad_model_runs": batched_runs()[0],
            "vad_windows_scored": batched_runs()[1],
        }


class SilentCall:
    """The baseline's CallHandler: silence out, inbound audio dropped."""

    def __init__(self, call: Call, rate: int, totals: EdgeTotals) -> None:
        self.call = call
        self._totals = totals
        self._outbound = PlayoutSource(rate)
        totals.calls += 1

    @property
    def outbound(self) -> FrameSource:
        return self._outbound

    async def on_audio(self, pcm: bytes, rate: int) -> None:
        return None

    async def on_dtmf(self, digit: str) -> None:
        return None

    async def on_hangup(self, reason: HangupReason) -> None:
        self._totals.add(self.call, reason)


class StandInCall:
    """The CallHandler of one B3 call (see the module docstring)."""

    def __init__(
        self, call: Call, rate: int, reply: bytes, totals: EdgeTotals, *, batched: bool = True
    ) -> None:
        self.call = call
        self._reply = reply
        self._totals = totals
        self._outbound = PlayoutSource(rate)
        self._endpointer = default_endpointer(rate) if batched else Endpointer(rate)
        self._loop = asyncio.get_running_loop()
        self._tick_s = SessionTimings().tick_s
        self._ticker = asyncio.create_task(self._tick())
        totals.calls += 1

    @property
    def outbound(self) -> FrameSource:
        return self._outbound

    async def on_audio(self, pcm: bytes, rate: int) -> None:
        now = self._loop.time()
        for event in self._endpointer.feed(pcm, now):
            self._on_vad(event)

    async def on_dtmf(self, digit: str) -> None:
        return None

    async def on_hangup(self, reason: HangupReason) -> None:
        self._ticker.cancel()
        self._endpointer.close()
        self._totals.add(self.call, reason)

    def _on_vad(self, event: EndpointerEvent) -> None:
        if not isinstance(event, SpeechStarted | SpeechEnded):
            return  # onset events pause a real session's speech; the stand-in cuts at start
        if isinstance(event, SpeechStarted):
            if not self._outbound.idle:
                self._outbound.clear()
                self._totals.barge_ins += 1
            return
        self._totals.utterances += 1
        self._outbound.enqueue(self._reply)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            for event in self._endpointer.tick(self._loop.time()):
                self._on_vad(event)


async def serve(port: int, rate: int, reply: bytes, mode: str) -> EdgeTotals:
    totals = EdgeTotals()
    default_endpointer(rate).close()  # load the shared VAD model before listening

    def handler(call: Call) -> CallHandler:
        if mode != "silence":
            return StandInCall(call, rate, reply, totals, batched=mode == "speech")
        return SilentCall(call, rate, totals)

    server = AudioSocketServer("127.0.0.1", port, handler, reuse_port=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await server.start()
    print(f"listening {server.port}", flush=True)
    await stop.wait()
    await server.close()
    return totals


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    port, rate, reply_file, stats_file, mode = sys.argv[1:6]
    if mode not in MODES:
        sys.exit(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    reply = Path(reply_file).read_bytes()
    totals = asyncio.run(serve(int(port), int(rate), reply, mode))
    Path(stats_file).write_text(json.dumps(totals.as_json()), encoding="utf-8")


if __name__ == "__main__":
    main()

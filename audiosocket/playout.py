"""The outbound stream of one call as the session sees it: a FrameSource that knows how much
speech the send loop has taken, and signals when it has played everything queued.

Barge-in must tell the workflow how much of a reply the caller actually heard. Frames leave
only when the send loop takes them on the 20 ms clock, so counting taken speech bytes (and
where a reply's audio starts in that count) gives the played time exactly, whatever else
(a filler) was queued before it.
"""

from __future__ import annotations

import asyncio

from audiosocket.pacing import BYTES_PER_SAMPLE, FrameSource


class PlayoutSource(FrameSource):
    def __init__(self, rate: int) -> None:
        super().__init__(rate)
        self.taken_bytes = 0  # speech bytes handed to the send loop (padding not counted)
        self.drained = asyncio.Event()  # set whenever the next frame would be silence
        self.drained.set()

    def enqueue(self, pcm: bytes) -> None:
        super().enqueue(pcm)
        if not self.idle:
            self.drained.clear()

    def next_frame(self) -> bytes:
        if self.idle:
            return self.silence
        speech = min(self.frame_size, self.queued_bytes)
        frame = super().next_frame()
        self.taken_bytes += speech
        if self.idle:
            self.drained.set()
        return frame

    def clear(self) -> int:
        self.drained.set()
        return super().clear()

    def mark(self) -> int:
        """The position (in taken bytes) where audio enqueued next will start playing."""
        return self.taken_bytes + self.queued_bytes

    def played_ms_since(self, mark: int) -> int:
        played = max(0, self.taken_bytes - mark)
        return played * 1000 // (self.rate * BYTES_PER_SAMPLE)

"""The outbound stream of one call as the session sees it: a FrameSource that knows how much
speech the send loop has taken, signals when it has played everything queued, and can pause.

Barge-in must tell the workflow how much of a reply the caller actually heard. Frames leave
only when the send loop takes them on the 20 ms clock, so counting taken speech bytes (and
where a reply's audio starts in that count) gives the played time exactly, whatever else
(a filler) was queued before it.

A caller's onset only *pauses* the stream: nothing queued is lost, and `resume` either goes
on where it stopped or rewinds to the start of the sentence being played (the audio of the
current sentence is kept for that). A rewind moves the played position back too: what the
workflow is told counts what the caller heard last, once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from audiosocket.pacing import BYTES_PER_SAMPLE, FrameSource, frame_bytes


class PlayoutSource(FrameSource):
    def __init__(self, rate: int, *, tap: Callable[[bytes], None] | None = None) -> None:
        super().__init__(rate)
        self.taken_bytes = 0  # speech position: bytes handed to the send loop (padding not counted)
        self.drained = asyncio.Event()  # set whenever the next frame would be silence
        self.drained.set()
        self.paused = False
        # Every frame handed to the send loop, silence included (the echo gate's reference).
        self.tap = tap
        self._sentence_starts: deque[int] = deque()  # positions of sentences not reached yet
        self._sentence_audio = bytearray()  # taken audio of the sentence being played

    @property
    def holding(self) -> bool:
        return self.paused

    def enqueue(self, pcm: bytes) -> None:
        super().enqueue(pcm)
        if not self.idle:
            self.drained.clear()

    def begin_sentence(self) -> None:
        """Audio enqueued next starts a sentence (where a rewinding `resume` goes back to)."""
        self._sentence_starts.append(self.mark())

    def next_frame(self) -> bytes:
        frame = self._take()
        if self.tap is not None:
            self.tap(frame)
        return frame

    def _take(self) -> bytes:
        if self.idle or self.paused:
            return self.silence
        speech = min(self.frame_size, self.queued_bytes)
        frame = super().next_frame()
        self._keep(frame[:speech])
        if self.idle:
            self.drained.set()
        return frame

    def _keep(self, speech: bytes) -> None:
        """Advance the position by `speech`, remembering the current sentence's audio."""
        start = self.taken_bytes
        end = start + len(speech)
        reached = None
        while self._sentence_starts and self._sentence_starts[0] < end:
            reached = self._sentence_starts.popleft()
        if reached is not None:
            self._sentence_audio = bytearray(speech[max(0, reached - start) :])
        else:
            self._sentence_audio += speech
        self.taken_bytes = end

    def pause(self) -> None:
        """Send silence from the next frame on, keeping everything queued."""
        self.paused = True

    def resume(self, *, rewind: bool) -> int:
        """Play again; with `rewind` from the start of the interrupted sentence. Returns the
        milliseconds rewound."""
        self.paused = False
        if not rewind or not self._sentence_audio:
            return 0
        replay = bytes(self._sentence_audio)
        self._sentence_audio = bytearray()
        # The replayed sentence starts where it started before; the queue follows it.
        self._sentence_starts.appendleft(self.taken_bytes - len(replay))
        self._push_front(replay)
        self.taken_bytes -= len(replay)
        self.drained.clear()
        return self.ms(len(replay))

    def _push_front(self, pcm: bytes) -> None:
        rest = b"".join(self._frames) + self._tail
        self._frames.clear()
        self._tail = b""
        self.enqueue(pcm + rest)

    def clear(self) -> int:
        self.paused = False
        self._sentence_starts.clear()
        self._sentence_audio = bytearray()
        self.drained.set()
        return super().clear()

    def change_rate(self, rate: int) -> None:
        """Speak at `rate` from the next frame on (the caller's line turned out to be another
        rate). Only between replies: nothing may be queued. The position keeps its time, so
        the played time of what comes next still counts from a mark taken after this."""
        if not self.idle:
            raise RuntimeError("the outbound rate changes only while nothing is queued")
        if rate == self.rate:
            return
        self.taken_bytes = self.taken_bytes * rate // self.rate
        self.taken_bytes -= self.taken_bytes % BYTES_PER_SAMPLE
        self.rate = rate
        self.frame_size = frame_bytes(rate)
        self.silence = bytes(self.frame_size)
        self._sentence_starts.clear()
        self._sentence_audio = bytearray()

    def mark(self) -> int:
        """The position (in taken bytes) where audio enqueued next will start playing."""
        return self.taken_bytes + self.queued_bytes

    def played_ms_since(self, mark: int) -> int:
        return self.ms(max(0, self.taken_bytes - mark))

    def ms(self, size: int) -> int:
        return size * 1000 // (self.rate * BYTES_PER_SAMPLE)

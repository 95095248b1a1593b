"""The Asterisk side of one AudioSocket connection, for tests and the caller simulator.

It behaves like Asterisk without `transmit_silence`: the UUID frame goes first, caller audio
is paced on an absolute 20 ms clock while the caller speaks, and **nothing** is sent while
the caller is silent. With a `LineEcho` the line returns the bot's voice (quieter, later)
and so sends audio all the time, the caller's speech mixed in. Hang-up is closing the socket
(Asterisk never sends 0x00). Every frame the edge sends is recorded with its arrival time, so
tests can ask when the bot spoke and how evenly its audio arrived.

Asterisk takes each frame at the rate its kind says, so the edge may change its rate
mid-call (`rate_changes` records when); but an Asterisk that sends 8 kHz may be one older
than 20.17, which ends the call on any other kind, so the edge may only send 8 kHz or the
peer's own rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import statistics
import uuid
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiosocket.pacing import FRAME_SECONDS, PacingStats, SendClock, frame_bytes
from audiosocket.protocol import (
    AUDIO_KINDS,
    Audio,
    Dtmf,
    Error,
    Hangup,
    Message,
    ProtocolError,
    Uuid,
    encode,
    read_message,
)
from audiosocket.simulator.line_echo import EchoPath, LineEcho, mix
from audiosocket.speech.resample import resample

log = logging.getLogger(__name__)

BYTES_PER_SAMPLE = 2
DEFAULT_CONNECT_TIMEOUT = 5.0
# RMS (int16 units) above which a frame counts as the bot speaking. The edge sends exact
# zeros for silence; TTS speech sits in the thousands, line hiss of a real codec near 10–100.
DEFAULT_SPEECH_RMS = 200.0
# The bot counts as done once it has been quiet this long after speaking (sentence pauses
# of TTS are shorter; the edge's filler/re-prompt come much later).
DEFAULT_QUIET_MS = 800
# Speech frames closer together than this belong to one span (pauses between words/sentences).
DEFAULT_JOIN_MS = 400
# An inter-arrival time above this many frame lengths is a gap, not jitter.
GAP_FRAMES = 3


class EdgeUnreachable(ConnectionError):
    """Nothing answers at the edge's AudioSocket address (or it did not accept in time)."""


class PeerProtocolError(ProtocolError):
    """The edge sent something Asterisk would reject; Asterisk ends the call on it."""


@dataclass(frozen=True, slots=True)
class SpeechSpan:
    """A stretch of non-silent bot audio, in arrival time (the event loop's monotonic clock)."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class InboundPacing:
    """How evenly the bot's frames arrived. Lateness is measured against an absolute grid
    (cumulative audio duration) re-anchored after each gap, so one stall is one gap and not
    a permanent offset of every later frame."""

    frames: int
    audio_seconds: float
    lateness_p50_ms: float
    lateness_p99_ms: float
    lateness_max_ms: float
    jitter_p99_ms: float  # |inter-arrival − frame duration|
    gaps: int
    max_gap_ms: float


@dataclass(frozen=True, slots=True)
class _Frame:
    at: float
    rate: int
    pcm: bytes
    rms: float

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (self.rate * BYTES_PER_SAMPLE)


def rms(pcm: bytes) -> float:
    """Root mean square of 16-bit little-endian samples (0.0 for no samples)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return 0.0
    return float(math.sqrt(float(np.mean(samples * samples))))


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


class AudioSocketPeer:
    """One call as Asterisk sees it. Make it with `connect`; end it with `hang_up`."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        call_id: uuid.UUID,
        *,
        rate: int = 16000,
        echo: LineEcho | None = None,
    ) -> None:
        if rate not in AUDIO_KINDS:
            raise ValueError(f"no AudioSocket kind for {rate} Hz")
        self.call_id = call_id
        self.rate = rate
        self.frame_size = frame_bytes(rate)
        self._reader = reader
        self._writer = writer
        self._frames: list[_Frame] = []
        self._changed = asyncio.Event()
        # (arrival time, frame) of every inbound audio frame — the contract's raw record.
        self.received: list[tuple[float, bytes]] = []
        # (send time, frame) of every caller audio frame we sent.
        self.sent: list[tuple[float, bytes]] = []
        self.sent_dtmf: list[tuple[float, str]] = []
        self.send_stats = PacingStats()
        self.bot_rate: int | None = None  # of the bot's latest frame
        # (arrival time, rate before, rate after) of every change of the bot's rate.
        self.rate_changes: list[tuple[float, int, int]] = []
        # Set on 0x00 or EOF from the edge; `bot_hangup_at` says when.
        self.bot_hung_up = asyncio.Event()
        self.bot_hangup_at: float | None = None
        self.bot_hangup_kind: str | None = None  # "0x00" | "eof" | "reset"
        # Set whenever the connection is over, for any reason (incl. our own hang-up).
        self.ended = asyncio.Event()
        self.error: PeerProtocolError | None = None
        self.caller_hung_up = False
        # When the connection was set up (the UUID frame sent), on the event loop's clock.
        self.connected_at = asyncio.get_running_loop().time()
        self._reader_task = asyncio.create_task(self._read_loop(), name=f"peer-read-{call_id}")
        # With echo one sender mixes the line's echo and the caller's speech on one clock.
        self._echo = None if echo is None else EchoPath(echo, rate)
        self._caller_audio = bytearray()  # queued caller speech (echo lines only)
        self._caller_done = asyncio.Event()
        self._line_task = (
            None
            if echo is None
            else asyncio.create_task(self._line_loop(), name=f"peer-line-{call_id}")
        )

    # -- connection -------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        call_id: uuid.UUID,
        *,
        rate: int = 16000,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT,
        echo: LineEcho | None = None,
    ) -> AudioSocketPeer:
        """Open the TCP connection and send the UUID frame before anything else."""
        if rate not in AUDIO_KINDS:
            raise ValueError(f"no AudioSocket kind for {rate} Hz")
        try:
            async with asyncio.timeout(connect_timeout_s):
                reader, writer = await asyncio.open_connection(host, port)
        except TimeoutError:
            raise EdgeUnreachable(
                f"AudioSocket edge at {host}:{port} did not accept within {connect_timeout_s:.1f} s"
            ) from None
        except OSError as exc:
            raise EdgeUnreachable(
                f"cannot connect to the AudioSocket edge at {host}:{port}: {exc.strerror or exc}"
            ) from None
        sock: socket.socket | None = writer.get_extra_info("socket")
        if sock is not None:
            # Asterisk sets it too; header and payload must never wait for an ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        writer.write(encode(Uuid(call_id)))
        await writer.drain()
        return cls(reader, writer, call_id, rate=rate, echo=echo)

    async def hang_up(self) -> None:
        """The caller hangs up: close the socket, as Asterisk does (it never sends 0x00)."""
        if not self.ended.is_set():
            self.caller_hung_up = True
        await self._close()

    async def __aenter__(self) -> AudioSocketPeer:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.hang_up()

    @property
    def connected(self) -> bool:
        return not self.ended.is_set()

    # -- caller side ------------------------------------------------------------------------

    async def play(self, pcm: bytes) -> None:
        """Send caller speech in 20 ms frames on an absolute clock (the last frame may be short).

        Stops early, without raising, if the call ends meanwhile (the bot hung up): a real
        caller's phone simply stops sending then. Check `bot_hung_up` afterwards.
        """
        if len(pcm) % BYTES_PER_SAMPLE:
            raise ValueError(f"odd PCM length {len(pcm)}: samples are 16-bit")
        if self._line_task is not None:
            await self._play_over_echo(pcm)
            return
        loop = asyncio.get_running_loop()
        # Asterisk's frame timer runs continuously; a new clock per phrase is equivalent for
        # the edge because nothing at all is sent in between.
        clock = SendClock(loop.time(), lead=0.0)
        try:
            for offset in range(0, len(pcm), self.frame_size):
                if self.ended.is_set():
                    return
                delay = clock.delay(loop.time())
                if delay > 0:
                    await asyncio.sleep(delay)
                now = loop.time()
                clock.take(now)
                frame = pcm[offset : offset + self.frame_size]
                if not await self._send(encode(Audio(self.rate, frame))):
                    return
                self.sent.append((now, frame))
        finally:
            stats = clock.stats
            self.send_stats.sent += stats.sent
            self.send_stats.late += stats.late
            self.send_stats.skipped += stats.skipped
            self.send_stats.max_lateness = max(self.send_stats.max_lateness, stats.max_lateness)

    async def _play_over_echo(self, pcm: bytes) -> None:
        self._caller_done.clear()
        self._caller_audio += pcm
        ended = asyncio.create_task(self.ended.wait())
        done = asyncio.create_task(self._caller_done.wait())
        try:
            await asyncio.wait({ended, done}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            done.cancel()

    async def _line_loop(self) -> None:
        """An echo line sends a frame for every 20 ms slot: the echo due then, plus the
        caller's speech. A line neither drops nor skips audio: slots this loop was too busy
        to serve are sent late, in a burst, each with the echo of its own time."""
        assert self._echo is not None
        loop = asyncio.get_running_loop()
        start = loop.time()
        slot = 0
        while not self.ended.is_set():
            due = start + (slot + 1) * FRAME_SECONDS  # the slot's audio ends then
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            caller = bytes(self._caller_audio[: self.frame_size])
            del self._caller_audio[: self.frame_size]
            frame = self._echo.take(due, self.frame_size)
            if caller:
                frame = mix(frame, caller.ljust(self.frame_size, b"\x00"))
            if not await self._send(encode(Audio(self.rate, frame))):
                return
            self.send_stats.sent += 1
            if caller:
                self.sent.append((loop.time(), caller))
                if not self._caller_audio:
                    self._caller_done.set()
            slot += 1

    async def send_dtmf(self, digit: str) -> None:
        """One DTMF digit as kind 0x03 (Asterisk sends it at the digit's end)."""
        message = encode(Dtmf(digit))  # EncodeError (a ValueError) for a non-digit
        if await self._send(message):
            self.sent_dtmf.append((asyncio.get_running_loop().time(), digit))

    async def _send(self, data: bytes) -> bool:
        if self.ended.is_set():
            return False
        try:
            # One write per message: header and payload leave in the same segment.
            self._writer.write(data)
            await self._writer.drain()
        except ConnectionError as exc:
            log.info("peer %s: send failed, connection gone: %s", self.call_id, exc)
            return False
        return True

    # -- bot side ---------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    message = await read_message(self._reader)
                except ProtocolError as exc:
                    self._fail(f"undecodable bytes from the edge: {exc}")
                    return
                except ConnectionError:
                    self._bot_hangup(loop.time(), "reset")
                    return
                now = loop.time()
                if message is None:
                    self._bot_hangup(now, "eof")
                    return
                if isinstance(message, Hangup):
                    self._bot_hangup(now, "0x00")
                    return
                if isinstance(message, Audio):
                    if not self._record(now, message):
                        return
                    continue
                self._fail(f"the edge sent {self._describe(message)}; Asterisk ends the call")
                return
        finally:
            self.ended.set()
            self._changed.set()
            if not self.caller_hung_up:
                # Asterisk drops the channel right after the edge's 0x00 / a bad frame.
                self._writer.close()

    def _record(self, now: float, message: Audio) -> bool:
        if message.rate not in (8000, self.rate):
            self._fail(
                f"the edge sent {message.rate} Hz audio on a line that sends {self.rate} Hz: "
                "an Asterisk older than 20.17 knows no such kind and ends the call"
            )
            return False
        if self.bot_rate is not None and message.rate != self.bot_rate:
            self.rate_changes.append((now, self.bot_rate, message.rate))
        self.bot_rate = message.rate
        self._frames.append(_Frame(now, message.rate, message.pcm, rms(message.pcm)))
        if self._echo is not None:
            self._echo.heard(message.pcm, message.rate, now)
        self.received.append((now, message.pcm))
        self._changed.set()
        return True

    @staticmethod
    def _describe(message: Message) -> str:
        match message:
            case Uuid(value):
                return f"a UUID frame ({value})"
            case Dtmf(digit):
                return f"a DTMF frame ({digit!r})"
            case Error(payload):
                return f"an error frame ({payload!r})"
        return repr(message)

    def _bot_hangup(self, now: float, kind: str) -> None:
        if self.caller_hung_up:
            return
        self.bot_hangup_at = now
        self.bot_hangup_kind = kind
        self.bot_hung_up.set()

    def _fail(self, text: str) -> None:
        self.error = PeerProtocolError(f"call {self.call_id}: {text}")
        log.warning("%s", self.error)

    async def _close(self) -> None:
        for task in (self._reader_task, self._line_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.ended.set()
        self._changed.set()
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()

    def raise_if_failed(self) -> None:
        """Raise the protocol error the edge caused, if any."""
        if self.error is not None:
            raise self.error

    # -- analysis ---------------------------------------------------------------------------

    def speech_spans(
        self,
        *,
        since: float | None = None,
        threshold: float = DEFAULT_SPEECH_RMS,
        join_ms: int = DEFAULT_JOIN_MS,
    ) -> list[SpeechSpan]:
        """When the bot spoke: non-silent frames grouped into spans (pauses < join_ms joined).

        A span ends when its last loud frame has finished playing (arrival + frame duration).
        """
        spans: list[SpeechSpan] = []
        start: float | None = None
        end = 0.0
        join = join_ms / 1000
        for frame in self._frames:
            if since is not None and frame.at < since:
                continue
            if frame.rms < threshold:
                continue
            if start is not None and frame.at - end > join:
                spans.append(SpeechSpan(start, end))
                start = None
            if start is None:
                start = frame.at
            end = frame.at + frame.seconds
        if start is not None:
            spans.append(SpeechSpan(start, end))
        return spans

    def first_speech_after(
        self, at: float, *, threshold: float = DEFAULT_SPEECH_RMS
    ) -> float | None:
        """Arrival time of the first loud frame at or after `at` (None if the bot kept quiet)."""
        for frame in self._frames:
            if frame.at >= at and frame.rms >= threshold:
                return frame.at
        return None

    def bot_speaking(self, *, threshold: float = DEFAULT_SPEECH_RMS, window_ms: int = 100) -> bool:
        """Whether a loud frame arrived within the last `window_ms`."""
        now = asyncio.get_running_loop().time()
        for frame in reversed(self._frames):
            if now - frame.at > window_ms / 1000:
                return False
            if frame.rms >= threshold:
                return True
        return False

    async def wait_for_bot_speech(
        self,
        *,
        since: float | None = None,
        timeout_s: float = 30.0,
        threshold: float = DEFAULT_SPEECH_RMS,
    ) -> float:
        """Arrival time of the first loud frame after `since` (default: now).

        Raises TimeoutError when none arrives in time and `PeerProtocolError` if the edge
        broke the protocol; raises ConnectionError if the call ended before the bot spoke.
        """
        loop = asyncio.get_running_loop()
        since = loop.time() if since is None else since
        async with asyncio.timeout(timeout_s):
            while True:
                self._changed.clear()
                at = self.first_speech_after(since, threshold=threshold)
                if at is not None:
                    return at
                self.raise_if_failed()
                if self.ended.is_set():
                    raise ConnectionError(f"call {self.call_id} ended before the bot spoke")
                await self._changed.wait()

    async def wait_until_bot_quiet(
        self,
        quiet_ms: int = DEFAULT_QUIET_MS,
        *,
        since: float | None = None,
        timeout_s: float = 30.0,
        require_speech: bool = True,
        threshold: float = DEFAULT_SPEECH_RMS,
    ) -> list[SpeechSpan]:
        """Wait until the bot has spoken after `since` (default: now) and then been quiet for
        `quiet_ms` of wall time; returns the speech spans since `since`.

        Quiet is judged on the wall clock, not by counting frames, so an edge that stops
        sending counts as quiet too. Returns early (with what was heard) when the call ends.
        With `require_speech=False` a bot that never speaks is quiet after `quiet_ms`.
        Raises TimeoutError after `timeout_s` seconds and `PeerProtocolError` on a bad frame.
        """
        loop = asyncio.get_running_loop()
        since = loop.time() if since is None else since
        quiet = quiet_ms / 1000
        async with asyncio.timeout(timeout_s):
            while True:
                self._changed.clear()
                self.raise_if_failed()
                spans = self.speech_spans(since=since, threshold=threshold)
                if self.ended.is_set():
                    return spans
                now = loop.time()
                if spans:
                    quiet_since = spans[-1].end
                elif not require_speech:
                    quiet_since = since
                else:
                    await self._changed.wait()
                    continue
                remaining = quiet_since + quiet - now
                if remaining <= 0:
                    return spans
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._changed.wait()

    def pacing(self, *, since: float | None = None) -> InboundPacing:
        """Pacing statistics of the bot's frames (after `since`, default all)."""
        frames = [f for f in self._frames if since is None or f.at >= since]
        lateness: list[float] = []
        jitter: list[float] = []
        gaps: list[float] = []
        elapsed = 0.0
        segment: list[tuple[float, float]] = []  # (arrival, audio offset) in the current segment

        def close_segment() -> None:
            if segment:
                anchor_at = min(at - offset for at, offset in segment)
                lateness.extend(at - offset - anchor_at for at, offset in segment)
            segment.clear()

        previous: _Frame | None = None
        for frame in frames:
            if previous is not None:
                delta = frame.at - previous.at
                if delta > GAP_FRAMES * max(previous.seconds, FRAME_SECONDS):
                    gaps.append(delta)
                    close_segment()
                    elapsed = 0.0
                else:
                    jitter.append(abs(delta - previous.seconds))
            segment.append((frame.at, elapsed))
            elapsed += frame.seconds
            previous = frame
        close_segment()
        return InboundPacing(
            frames=len(frames),
            audio_seconds=sum(f.seconds for f in frames),
            lateness_p50_ms=1000 * (statistics.median(lateness) if lateness else 0.0),
            lateness_p99_ms=1000 * _percentile(lateness, 0.99),
            lateness_max_ms=1000 * max(lateness, default=0.0),
            jitter_p99_ms=1000 * _percentile(jitter, 0.99),
            gaps=len(gaps),
            max_gap_ms=1000 * max(gaps, default=0.0),
        )

    def frame_rates(self, *, since: float | None = None, loud: bool = False) -> list[int]:
        """The rate of every bot frame (after `since`; only speech frames with `loud`)."""
        return [
            f.rate
            for f in self._frames
            if (since is None or f.at >= since) and (not loud or f.rms >= DEFAULT_SPEECH_RMS)
        ]

    def frame_sizes(self, *, since: float | None = None, loud: bool = False) -> list[int]:
        """The payload size of every bot frame, filtered as `frame_rates`."""
        return [
            len(f.pcm)
            for f in self._frames
            if (since is None or f.at >= since) and (not loud or f.rms >= DEFAULT_SPEECH_RMS)
        ]

    def bot_audio(self, rate: int | None = None) -> bytes:
        """Everything the bot sent, frames joined in arrival order, at `rate` (default: the
        rate of its latest frame; runs at another rate are resampled)."""
        rate = rate or self.bot_rate or self.rate
        pieces: list[bytes] = []
        run: list[bytes] = []
        run_rate = rate
        for frame in [*self._frames, None]:
            if frame is None or frame.rate != run_rate:
                pieces.append(resample(b"".join(run), run_rate, rate))
                run = []
            if frame is not None:
                run_rate = frame.rate
                run.append(frame.pcm)
        return b"".join(pieces)

    def to_wav(self, path: str | Path) -> float:
        """Write the bot's audio as a mono 16-bit WAV at its latest rate; returns its seconds."""
        rate = self.bot_rate or self.rate
        pcm = self.bot_audio(rate)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(BYTES_PER_SAMPLE)
            out.setframerate(rate)
            out.writeframes(pcm)
        return len(pcm) / (rate * BYTES_PER_SAMPLE)

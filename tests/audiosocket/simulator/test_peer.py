"""AudioSocketPeer against the real AudioSocketServer over TCP (and a raw socket where the
test needs to see or send exact bytes). Timing bounds are loose: a loaded 2-core machine
stalls the loop now and then."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import uuid
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from audiosocket.protocol import Audio, Dtmf, Hangup, Uuid, encode, read_message
from audiosocket.server import HangupReason
from audiosocket.simulator.line_echo import LineEcho
from audiosocket.simulator.peer import (
    AudioSocketPeer,
    EdgeUnreachable,
    PeerProtocolError,
    rms,
)
from tests.audiosocket.simulator.edge_like import edge_like, tone
from tests.support.servers import free_port

TIMEOUT = 10.0


@asynccontextmanager
async def raw_server(
    serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[int]:
    """A bare TCP server running `serve` per connection; yields its port."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await serve(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def test_uuid_is_the_first_frame_on_the_wire() -> None:
    first: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first.set_result(await reader.readexactly(19))
        await reader.read()

    async with raw_server(serve) as port:
        call_id = uuid.uuid4()
        peer = await AudioSocketPeer.connect("127.0.0.1", port, call_id)
        data = await asyncio.wait_for(first, TIMEOUT)
        await peer.hang_up()
    assert data == b"\x01\x00\x10" + call_id.bytes


@pytest.mark.parametrize("rate", [8000, 16000])
async def test_the_server_sees_the_call_id_and_caller_audio_at_the_chosen_rate(rate: int) -> None:
    async with edge_like(rate) as edge:
        call_id = uuid.uuid4()
        peer = await AudioSocketPeer.connect("127.0.0.1", edge.port, call_id, rate=rate)
        await peer.play(tone(0.1, rate))
        handler = await edge.handler(call_id)
        await handler.until(lambda: sum(len(a[2]) for a in handler.audio) >= 0.1 * rate * 2)
        await peer.hang_up()
    assert {r for _, r, _ in handler.audio} == {rate}
    assert b"".join(pcm for _, _, pcm in handler.audio) == tone(0.1, rate)


async def test_caller_audio_is_paced_in_real_time_with_a_short_last_frame() -> None:
    async with edge_like(16000) as edge:
        peer = await AudioSocketPeer.connect("127.0.0.1", edge.port, uuid.uuid4())
        pcm = tone(1.01, 16000)  # 50 whole frames + 10 ms
        await peer.play(pcm)
        await peer.hang_up()
    sizes = [len(frame) for _, frame in peer.sent]
    assert sizes == [640] * 50 + [320]
    times = [at for at, _ in peer.sent]
    span = times[-1] - times[0]
    # 50 frame intervals = 1.0 s; sent as a burst it would take milliseconds.
    assert 0.95 <= span <= 3.0, span
    # No frame leaves before its 20 ms slot on the absolute clock.
    assert all(at - times[0] >= i * 0.02 - 0.002 for i, at in enumerate(times))
    print(f"send pacing: {peer.send_stats}")


async def test_nothing_is_sent_while_the_caller_is_silent() -> None:
    async with edge_like(8000) as edge:
        call_id = uuid.uuid4()
        peer = await AudioSocketPeer.connect("127.0.0.1", edge.port, call_id, rate=8000)
        await peer.play(tone(0.2, 8000))
        handler = await edge.handler(call_id)
        await handler.until(lambda: len(handler.audio) >= 10)
        silent_from = asyncio.get_running_loop().time()
        await asyncio.sleep(0.6)
        assert [a for a in handler.audio if a[0] > silent_from] == []
        await peer.play(tone(0.1, 8000))
        await handler.until(lambda: len(handler.audio) >= 15)
        await peer.hang_up()
    gaps = [b[0] - a[0] for a, b in zip(handler.audio, handler.audio[1:], strict=False)]
    assert max(gaps) >= 0.5  # the silence is a gap in the stream, not silent frames
    assert len(handler.audio) == 15


async def test_dtmf_reaches_the_server_and_bad_digits_are_refused() -> None:
    async with edge_like(16000) as edge:
        call_id = uuid.uuid4()
        peer = await AudioSocketPeer.connect("127.0.0.1", edge.port, call_id)
        await peer.send_dtmf("0")
        await peer.send_dtmf("#")
        handler = await edge.handler(call_id)
        await handler.until(lambda: len(handler.digits) >= 2)
        with pytest.raises(ValueError, match="not a DTMF digit"):
            await peer.send_dtmf("x")
        await peer.hang_up()
    assert [d for _, d in handler.digits] == ["0", "#"]
    assert [d for _, d in peer.sent_dtmf] == ["0", "#"]


async def test_caller_hang_up_closes_the_socket() -> None:
    async with edge_like(16000) as edge:
        call_id = uuid.uuid4()
        peer = await AudioSocketPeer.connect("127.0.0.1", edge.port, call_id)
        handler = await edge.handler(call_id)
        await asyncio.sleep(0.1)
        await peer.hang_up()
        await asyncio.wait_for(handler.ended.wait(), TIMEOUT)
    assert handler.reasons == [HangupReason.CALLER]
    assert peer.caller_hung_up
    assert not peer.bot_hung_up.is_set()
    assert not peer.connected
    await peer.play(tone(0.1, 16000))  # after the end: nothing sent, no exception
    assert peer.sent == []


async def test_bot_hang_up_with_0x00_after_its_speech() -> None:
    async with edge_like(16000, greeting_s=0.3) as edge:
        call_id = uuid.uuid4()
        peer = await AudioSocketPeer.connect("127.0.0.1", edge.port, call_id)
        handler = await edge.handler(call_id)
        handler.call.hangup(after_speech=True)
        await asyncio.wait_for(peer.bot_hung_up.wait(), TIMEOUT)
        await peer.hang_up()
    assert peer.bot_hangup_kind == "0x00"
    assert not peer.caller_hung_up
    # The greeting played to its end before the 0x00.
    spans = peer.speech_spans()
    assert len(spans) == 1 and 0.25 <= spans[0].duration <= 1.0, spans
    assert peer.bot_hangup_at is not None and peer.bot_hangup_at >= spans[0].start


async def test_bot_hang_up_by_eof() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_message(reader)
        writer.write(encode(Audio(8000, bytes(320))))
        await writer.drain()

    async with raw_server(serve) as port:
        peer = await AudioSocketPeer.connect("127.0.0.1", port, uuid.uuid4(), rate=8000)
        await asyncio.wait_for(peer.bot_hung_up.wait(), TIMEOUT)
    assert peer.bot_hangup_kind == "eof"
    assert len(peer.received) == 1
    assert peer.error is None


async def test_bot_audio_is_written_as_a_wav_of_the_right_duration(tmp_path: Path) -> None:
    async with edge_like(16000, greeting_s=0.5) as edge:
        peer = await AudioSocketPeer.connect("127.0.0.1", edge.port, uuid.uuid4())
        spans = await peer.wait_until_bot_quiet(300, timeout_s=TIMEOUT)
        await peer.hang_up()
    assert len(spans) == 1 and 0.4 <= spans[0].duration <= 1.2, spans
    seconds = peer.to_wav(tmp_path / "bot.wav")
    with wave.open(str(tmp_path / "bot.wav"), "rb") as wav:
        assert wav.getframerate() == 16000
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        frames = wav.getnframes()
        assert frames / 16000 == pytest.approx(seconds)
        assert wav.readframes(frames) == peer.bot_audio()
    # Every received frame is in the file (the server sends whole 20 ms frames).
    assert seconds == pytest.approx(len(peer.received) * 0.02)
    assert seconds >= 0.5 + 0.3  # the greeting plus the quiet we waited for
    assert tone(0.5, 16000) in peer.bot_audio()


async def test_echoed_speech_marks_when_the_bot_spoke() -> None:
    async with edge_like(16000, reply_s=0.4) as edge:
        peer = await AudioSocketPeer.connect("127.0.0.1", edge.port, uuid.uuid4())
        loop = asyncio.get_running_loop()
        assert not peer.bot_speaking()
        await peer.play(tone(0.3, 16000))
        said_at = loop.time()
        first = await peer.wait_for_bot_speech(since=said_at, timeout_s=TIMEOUT)
        spans = await peer.wait_until_bot_quiet(since=said_at, timeout_s=TIMEOUT)
        await peer.hang_up()
    assert first - said_at >= 0.25  # the bot waits for 300 ms of caller silence
    assert len(spans) == 1 and spans[0].start == first
    assert 0.35 <= spans[0].duration <= 1.0, spans
    pacing = peer.pacing()
    assert pacing.frames == len(peer.received) and pacing.frames > 0
    print(f"inbound pacing: {pacing}")


async def test_quiet_without_any_speech_when_not_required() -> None:
    async with edge_like(16000) as edge:
        peer = await AudioSocketPeer.connect("127.0.0.1", edge.port, uuid.uuid4())
        spans = await peer.wait_until_bot_quiet(200, require_speech=False, timeout_s=TIMEOUT)
        assert spans == []
        with pytest.raises(TimeoutError):
            await peer.wait_for_bot_speech(timeout_s=0.3)
        await peer.hang_up()


async def test_gaps_in_the_bot_stream_are_reported() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_message(reader)
        for i in range(20):
            if i == 10:
                await asyncio.sleep(0.3)
            writer.write(encode(Audio(8000, bytes(320))))
            await writer.drain()
            await asyncio.sleep(0.02)
        writer.write(encode(Hangup()))
        await writer.drain()

    async with raw_server(serve) as port:
        peer = await AudioSocketPeer.connect("127.0.0.1", port, uuid.uuid4(), rate=8000)
        await asyncio.wait_for(peer.bot_hung_up.wait(), TIMEOUT)
    pacing = peer.pacing()
    assert pacing.frames == 20
    assert pacing.audio_seconds == pytest.approx(0.4)
    assert pacing.gaps >= 1 and pacing.max_gap_ms >= 250
    assert peer.bot_hangup_kind == "0x00"
    assert peer.speech_spans() == []  # all-zero frames are not speech


async def test_a_wideband_line_takes_the_bot_changing_to_its_rate(tmp_path: Path) -> None:
    """Asterisk takes each frame at the rate its kind says: 8 kHz silence, then 16 kHz speech
    on a line that sends 16 kHz is fine, and the peer says when the rate changed."""
    loud = tone(0.1, 16000)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_message(reader)
        for message in (Audio(8000, bytes(320)), Audio(8000, bytes(320))):
            writer.write(encode(message))
        for offset in range(0, len(loud), 640):
            writer.write(encode(Audio(16000, loud[offset : offset + 640])))
        writer.write(encode(Hangup()))
        await writer.drain()

    async with raw_server(serve) as port:
        peer = await AudioSocketPeer.connect("127.0.0.1", port, uuid.uuid4(), rate=16000)
        await asyncio.wait_for(peer.bot_hung_up.wait(), TIMEOUT)
    peer.raise_if_failed()
    assert [(before, after) for _, before, after in peer.rate_changes] == [(8000, 16000)]
    assert peer.frame_rates() == [8000, 8000] + [16000] * 5
    assert set(peer.frame_rates(loud=True)) == {16000}
    assert set(peer.frame_sizes(loud=True)) == {640}
    # 40 ms of 8 kHz silence resampled to the latest rate, then the tone as it came
    audio = peer.bot_audio()
    assert len(audio) == 2 * 640 + len(loud) and audio.endswith(loud)
    assert peer.to_wav(tmp_path / "bot.wav") == pytest.approx(0.14)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (encode(Dtmf("5")), "DTMF frame"),
        (encode(Uuid(uuid.UUID(int=1))), "UUID frame"),
        (b"\x42\x00\x00", "unknown message kind 0x42"),
        (encode(Audio(8000, bytes(320))) + encode(Audio(16000, bytes(640))), "older than 20.17"),
    ],
)
async def test_frames_asterisk_would_reject_end_the_call_with_a_clear_error(
    sent: bytes, expected: str
) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_message(reader)
        writer.write(sent)
        await writer.drain()
        await reader.read()  # until the peer closes

    async with raw_server(serve) as port:
        peer = await AudioSocketPeer.connect("127.0.0.1", port, uuid.uuid4(), rate=8000)
        await asyncio.wait_for(peer.ended.wait(), TIMEOUT)
        assert isinstance(peer.error, PeerProtocolError)
        assert expected in str(peer.error)
        with pytest.raises(PeerProtocolError, match=expected):
            await peer.wait_until_bot_quiet(timeout_s=TIMEOUT)
        await peer.hang_up()


async def test_nothing_listening_is_a_clear_error() -> None:
    port = free_port()
    with pytest.raises(EdgeUnreachable, match=f"127.0.0.1:{port}"):
        await AudioSocketPeer.connect("127.0.0.1", port, uuid.uuid4())


async def test_unknown_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="11025"):
        await AudioSocketPeer.connect("127.0.0.1", 1, uuid.uuid4(), rate=11025)


# --- a line that returns the bot's voice ----------------------------------------------------


async def test_an_echo_line_returns_the_bot_quieter_and_later_and_carries_the_caller() -> None:
    echo = LineEcho(attenuation_db=20, delay_ms=120)
    async with edge_like(8000, greeting_s=0.6) as edge:
        call_id = uuid.uuid4()
        peer = await AudioSocketPeer.connect("127.0.0.1", edge.port, call_id, rate=8000, echo=echo)
        handler = await edge.handler(call_id)
        greeting = await peer.wait_for_bot_speech(timeout_s=TIMEOUT)
        await handler.until(lambda: len(handler.audio) >= 60)  # 1.2 s of line audio
        said = tone(0.2, 8000, hz=300, amplitude=6000)
        await peer.play(said)
        await handler.until(lambda: any(rms(pcm) > 3000 for _, _, pcm in handler.audio))
        await peer.hang_up()
    # the line sends all the time, 20 ms apart, as a line with echo does
    times = [at for at, _, _ in handler.audio]
    assert all(len(pcm) == 320 for _, _, pcm in handler.audio)
    assert max(b - a for a, b in itertools.pairwise(times)) < 0.2
    loud = [at for at, _, pcm in handler.audio if rms(pcm) > 100]
    assert loud, "no echo came back"
    # 20 dB down: the 8000-amplitude tone (rms ~5660) comes back near 566
    echoed = [rms(pcm) for _, _, pcm in handler.audio if 200 < rms(pcm) < 3000]
    assert echoed and abs(statistics.median(echoed) - 566) < 60
    # it starts 120 ms after the greeting reached the caller (a frame of slack either side)
    assert 0.09 <= loud[0] - greeting <= 0.2
    # and the caller's own speech is mixed in, not sent as a second stream
    assert [frame for _, frame in peer.sent] == [said[i : i + 320] for i in range(0, 3200, 320)]


def test_line_echo_refuses_impossible_lines() -> None:
    with pytest.raises(ValueError, match="attenuation"):
        LineEcho(attenuation_db=-3, delay_ms=100)
    with pytest.raises(ValueError, match="delay"):
        LineEcho(attenuation_db=15, delay_ms=5000)

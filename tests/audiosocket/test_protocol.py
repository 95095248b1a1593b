"""The AudioSocket codec: round trips, streaming in any chunking, and fuzzing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audiosocket.protocol import (
    AUDIO_RATES,
    MAX_AUDIO_PAYLOAD,
    Audio,
    BadPayload,
    Dtmf,
    EncodeError,
    Error,
    FrameDecoder,
    Hangup,
    Kind,
    Message,
    PayloadTooLarge,
    ProtocolError,
    TruncatedMessage,
    UnknownKind,
    Uuid,
    encode,
    read_message,
)

CALL_ID = uuid.UUID("3f1c9a2e-8d4b-4e6f-9a1b-2c3d4e5f6a7b")

EXAMPLES: list[Message] = [
    Hangup(),
    Uuid(CALL_ID),
    Dtmf("5"),
    Dtmf("#"),
    Error(b"\x02"),
    Error(b""),
    *(Audio(rate, b"\x01\x00" * 160) for rate in AUDIO_RATES.values()),
]

messages = st.one_of(
    st.just(Hangup()),
    st.uuids().map(Uuid),
    st.sampled_from("0123456789*#ABCD").map(Dtmf),
    st.binary(max_size=64).map(Error),
    st.builds(
        Audio,
        st.sampled_from(sorted(AUDIO_RATES.values())),
        st.binary(min_size=1, max_size=MAX_AUDIO_PAYLOAD // 2).map(lambda b: b + b),
    ),
)


@pytest.mark.parametrize("message", EXAMPLES, ids=repr)
def test_round_trip(message: Message) -> None:
    assert FrameDecoder().feed(encode(message)) == [message]


def test_wire_bytes_match_asterisk() -> None:
    assert encode(Uuid(CALL_ID))[:3] == b"\x01\x00\x10"
    assert encode(Hangup()) == b"\x00\x00\x00"
    assert encode(Dtmf("7")) == b"\x03\x00\x017"
    frame = encode(Audio(16000, b"\x00" * 640))
    assert frame[:3] == bytes([Kind.AUDIO_16K, 0x02, 0x80])
    assert len(frame) == 643
    assert encode(Audio(8000, b"\x00" * 320))[0] == 0x10


def test_every_kind_has_a_rate_or_a_message() -> None:
    assert AUDIO_RATES[Kind.AUDIO_16K] == 16000
    assert AUDIO_RATES[Kind.AUDIO_8K] == 8000
    assert {kind for kind in Kind if 0x10 <= kind <= 0x18} == set(AUDIO_RATES)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (Audio(8000, b""), "empty audio"),
        (Audio(8000, b"\x00\x00\x00"), "odd PCM"),
        (Audio(11025, b"\x00\x00"), "sample rate"),
        (Dtmf("x"), "DTMF"),
        (Dtmf("12"), "DTMF"),
        (Error(b"\x00" * 65536), "exceeds"),
    ],
)
def test_encode_refuses(message: Message, reason: str) -> None:
    with pytest.raises(EncodeError, match=reason):
        encode(message)


@pytest.mark.parametrize(
    ("data", "error", "reason"),
    [
        (b"\x02\x00\x00", UnknownKind, "0x02"),
        (b"GET / HTTP/1.1\r\n", UnknownKind, "0x47"),
        (b"\x01\x00\x0f" + b"\x00" * 15, BadPayload, "UUID"),
        (b"\x03\x00\x02" + b"12", BadPayload, "DTMF"),
        (b"\x03\x00\x01x", BadPayload, "DTMF"),
        (b"\x10\x00\x03\x00\x00\x00", BadPayload, "odd"),
        (b"\x10\x00\x00", BadPayload, "empty"),
        (b"\x12\xff\xff", PayloadTooLarge, "exceeds"),
        (b"\x00\x00\x01\x00", BadPayload, "hangup"),
    ],
)
def test_decoder_rejects(data: bytes, error: type[ProtocolError], reason: str) -> None:
    decoder = FrameDecoder()
    with pytest.raises(error, match=reason):
        decoder.feed(data)
    # The stream is out of sync: it stays failed.
    with pytest.raises(error):
        decoder.feed(encode(Hangup()))


def test_oversized_header_fails_before_the_payload_arrives() -> None:
    with pytest.raises(PayloadTooLarge):
        FrameDecoder().feed(bytes([Kind.AUDIO_8K]) + (MAX_AUDIO_PAYLOAD + 2).to_bytes(2, "big"))


def test_truncated_input_waits_for_more() -> None:
    data = encode(Audio(8000, b"\x05\x00" * 160))
    decoder = FrameDecoder()
    assert decoder.feed(data[:2]) == []
    assert decoder.feed(data[2:100]) == []
    assert decoder.pending == 100
    assert decoder.feed(data[100:]) == [Audio(8000, b"\x05\x00" * 160)]
    assert decoder.pending == 0


def test_byte_by_byte() -> None:
    stream = b"".join(encode(m) for m in EXAMPLES)
    decoder = FrameDecoder()
    out: list[Message] = []
    for i in range(len(stream)):
        out += decoder.feed(stream[i : i + 1])
    assert out == EXAMPLES


@settings(deadline=None)
@given(st.lists(messages, max_size=8), st.data())
def test_any_chunking(sent: list[Message], data: st.DataObject) -> None:
    stream = b"".join(encode(m) for m in sent)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder = FrameDecoder()
    out: list[Message] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out += decoder.feed(stream[start:end])
    assert out == sent
    assert decoder.pending == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=6), st.booleans())
def test_fuzz_only_protocol_errors(chunks: list[bytes], oversized: bool) -> None:
    if oversized:
        chunks.insert(0, b"\xff\xff\xff")  # an error frame claiming 64 KiB − 1
    decoder = FrameDecoder()
    for chunk in chunks:
        try:
            decoder.feed(chunk)
        except ProtocolError:
            return
    assert decoder.pending <= 3 + 0xFFFF


@settings(deadline=None)
@given(st.lists(messages, min_size=1, max_size=4), st.data())
def test_fuzz_truncated_streams(sent: list[Message], data: st.DataObject) -> None:
    stream = b"".join(encode(m) for m in sent)
    cut = data.draw(st.integers(0, len(stream) - 1))
    out = FrameDecoder().feed(stream[:cut])
    assert out == sent[: len(out)]


frame_like = st.builds(
    lambda kind, length, payload: bytes([kind]) + length.to_bytes(2, "big") + payload,
    st.one_of(st.sampled_from([int(k) for k in Kind]), st.integers(0, 255)),
    st.one_of(st.integers(0, 20), st.sampled_from([16, 320, 640, 8192, 8193, 0xFFFF])),
    st.binary(max_size=700),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(frame_like, max_size=6), st.data())
def test_fuzz_plausible_frames(frames: list[bytes], data: st.DataObject) -> None:
    """Headers that look real with payloads that may not match: the hard cases for a parser."""
    stream = b"".join(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=5)))
    decoder = FrameDecoder()
    try:
        for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
            for message in decoder.feed(stream[start:end]):
                assert isinstance(message, Hangup | Uuid | Dtmf | Audio | Error)
    except ProtocolError as exc:
        assert str(exc)


async def _read_all(data: bytes) -> list[Message]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    out: list[Message] = []
    while (message := await read_message(reader)) is not None:
        out.append(message)
    return out


async def test_read_message_until_eof() -> None:
    assert await _read_all(b"".join(encode(m) for m in EXAMPLES)) == EXAMPLES


@pytest.mark.parametrize("cut", [1, 3, 10])
async def test_read_message_truncated(cut: int) -> None:
    data = encode(Uuid(CALL_ID))
    with pytest.raises(TruncatedMessage, match="ended inside"):
        await _read_all(data + data[:cut])


async def test_read_message_rejects_garbage() -> None:
    with pytest.raises(UnknownKind):
        await _read_all(b"\x42\x00\x00")

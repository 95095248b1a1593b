"""AudioSocket wire codec: `kind` (1 byte) · `length` (2 bytes, big-endian) · payload.

Facts are from Asterisk's res_audiosocket.c (see ../shared/spec/audiosocket.md). Inbound
bytes come from a network peer, so the decoder rejects anything outside the sane limits
with a `ProtocolError` instead of buffering it; the caller closes only that connection.
"""

from __future__ import annotations

import asyncio
import enum
import struct
import uuid
from dataclasses import dataclass

HEADER = struct.Struct(">BH")
HEADER_SIZE = HEADER.size
# The length field is 16 bits, so this is also the largest encodable payload.
MAX_PAYLOAD = 0xFFFF
# Asterisk sends 20 ms frames (640 bytes at 16 kHz); 8 KiB covers 128 ms at 32 kHz and
# still stops a peer from making us buffer nonsense.
MAX_AUDIO_PAYLOAD = 8 * 1024
UUID_SIZE = 16
DTMF_DIGITS = frozenset("0123456789*#ABCD")


class Kind(enum.IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO_8K = 0x10
    AUDIO_12K = 0x11
    AUDIO_16K = 0x12
    AUDIO_24K = 0x13
    AUDIO_32K = 0x14
    AUDIO_44K = 0x15
    AUDIO_48K = 0x16
    AUDIO_96K = 0x17
    AUDIO_192K = 0x18
    ERROR = 0xFF


# Signed 16-bit little-endian mono PCM at these rates (res_audiosocket.h order).
AUDIO_RATES: dict[Kind, int] = {
    Kind.AUDIO_8K: 8000,
    Kind.AUDIO_12K: 12000,
    Kind.AUDIO_16K: 16000,
    Kind.AUDIO_24K: 24000,
    Kind.AUDIO_32K: 32000,
    Kind.AUDIO_44K: 44100,
    Kind.AUDIO_48K: 48000,
    Kind.AUDIO_96K: 96000,
    Kind.AUDIO_192K: 192000,
}
AUDIO_KINDS: dict[int, Kind] = {rate: kind for kind, rate in AUDIO_RATES.items()}
# The same by kind byte: the decoder's fast path for the one message that comes 50 times a
# second per call (no enum lookup, no match).
_RATE_OF_KIND_BYTE: dict[int, int] = {int(kind): rate for kind, rate in AUDIO_RATES.items()}


class ProtocolError(Exception):
    """Inbound bytes that are not valid AudioSocket; the connection must be closed."""


class UnknownKind(ProtocolError):
    pass


class PayloadTooLarge(ProtocolError):
    pass


class BadPayload(ProtocolError):
    """A known kind whose payload has the wrong size or content."""


class TruncatedMessage(ProtocolError):
    """The stream ended in the middle of a message."""


class EncodeError(ValueError):
    """A message we refuse to put on the wire (Asterisk would end the call on it)."""


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


@dataclass(frozen=True, slots=True)
class Uuid:
    value: uuid.UUID


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str


@dataclass(frozen=True, slots=True)
class Audio:
    rate: int
    pcm: bytes

    @property
    def kind(self) -> Kind:
        try:
            return AUDIO_KINDS[self.rate]
        except KeyError:
            raise EncodeError(f"no AudioSocket kind for sample rate {self.rate} Hz") from None


@dataclass(frozen=True, slots=True)
class Error:
    payload: bytes


Message = Hangup | Uuid | Dtmf | Audio | Error


def encode(message: Message) -> bytes:
    """Header and payload as one bytes object, so one `sendall` keeps them together."""
    kind: Kind
    payload: bytes
    match message:
        case Hangup():
            kind, payload = Kind.HANGUP, b""
        case Uuid(value):
            kind, payload = Kind.UUID, value.bytes
        case Dtmf(digit):
            if digit not in DTMF_DIGITS:
                raise EncodeError(f"not a DTMF digit: {digit!r}")
            kind, payload = Kind.DTMF, digit.encode("ascii")
        case Audio(_, pcm):
            kind = message.kind
            if not pcm:
                raise EncodeError("empty audio frame (Asterisk ends the call on it)")
            if len(pcm) % 2:
                raise EncodeError(f"odd PCM length {len(pcm)}: samples are 16-bit")
            payload = pcm
        case Error(payload):
            kind = Kind.ERROR
    if len(payload) > MAX_PAYLOAD:
        raise EncodeError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return HEADER.pack(kind, len(payload)) + payload


def check_header(kind_byte: int, length: int) -> Kind:
    """Validate a header before its payload arrives, so garbage fails fast."""
    try:
        kind = Kind(kind_byte)
    except ValueError:
        raise UnknownKind(f"unknown message kind 0x{kind_byte:02X}") from None
    if kind is Kind.HANGUP and length:
        raise BadPayload(f"hangup with a {length}-byte payload (must be empty)")
    if kind is Kind.UUID and length != UUID_SIZE:
        raise BadPayload(f"UUID payload of {length} bytes (must be {UUID_SIZE})")
    if kind is Kind.DTMF and length != 1:
        raise BadPayload(f"DTMF payload of {length} bytes (must be 1)")
    if kind in AUDIO_RATES:
        if length > MAX_AUDIO_PAYLOAD:
            raise PayloadTooLarge(f"audio payload of {length} bytes exceeds {MAX_AUDIO_PAYLOAD}")
        if length == 0:
            raise BadPayload("empty audio frame")
        if length % 2:
            raise BadPayload(f"odd audio payload length {length}: samples are 16-bit")
    if length > MAX_PAYLOAD:  # pragma: no cover - unreachable with a 16-bit field
        raise PayloadTooLarge(f"payload of {length} bytes exceeds {MAX_PAYLOAD}")
    return kind


def parse_payload(kind: Kind, payload: bytes) -> Message:
    """Build the message for a header already accepted by `check_header`."""
    if kind is Kind.HANGUP:
        return Hangup()
    if kind is Kind.UUID:
        return Uuid(uuid.UUID(bytes=payload))
    if kind is Kind.DTMF:
        digit = payload.decode("ascii", errors="replace")
        if digit not in DTMF_DIGITS:
            raise BadPayload(f"DTMF payload {payload!r} is not one of 0-9 * # A-D")
        return Dtmf(digit)
    if kind is Kind.ERROR:
        return Error(payload)
    return Audio(AUDIO_RATES[kind], payload)


class FrameDecoder:
    """Streaming decoder: feed bytes in any chunking, get whole messages back.

    An incomplete message stays buffered until more bytes arrive. After a ProtocolError the
    stream is out of sync for good, so every later `feed` raises the same error.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._failed: ProtocolError | None = None

    @property
    def pending(self) -> int:
        """Bytes buffered towards a message that has not fully arrived yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        if self._failed is not None:
            raise self._failed
        buffer = self._buffer
        buffer += data
        messages: list[Message] = []
        offset = 0
        available = len(buffer)
        try:
            while available - offset >= HEADER_SIZE:
                kind_byte, length = HEADER.unpack_from(buffer, offset)
                end = offset + HEADER_SIZE + length
                rate = _RATE_OF_KIND_BYTE.get(kind_byte)
                if rate is not None and 0 < length <= MAX_AUDIO_PAYLOAD and not length % 2:
                    if end > available:
                        break
                    messages.append(Audio(rate, bytes(buffer[offset + HEADER_SIZE : end])))
                    offset = end
                    continue
                kind = check_header(kind_byte, length)  # raises for anything malformed
                if end > available:
                    break
                messages.append(parse_payload(kind, bytes(buffer[offset + HEADER_SIZE : end])))
                offset = end
        except ProtocolError as exc:
            self._failed = exc
            self._buffer.clear()
            raise
        del self._buffer[:offset]
        return messages


async def read_message(reader: asyncio.StreamReader) -> Message | None:
    """The next message, or None on a clean EOF between messages.

    Raises TruncatedMessage when the stream ends inside a message.
    """
    try:
        header = await reader.readexactly(HEADER_SIZE)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise TruncatedMessage(f"stream ended inside a header ({len(exc.partial)} bytes)") from None
    kind_byte, length = HEADER.unpack(header)
    kind = check_header(kind_byte, length)
    try:
        payload = await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise TruncatedMessage(
            f"stream ended inside a {kind.name} payload ({len(exc.partial)} of {length} bytes)"
        ) from None
    return parse_payload(kind, payload)

"""Every payload inside a Temporal message (a history, an event), found by walking the proto.

The SDK's own payload visitor knows only the worker's messages, not history events; this
walk follows any message's fields, so a new event type in a newer server is covered too.
Search attributes are skipped: they are indexed, never encoded by a codec.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

_PAYLOAD = Payload.DESCRIPTOR.full_name
_SEARCH_ATTRIBUTES = "temporal.api.common.v1.SearchAttributes"


def payloads_in(message: Message, *, search_attributes: bool = False) -> Iterator[Payload]:
    """Each Payload in `message`, depth first (search attributes only when asked)."""
    for descriptor, value in message.ListFields():
        kind = descriptor.message_type
        if kind is None:
            continue
        if kind.full_name == _SEARCH_ATTRIBUTES and not search_attributes:
            continue
        if kind.GetOptions().map_entry:
            value_kind = kind.fields_by_name["value"].message_type
            if value_kind is None:
                continue
            children: list[Message] = list(value.values())
        elif descriptor.is_repeated:
            children = list(value)
        else:
            children = [value]
        for child in children:
            if child.DESCRIPTOR.full_name == _PAYLOAD:
                assert isinstance(child, Payload)
                yield child
            else:
                yield from payloads_in(child, search_attributes=search_attributes)


async def decode_in_place(message: Message, codec: PayloadCodec) -> int:
    """Decode every payload of `message` with `codec`, in place; returns how many it saw."""
    found = list(payloads_in(message))
    if found:
        decoded = await codec.decode(found)
        for payload, plain in zip(found, decoded, strict=True):
            payload.CopyFrom(plain)
    return len(found)

"""Every payload inside a Temporal message (a history, an event), found by walking the proto.

The SDK's own payload visitor knows only the worker's messages, not history events; this
walk follows any message's fields, so a new event type in a newer server is covered too.
Search attributes are skipped: they are indexed, never encoded by a codec.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

# Where the SDK keeps its own bookkeeping as plaintext payloads, written by its core beneath
# any codec: a local activity marker's `data` (sequence number, activity type, attempt,
# times) and a patch marker's `patch-data` (the patch id). Nothing of a call is in them; the
# local activity's result sits beside them as `details[result]`, encoded like any payload.
SDK_BOOKKEEPING = re.compile(r"\.marker_recorded_event_attributes\.details\[(data|patch-data)\]")

_PAYLOAD = Payload.DESCRIPTOR.full_name
_SEARCH_ATTRIBUTES = "temporal.api.common.v1.SearchAttributes"


def payloads_in(message: Message, *, search_attributes: bool = False) -> Iterator[Payload]:
    """Each Payload in `message`, depth first (search attributes only when asked)."""
    for _, payload in payload_paths(message, search_attributes=search_attributes):
        yield payload


def payload_paths(
    message: Message, *, search_attributes: bool = False, path: str = ""
) -> Iterator[tuple[str, Payload]]:
    """Each Payload with where it sits, e.g. `events[3].marker_recorded_event_attributes.…`."""
    for descriptor, value in message.ListFields():
        kind = descriptor.message_type
        if kind is None:
            continue
        if kind.full_name == _SEARCH_ATTRIBUTES and not search_attributes:
            continue
        here = f"{path}.{descriptor.name}" if path else descriptor.name
        children: list[tuple[str, Message]]
        if kind.GetOptions().map_entry:
            if kind.fields_by_name["value"].message_type is None:
                continue
            children = [(f"{here}[{key}]", child) for key, child in value.items()]
        elif descriptor.is_repeated:
            children = [(f"{here}[{n}]", child) for n, child in enumerate(value)]
        else:
            children = [(here, value)]
        for where, child in children:
            if child.DESCRIPTOR.full_name == _PAYLOAD:
                assert isinstance(child, Payload)
                yield where, child
            else:
                yield from payload_paths(child, search_attributes=search_attributes, path=where)


async def decode_in_place(message: Message, codec: PayloadCodec) -> int:
    """Decode every payload of `message` with `codec`, in place; returns how many it saw."""
    found = list(payloads_in(message))
    if found:
        decoded = await codec.decode(found)
        for payload, plain in zip(found, decoded, strict=True):
            payload.CopyFrom(plain)
    return len(found)

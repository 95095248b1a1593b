"""A synthesizer that remembers recent audio: greetings, re-prompts and confirmations repeat
word for word across calls, and their audio need not be made (or paid for) again."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncGenerator
from typing import Final

from audiosocket.speech.base import Synthesizer, close_provider

DEFAULT_MAX_BYTES: Final = 32 * 1024 * 1024  # ~17 min of 16 kHz speech
DEFAULT_MAX_TEXT_CHARS: Final = 300  # longer texts are one-off answers, not phrases


class CachingSynthesizer:
    """Wraps a Synthesizer; a text synthesised to the end at a rate is replayed from memory
    (least recently used first out). Audio cut short (barge-in) or failed is not kept."""

    def __init__(
        self,
        inner: Synthesizer,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    ) -> None:
        if max_bytes < 0 or max_text_chars < 0:
            raise ValueError("max_bytes and max_text_chars must not be negative")
        self.inner = inner
        self.max_bytes = max_bytes
        self.max_text_chars = max_text_chars
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[str, int], tuple[bytes, ...]] = OrderedDict()
        self._size = 0

    @property
    def cached_bytes(self) -> int:
        return self._size

    async def synthesize(
        self, text: str, rate: int, *, call_id: str
    ) -> AsyncGenerator[bytes, None]:
        key = (text.strip(), rate)
        cached = self._entries.get(key)
        if cached is not None:
            self._entries.move_to_end(key)
            self.hits += 1
            for chunk in cached:
                yield chunk
            return
        self.misses += 1
        chunks: list[bytes] = []
        async for chunk in self.inner.synthesize(text, rate, call_id=call_id):
            chunks.append(chunk)
            yield chunk
        # only reached when the consumer took every chunk and the provider did not fail
        self._keep(key, tuple(chunks))

    def _keep(self, key: tuple[str, int], chunks: tuple[bytes, ...]) -> None:
        size = sum(map(len, chunks))
        if len(key[0]) > self.max_text_chars or size > self.max_bytes or key in self._entries:
            return
        self._entries[key] = chunks
        self._size += size
        while self._size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._size -= sum(map(len, evicted))

    async def aclose(self) -> None:
        await close_provider(self.inner)

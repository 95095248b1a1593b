"""What the edge needs from speech providers: text from caller audio, audio from bot text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final, Protocol, runtime_checkable

# The conversation a request belongs to (the call's workflow id), as the LLM activity sends it.
CALL_ID_HEADER: Final = "X-Call-Id"
OUTPUT_RATES: Final = (8000, 16000)  # what AudioSocket carries (kinds 0x10 and 0x12)


class Transcriber(Protocol):
    async def transcribe(self, pcm: bytes, rate: int, *, call_id: str) -> str:
        """Text of 16-bit mono LE PCM at `rate`; '' when nothing was heard.

        Raises SpeechUnavailable when the service cannot be used.
        """
        ...


class Synthesizer(Protocol):
    def synthesize(self, text: str, rate: int, *, call_id: str) -> AsyncIterator[bytes]:
        """16-bit mono LE PCM at `rate` (8000 or 16000) in chunks of even size, the first as
        early as possible. Stop iterating (or `aclose()`) to stop synthesis at barge-in.

        Raises SpeechUnavailable when the service cannot be used.
        """
        ...


@runtime_checkable
class Closable(Protocol):
    """A provider holding connections, to close when the edge stops."""

    async def aclose(self) -> None: ...


async def close_provider(provider: object) -> None:
    """Close `provider` if it holds anything (HTTP sessions); espeak holds nothing."""
    if isinstance(provider, Closable):
        await provider.aclose()


def check_output_rate(rate: int) -> None:
    if rate not in OUTPUT_RATES:
        raise ValueError(f"speech is synthesized at 8000 or 16000 Hz, not {rate}")

"""What the OpenAI-compatible speech providers share: how the client is made, and one clear
SpeechUnavailable message for every way a call can fail."""

from __future__ import annotations

from typing import Final

import openai

from audiosocket.speech.errors import SpeechUnavailable

DEFAULT_TIMEOUT_S: Final = 10.0
# One quick retry covers a dropped connection; more would keep the caller waiting in silence.
DEFAULT_MAX_RETRIES: Final = 1


def client(
    base_url: str, api_key: str | None, timeout_s: float, max_retries: int
) -> openai.AsyncOpenAI:
    if timeout_s <= 0 or max_retries < 0:
        raise ValueError("timeout_s must be positive and max_retries not negative")
    return openai.AsyncOpenAI(
        base_url=base_url,
        # local servers often take no key; the SDK insists on one
        api_key=api_key or "not-needed",
        timeout=timeout_s,
        max_retries=max_retries,
    )


def unavailable(service: str, base_url: str, error: openai.OpenAIError) -> SpeechUnavailable:
    """`service` names what failed, e.g. "speech-to-text (whisper-1)"."""
    where = f"{service} at {base_url}"
    if isinstance(error, openai.APITimeoutError):
        reason = "did not answer in time"
    elif isinstance(error, openai.APIConnectionError):
        reason = f"is unreachable ({error.__cause__ or error})"
    elif isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        reason = f"refused the API key (HTTP {error.status_code}: {error.message})"
    elif isinstance(error, openai.APIStatusError):
        reason = f"answered HTTP {error.status_code}: {error.message}"
    else:
        reason = f"failed: {error}"
    return SpeechUnavailable(f"{where} {reason}")

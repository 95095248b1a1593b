"""One clear SpeechUnavailable message for every way an OpenAI-compatible call can fail."""

from __future__ import annotations

import openai

from audiosocket.speech.errors import SpeechUnavailable


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

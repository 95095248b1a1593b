"""What the OpenAI-compatible speech providers share: their HTTP requests, retried as the
`openai` SDK retries them, and one clear SpeechUnavailable message for every way a request
can fail.

Plain aiohttp rather than the SDK: its pass over the arguments and httpx's connection pool
cost ~2.4 ms of CPU per transcription against ~0.6 ms here (measured against the fake STT),
and that CPU is the edge's event loop: with a hundred calls ending their turns at once it
held back every call's 20 ms audio clock (`./dev bench edge-pacing`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

import aiohttp

from audiosocket.speech.base import CALL_ID_HEADER
from audiosocket.speech.errors import SpeechUnavailable

DEFAULT_TIMEOUT_S: Final = 10.0
# One quick retry covers a dropped connection; more would keep the caller waiting in silence.
DEFAULT_MAX_RETRIES: Final = 1
# What the SDK retries: a timeout, a lost connection, and these answers.
_RETRIED_STATUSES: Final = frozenset({408, 409, 429})
_RETRY_PAUSE_S: Final = 0.05
_MESSAGE_CHARS: Final = 300


class AudioApi:
    """POSTs to one OpenAI-compatible service (`base_url` ends in `/v1`, as the SDK's does);
    `service` names it in errors, e.g. "speech-to-text (whisper-1)"."""

    def __init__(
        self,
        service: str,
        base_url: str,
        api_key: str | None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        if timeout_s <= 0 or max_retries < 0:
            raise ValueError("timeout_s must be positive and max_retries not negative")
        self.service = service
        self.base_url = base_url
        self._url = base_url.rstrip("/")
        # local servers often take no key; every OpenAI-compatible one accepts a header
        self._auth = f"Bearer {api_key or 'not-needed'}"
        # Per read, not for the whole answer: streamed speech may take longer than this.
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout_s, sock_read=timeout_s)
        self._max_retries = max_retries
        self._session: aiohttp.ClientSession | None = None  # made on the running loop

    @asynccontextmanager
    async def post(
        self,
        path: str,
        *,
        call_id: str,
        form: Callable[[], aiohttp.FormData] | None = None,
        body: dict[str, Any] | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """The successful answer to `form` (multipart, made anew for each attempt) or `body`
        (JSON), to read inside the block; SpeechUnavailable when there is none."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = {"Authorization": self._auth, CALL_ID_HEADER: call_id}
        for attempt in range(self._max_retries + 1):
            retry = attempt < self._max_retries
            try:
                response = await self._session.post(
                    self._url + path,
                    data=form() if form is not None else None,
                    json=body,
                    headers=headers,
                )
            except TimeoutError as error:
                if retry:
                    await asyncio.sleep(_RETRY_PAUSE_S)
                    continue
                raise self.unavailable("did not answer in time") from error
            except aiohttp.ClientError as error:
                if retry:
                    await asyncio.sleep(_RETRY_PAUSE_S)
                    continue
                raise self.unavailable(f"is unreachable ({error})") from error
            if response.status < 400:
                try:
                    yield response
                finally:
                    response.release()
                return
            problem = await _error_message(response)
            response.release()
            if retry and (response.status in _RETRIED_STATUSES or response.status >= 500):
                await asyncio.sleep(_RETRY_PAUSE_S)
                continue
            if response.status in (401, 403):
                raise self.unavailable(f"refused the API key (HTTP {response.status}: {problem})")
            raise self.unavailable(f"answered HTTP {response.status}: {problem}")
        raise AssertionError("unreachable: the last attempt returns or raises")

    def unavailable(self, reason: str) -> SpeechUnavailable:
        return SpeechUnavailable(f"{self.service} at {self.base_url} {reason}")

    def broke_off(self, error: BaseException) -> SpeechUnavailable:
        """An answer that stopped while it was being read."""
        return self.unavailable(f"broke off mid-stream: {error!r}")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _error_message(response: aiohttp.ClientResponse) -> str:
    """The service's own words: OpenAI's `{"error": {"message": …}}`, or the start of the
    body."""
    try:
        text = await response.text()
    except (aiohttp.ClientError, TimeoutError, UnicodeDecodeError):
        return response.reason or "no answer"
    try:
        error = json.loads(text).get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = None
    return str(message or text or response.reason or "")[:_MESSAGE_CHARS]

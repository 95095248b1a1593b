"""The fake OpenAI-compatible speech service, on a real port, for the speech tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.fake_openai_audio import FakeSpeech

API_KEY = "speech-test-key"


@pytest.fixture
async def fake_speech() -> AsyncIterator[FakeSpeech]:
    async with FakeSpeech(api_key=API_KEY, tone_hz=440) as server:
        yield server

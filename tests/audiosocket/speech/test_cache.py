"""CachingSynthesizer over real espeak and over FakeSpeech."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from audiosocket.speech import (
    CachingSynthesizer,
    EspeakSynthesizer,
    OpenAiSynthesizer,
    SpeechUnavailable,
)
from tests.audiosocket.speech.conftest import API_KEY
from tests.support.fake_openai_audio import FakeSpeech


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_a_phrase_spoken_again_comes_from_memory(fake_speech: FakeSpeech) -> None:
    tts = OpenAiSynthesizer(fake_speech.base_url, API_KEY, "tts-1", "alloy")
    cache = CachingSynthesizer(tts)
    first = await collect(cache.synthesize("Вы меня слышите?", 8000, call_id="a"))
    again = await collect(cache.synthesize(" Вы меня слышите? ", 8000, call_id="b"))
    wideband = await collect(cache.synthesize("Вы меня слышите?", 16000, call_id="c"))
    assert first and again == first
    assert len(wideband) == pytest.approx(2 * len(first), abs=4)  # another rate, made anew
    assert [s.call_id for s in fake_speech.speeches] == ["a", "c"]
    assert (cache.hits, cache.misses) == (1, 2)
    await tts.aclose()


async def test_audio_cut_short_or_failed_is_not_kept(fake_speech: FakeSpeech) -> None:
    tts = OpenAiSynthesizer(fake_speech.base_url, API_KEY, "tts-1", "alloy", max_retries=0)
    cache = CachingSynthesizer(tts)
    fake_speech.set_latency(0.0, per_chunk=0.01)  # several chunks
    stream = cache.synthesize("Курьер приедет завтра утром.", 8000, call_id="a")
    assert await anext(stream)
    await stream.aclose()  # barge-in
    fake_speech.fail_next(status=503)
    with pytest.raises(SpeechUnavailable):
        await collect(cache.synthesize("Да.", 8000, call_id="a"))
    assert cache.cached_bytes == 0 and cache.hits == 0
    assert await collect(cache.synthesize("Да.", 8000, call_id="a"))  # works, is kept now
    assert cache.cached_bytes > 0
    await tts.aclose()


async def test_the_least_recently_used_phrase_goes_first() -> None:
    espeak = EspeakSynthesizer()
    one = await collect(espeak.synthesize("Да.", 8000, call_id="c"))
    cache = CachingSynthesizer(espeak, max_bytes=int(2.5 * len(one)))
    for text in ["Да.", "Да!", "Да.", "Да?"]:  # "Да!" is the oldest when "Да?" comes
        await collect(cache.synthesize(text, 8000, call_id="c"))
    assert cache.cached_bytes <= cache.max_bytes
    await collect(cache.synthesize("Да.", 8000, call_id="c"))
    assert cache.hits == 2
    await collect(cache.synthesize("Да!", 8000, call_id="c"))
    assert cache.hits == 2  # it had been evicted


async def test_long_texts_are_not_kept() -> None:
    cache = CachingSynthesizer(EspeakSynthesizer(), max_text_chars=10)
    await collect(cache.synthesize("Ваш заказ уже в пути.", 8000, call_id="c"))
    assert cache.cached_bytes == 0

"""The parts of turn-taking without a call: the wait per expectation and its settings, early
transcripts (real STT client against FakeSpeech over HTTP), the line's rate and the outbound
stream changing rate between replies. Through the real edge: test_end_of_turn_e2e.py and
test_wideband_e2e.py."""

from __future__ import annotations

import asyncio

import pytest

from audiosocket.early_transcript import EarlyTranscripts
from audiosocket.end_of_turn import EndOfTurnWaits
from audiosocket.line_rate import LineRate
from audiosocket.metrics import TurnLatency
from audiosocket.pacing import frame_bytes
from audiosocket.playout import PlayoutSource
from audiosocket.speech import OpenAiTranscriber, SpeechEnded, SpeechPaused
from core.settings import Settings
from core.vocabulary import Expectation
from tests.support.fake_openai_audio import FakeSpeech

E = Expectation


def test_each_expectation_has_its_wait_and_the_defaults_are_the_settings() -> None:
    waits = EndOfTurnWaits()
    assert {e: waits.wait_ms(e) for e in E} == {
        E.YES_NO: 400,
        E.DIGITS: 1200,
        E.ADDRESS: 1200,
        E.PRODUCT: 1000,
        E.FREE: 700,
    }
    assert waits.early_stt_ms == 300
    assert EndOfTurnWaits.from_settings(Settings()) == waits
    off = Settings(end_of_turn_early_stt_ms=0)
    assert EndOfTurnWaits.from_settings(off).early_stt_ms is None
    tuned = Settings(end_of_turn_yes_no_ms=300, end_of_turn_early_stt_ms=250)
    assert EndOfTurnWaits.from_settings(tuned) == EndOfTurnWaits(yes_no_ms=300, early_stt_ms=250)


@pytest.mark.parametrize(
    "bad",
    [{"yes_no_ms": 150}, {"digits_ms": 6000}, {"free_ms": 0}, {"early_stt_ms": 0}],
)
def test_waits_out_of_range_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        EndOfTurnWaits(**bad)


def test_the_turn_record_says_which_wait_ended_the_speech() -> None:
    latency = TurnLatency("call-1", "speech", 1.0, 1.0, 1.2, 1.3, end_of_turn_ms=400)
    assert latency.as_log()["end_of_turn_ms"] == 400
    assert latency.as_log()["early_stt"] is False


# --- early transcripts -------------------------------------------------------------------


def ended(pcm: bytes, *, held: bool) -> SpeechEnded:
    return SpeechEnded(at=0.0, pcm=pcm, rate=8000, pause_held=held)


async def test_an_early_transcript_is_kept_when_the_pause_held_and_dropped_when_not(
    fake_speech: FakeSpeech,
) -> None:
    call_id = "call-early-transcript"
    fake_speech.script(call_id, ["сто два", "сто два ноль сорок пять"])
    stt = OpenAiTranscriber(fake_speech.base_url, "test", "whisper-1", max_retries=0)
    early = EarlyTranscripts(
        lambda pcm, rate: stt.transcribe(pcm, rate, call_id=call_id), call_id=call_id
    )
    part, whole = bytes(3200), bytes(9600)

    early.paused(SpeechPaused(at=0.0, pcm=part, rate=8000))
    assert early.ended(ended(whole, held=False)) is None  # the caller went on: dropped
    early.paused(SpeechPaused(at=1.0, pcm=whole, rate=8000))
    kept = early.ended(ended(whole, held=True))
    assert kept is not None and await kept == "сто два ноль сорок пять"
    assert (early.started, early.used, early.discarded) == (2, 1, 1)
    # the dropped request still ran to its end (the service had the audio anyway)
    async with asyncio.timeout(10):
        while len([t for t in fake_speech.transcriptions if t.call_id == call_id]) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    fake_speech.assert_consumed(call_id)
    assert early.ended(ended(whole, held=True)) is None  # nothing pending any more
    early.close()


async def test_a_failed_early_transcript_is_none_and_says_nothing_to_the_caller(
    fake_speech: FakeSpeech,
) -> None:
    stt = OpenAiTranscriber(fake_speech.base_url, "test", "whisper-1", max_retries=0)
    early = EarlyTranscripts(
        lambda pcm, rate: stt.transcribe(pcm, rate, call_id="call-early-down"),
        call_id="call-early-down",
    )
    fake_speech.fail_all(503)
    try:
        early.paused(SpeechPaused(at=0.0, pcm=bytes(3200), rate=8000))
        task = early.ended(ended(bytes(3200), held=True))
        assert task is not None and await task is None  # the turn transcribes again
    finally:
        fake_speech.recover()


# --- the line's rate ------------------------------------------------------------------------


async def test_a_dialplan_line_follows_the_callers_rate_and_an_announced_one_does_not() -> None:
    dialplan = LineRate(8000, follows_caller=True)
    assert not await dialplan.first_frame(0.05)  # nothing yet: the bounded wait gives up
    dialplan.caller_frame(16000)
    assert await dialplan.first_frame(0.05) and dialplan.rate == 16000
    dialplan.caller_frame(11025)  # no AudioSocket kind the bot speaks: keep what it has
    assert dialplan.rate == 16000

    stasis = LineRate(16000, follows_caller=False)
    stasis.caller_frame(8000)
    assert stasis.rate == 16000 and stasis.caller_rate == 8000


async def test_the_first_frame_ends_the_wait_at_once() -> None:
    line = LineRate(8000, follows_caller=True)
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, line.caller_frame, 16000)
    started = loop.time()
    assert await line.first_frame(5.0)
    assert loop.time() - started < 2.0  # generous: a loaded box; far below the 5 s bound


def test_the_outbound_stream_changes_rate_only_between_replies() -> None:
    out = PlayoutSource(8000)
    out.enqueue(b"\x01\x00" * 800)  # 100 ms queued
    with pytest.raises(RuntimeError, match="nothing is queued"):
        out.change_rate(16000)
    for _ in range(5):
        out.next_frame()
    assert out.played_ms_since(0) == 100
    out.change_rate(16000)
    assert out.next_frame() == bytes(frame_bytes(16000))  # silence at the new rate
    mark = out.mark()
    out.enqueue(b"\x02\x00" * 3200)  # the next reply: 200 ms at 16 kHz
    for _ in range(4):
        assert len(out.next_frame()) == 640
    assert out.played_ms_since(mark) == 80
    assert out.played_ms_since(0) == 180  # the position kept its time across the change

"""BargeIn on a real PlayoutSource: the pause keeps the reply, a short false alarm goes on
where it stopped, a long one from the start of the sentence, words give way."""

from __future__ import annotations

from audiosocket.interruption import BargeIn, Phase
from audiosocket.metrics import EdgeMetrics
from audiosocket.pacing import frame_bytes
from audiosocket.playout import PlayoutSource

SILENCE = bytes(frame_bytes(8000))


def playing(sentences: list[bytes], frames: int) -> tuple[PlayoutSource, BargeIn, EdgeMetrics]:
    out = PlayoutSource(8000)
    for sentence in sentences:
        out.begin_sentence()
        out.enqueue(sentence)
    for _ in range(frames):
        out.next_frame()
    metrics = EdgeMetrics()
    return out, BargeIn(out, metrics, rewind_after_s=0.4, call_id="call-test"), metrics


def test_an_onset_pauses_and_a_fade_goes_on_where_it_stopped() -> None:
    out, barge, metrics = playing([b"\x01\x00" * 1600], frames=3)
    barge.pause(10.0)
    assert barge.phase is Phase.PAUSED and out.next_frame() == SILENCE
    barge.no_words(10.1, "onset_faded")
    assert barge.phase is None and not out.paused
    assert out.played_ms_since(0) == 60  # nothing replayed
    assert metrics.false_barge_ins == 1 and metrics.barge_ins == 0


def test_an_empty_utterance_resumes_from_the_start_of_the_sentence() -> None:
    out, barge, metrics = playing([b"\x01\x00" * 480, b"\x02\x00" * 800], frames=5)
    barge.pause(10.0)
    barge.speech(10.05)
    assert barge.phase is Phase.HEARD
    barge.no_words(11.0, "empty_transcript")  # a second later: the sentence again
    assert out.played_ms_since(0) == 60 and out.next_frame() == b"\x02\x00" * 160
    assert metrics.false_barge_ins == 1


def test_words_give_way_and_a_late_verdict_changes_nothing() -> None:
    out, barge, metrics = playing([b"\x01\x00" * 1600], frames=3)
    barge.speech(10.0)  # an endpointer without onsets: speech pauses at once
    assert out.paused
    assert barge.give_way() is True and barge.phase is None
    barge.no_words(11.0, "empty_transcript")  # nothing pending any more
    assert metrics.false_barge_ins == 0 and out.paused  # the session's cut clears the queue
    assert barge.give_way() is False

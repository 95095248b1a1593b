"""Endpointing on the wall clock with real silero and espeak speech, frames paced as Asterisk
sends them: `now` advances with the audio, and during caller silence frames stop."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiosocket.speech import (
    Endpointer,
    OnsetFaded,
    SpeechEnded,
    SpeechOnset,
    SpeechPaused,
    VoiceActivity,
)
from audiosocket.speech.endpointer import EndpointerEvent
from tests.audiosocket.speech.audio import (
    SECOND_PHRASE,
    frames,
    hum,
    seconds,
    silence,
    speech,
    tone,
    white_noise,
)

Event = EndpointerEvent
Gap = float  # seconds in which no frame arrives (Asterisk without transmit_silence)


def play(
    endpointer: Endpointer,
    parts: list[bytes | Gap],
    *,
    frame_sizes: list[int] | None = None,
    tick_s: float = 0.02,
    after_s: float = 2.0,
) -> list[Event]:
    """Feed `parts` in real time from now=0: audio as frames (each fed when it has fully
    arrived), gaps as time with ticks only; then `after_s` more of ticks."""
    events, _ = play_from(0.0, endpointer, [*parts, after_s], frame_sizes, tick_s)
    return events


def play_from(
    now: float,
    endpointer: Endpointer,
    parts: list[bytes | Gap],
    frame_sizes: list[int] | None = None,
    tick_s: float = 0.02,
) -> tuple[list[Event], float]:
    """`play` from wall time `now`, without the trailing ticks; returns the time at the end."""
    rate = endpointer.rate
    sizes = frame_sizes or [rate // 50 * 2]  # 20 ms frames
    events: list[Event] = []
    for part in parts:
        if isinstance(part, bytes):
            for frame in frames(part, sizes):
                now += len(frame) / 2 / rate
                events += endpointer.feed(frame, now)
        else:
            end = now + part
            while now < end:
                now = min(end, now + tick_s)
                events += endpointer.tick(now)
    return events, now


def kinds(events: list[Event]) -> list[str]:
    return [type(event).__name__ for event in events]


@pytest.fixture(params=[8000, 16000])
def rate(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def endpointer(rate: int) -> Endpointer:
    return Endpointer(rate)


@pytest.mark.parametrize("text", ["Алло, где мой заказ?", "Нет.", "Подождите, я не то сказала."])
def test_speech_starts_quickly_enough_for_barge_in(
    endpointer: Endpointer, rate: int, text: str
) -> None:
    lead = 0.5  # silence frames first (transmit_silence = yes), then the caller speaks
    events = play(endpointer, [silence(lead, rate), speech(rate, text)])
    assert kinds(events) == ["SpeechStarted", "SpeechEnded"]
    latency = events[0].at - lead
    # start_ms is 120 ms of speech, i.e. four 32 ms windows (measured 140-180 ms after the
    # first loud sample); the bot must be quiet within 200 ms of the caller's onset.
    assert 0.1 <= latency <= 0.25, f"speech detected {latency * 1000:.0f} ms after onset"


@pytest.mark.parametrize("text", ["Здравствуйте!", "Стоп, стоп."])
def test_a_hissed_first_sound_starts_speech_a_little_later(
    endpointer: Endpointer, rate: int, text: str
) -> None:
    # silero scores a lone з/с hiss low (it rejects noise), so speech counts from the vowel:
    # measured 240-280 ms after the hiss begins
    events = play(endpointer, [silence(0.5, rate), speech(rate, text)])
    assert kinds(events) == ["SpeechStarted", "SpeechEnded"]
    assert events[0].at - 0.5 <= 0.35


def test_utterance_ends_on_wall_clock_silence_when_frames_stop(
    endpointer: Endpointer, rate: int
) -> None:
    said = speech(rate)
    events = play(endpointer, [said, 3.0])
    assert kinds(events) == ["SpeechStarted", "SpeechEnded"]
    ended = events[1]
    assert isinstance(ended, SpeechEnded)
    assert ended.reason == "silence" and ended.rate == rate
    # ticks alone end it: about end_silence_ms (700) after the last voiced window
    assert seconds(said, rate) + 0.6 <= ended.at <= seconds(said, rate) + 0.9
    assert said[rate // 2 : -rate // 2] in ended.pcm  # the utterance, whole
    assert len(ended.pcm) <= len(said) + 2 * rate * 0.6  # lead-in and tail are short


# Wall clocks where `last + wait - last < wait` in floating point: a tick at the deadline
# must end the turn there too (the loop's clock is seconds since boot: 12.34, 19906.59…).
@pytest.mark.parametrize("start", [0.0, 12.34, 1234.567, 19906.590605811])
def test_the_deadline_says_when_a_tick_ends_the_utterance(
    endpointer: Endpointer, rate: int, start: float
) -> None:
    assert endpointer.deadline() is None
    events, now = play_from(start, endpointer, [speech(rate), 0.3])
    assert kinds(events) == ["SpeechStarted"]
    deadline = endpointer.deadline()
    assert deadline is not None and deadline > now
    assert endpointer.tick(deadline - 0.001) == []  # not a moment before
    ended = endpointer.tick(deadline)
    assert kinds(ended) == ["SpeechEnded"] and endpointer.deadline() is None


def test_utterance_ends_when_silence_frames_keep_coming(endpointer: Endpointer, rate: int) -> None:
    said = speech(rate)
    events = play(endpointer, [silence(0.4, rate), said, silence(2.0, rate)], after_s=0)
    assert kinds(events) == ["SpeechStarted", "SpeechEnded"]
    ended = events[1]
    assert isinstance(ended, SpeechEnded)
    assert ended.at == pytest.approx(0.4 + seconds(said, rate) + 0.7, abs=0.2)
    # lead-in (200 ms before the first voiced window) keeps the soft first sound; ~300 ms
    # of tail after the last voiced window
    lead_in = ended.pcm.index(said[:64])
    assert 0 < lead_in <= 0.3 * rate * 2
    assert seconds(ended.pcm, rate) == pytest.approx(seconds(said, rate) + 0.5, abs=0.2)


def test_frame_sizes_do_not_change_the_result(rate: int) -> None:
    parts: list[bytes | Gap] = [silence(0.3, rate), speech(rate), 1.5]
    plain = play(Endpointer(rate), parts)
    ragged = play(Endpointer(rate), parts, frame_sizes=[416, 88, 640, 320, 1000])
    assert kinds(plain) == kinds(ragged) == ["SpeechStarted", "SpeechEnded"]
    assert plain[0].at == pytest.approx(ragged[0].at, abs=0.07)
    assert isinstance(plain[1], SpeechEnded) and isinstance(ragged[1], SpeechEnded)
    assert len(plain[1].pcm) == pytest.approx(len(ragged[1].pcm), abs=0.1 * rate * 2)


def test_two_utterances_with_a_pause_between(endpointer: Endpointer, rate: int) -> None:
    first, second = speech(rate), speech(rate, SECOND_PHRASE)
    events = play(endpointer, [first, 1.5, second, 1.5])
    assert kinds(events) == ["SpeechStarted", "SpeechEnded"] * 2
    one, two = events[1], events[3]
    assert isinstance(one, SpeechEnded) and isinstance(two, SpeechEnded)
    assert first[rate // 2 : rate] in one.pcm and first[rate // 2 : rate] not in two.pcm
    assert second[rate // 2 : rate] in two.pcm


def test_a_short_pause_inside_an_utterance_does_not_end_it(
    endpointer: Endpointer, rate: int
) -> None:
    events = play(endpointer, [speech(rate), 0.3, speech(rate, SECOND_PHRASE)])
    assert kinds(events) == ["SpeechStarted", "SpeechEnded"]


@pytest.mark.parametrize("sound", [tone, white_noise, hum])
def test_line_sounds_never_start_speech(endpointer: Endpointer, rate: int, sound: object) -> None:
    assert callable(sound)
    assert play(endpointer, [sound(4.0, rate)]) == []
    assert not endpointer.in_speech


def test_blips_shorter_than_start_ms_are_ignored(endpointer: Endpointer, rate: int) -> None:
    said = speech(rate)
    blip = said[rate // 2 : rate // 2 + round(0.06 * rate) * 2]  # 60 ms from mid-word
    assert play(endpointer, [blip, 1.0, blip, silence(0.5, rate), blip]) == []


def test_long_speech_is_cut_at_max_utterance(rate: int) -> None:
    endpointer = Endpointer(rate, max_utterance_s=2.0)
    said = speech(rate) + speech(rate, SECOND_PHRASE)
    events = play(endpointer, [said, 2.0])
    assert kinds(events)[:3] == ["SpeechStarted", "SpeechEnded", "SpeechStarted"]
    cut = events[1]
    assert isinstance(cut, SpeechEnded) and cut.reason == "max_length"
    assert seconds(cut.pcm, rate) == pytest.approx(2.0, abs=0.1)
    assert kinds(events)[-1] == "SpeechEnded" and endpointer.in_speech is False


def test_max_utterance_holds_on_the_wall_clock_too(rate: int) -> None:
    endpointer = Endpointer(rate, max_utterance_s=1.0, end_silence_ms=5000)
    events = play(endpointer, [speech(rate)[:rate], 2.0])  # 0.5 s of speech, then no frames
    assert kinds(events) == ["SpeechStarted", "SpeechEnded"]
    ended = events[1]
    assert isinstance(ended, SpeechEnded) and ended.reason == "max_length"
    assert ended.at == pytest.approx(events[0].at + 1.0, abs=0.05)


def test_a_burst_fed_at_once_still_splits_on_silence(endpointer: Endpointer, rate: int) -> None:
    said = speech(rate)
    burst = silence(0.2, rate) + said + silence(1.0, rate) + said + silence(1.0, rate)
    events = endpointer.feed(burst, now=10.0)
    assert kinds(events) == ["SpeechStarted", "SpeechEnded"] * 2
    assert all(event.at == 10.0 for event in events)


def test_flush_hands_over_the_speech_so_far(endpointer: Endpointer, rate: int) -> None:
    assert endpointer.flush(1.0) == []
    started = endpointer.feed(speech(rate)[: rate * 2], now=1.0)  # one second
    assert kinds(started) == ["SpeechStarted"] and endpointer.in_speech
    (ended,) = endpointer.flush(1.1)
    assert ended.reason == "flushed" and seconds(ended.pcm, rate) == pytest.approx(1.0, abs=0.05)
    assert not endpointer.in_speech


def test_bad_input_is_refused(rate: int) -> None:
    endpointer = Endpointer(rate)
    with pytest.raises(ValueError, match="even number"):
        endpointer.feed(b"\x00\x01\x02", now=0.0)
    with pytest.raises(ValueError, match="end_silence_ms"):
        Endpointer(rate, end_silence_ms=0)
    other = 16000 if rate == 8000 else 8000
    with pytest.raises(ValueError, match="takes"):
        Endpointer(rate, vad=VoiceActivity(other))


class ScriptedVoice(VoiceActivity):
    """A VAD that scores its windows from a script (0.0 once the script is done)."""

    def __init__(self, rate: int, scores: list[float]) -> None:
        super().__init__(rate)
        self._scores = iter(scores)
        self._buffered = 0

    def feed(self, pcm: bytes) -> list[float]:
        windows, self._buffered = divmod(self._buffered + len(pcm), self.window_bytes)
        return [next(self._scores, 0.0) for _ in range(windows)]


def test_scores_just_below_the_threshold_keep_speech_going(rate: int) -> None:
    # silero's score dips inside words; once speech runs, only scores below threshold - 0.15
    # count as a pause: 4 confident windows, then a second of 0.4 (below 0.5, above 0.35)
    vad = ScriptedVoice(rate, [0.9] * 4 + [0.4] * 31)
    endpointer = Endpointer(rate, vad=vad)
    events = play(endpointer, [silence(3.0, rate)], after_s=0)
    vad.close()
    assert kinds(events) == ["SpeechStarted", "SpeechEnded"]
    # the last 0.4 window ends at 35 × 32 ms = 1.12 s; 700 ms of pause after it end speech
    assert events[1].at == pytest.approx(1.12 + 0.7, abs=0.05)


def test_an_onset_counts_from_the_lower_level_once_one_window_is_confident(rate: int) -> None:
    # silero's score rises slowly over a plosive: three windows at 0.4 and one at 0.9 are
    # the four windows of start_ms; windows at 0.4 alone never start speech
    for scores, started_at in (([0.4] * 3 + [0.9] * 4, 0.14), ([0.4] * 20, None)):
        vad = ScriptedVoice(rate, scores)
        events = play(Endpointer(rate, vad=vad), [silence(1.0, rate)], after_s=0)
        vad.close()
        if started_at is None:
            assert events == []
        else:
            assert kinds(events)[0] == "SpeechStarted"
            assert events[0].at == pytest.approx(started_at, abs=0.025)  # a 20 ms frame


def test_a_lone_short_word_counts_once_frames_stop(endpointer: Endpointer, rate: int) -> None:
    # "Стоп." has three voiced windows before its last, partial one; that one is scored when
    # the frames stop, and the word is handed over whole
    said = speech(rate, "Стоп.")
    events = play(endpointer, [silence(0.5, rate), said, 2.0])
    assert kinds(events) == ["SpeechStarted", "SpeechEnded"]
    assert events[0].at <= 0.5 + seconds(said, rate) + 0.3
    ended = events[1]
    assert isinstance(ended, SpeechEnded) and said in ended.pcm


def test_speech_after_line_noise_starts_as_quickly(endpointer: Endpointer, rate: int) -> None:
    # a real line hisses softly rather than sending digital zeros
    lead = white_noise(0.5, rate, level=60)
    events = play(endpointer, [lead, speech(rate, "Алло, где мой заказ?")])
    assert kinds(events) == ["SpeechStarted", "SpeechEnded"]
    assert 0.1 <= events[0].at - 0.5 <= 0.25


# --- invariants under any framing -----------------------------------------------------------

_SPEECH_8K = speech(8000)
_PIECES = [_SPEECH_8K[:8000], silence(0.3, 8000), _SPEECH_8K, white_noise(0.5, 8000)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=st.lists(
        st.tuples(
            st.sampled_from(range(len(_PIECES))),
            st.integers(min_value=1, max_value=700),  # frame size in samples
            st.sampled_from([0.0, 0.0, 0.05, 0.3, 1.0]),  # then frames stop this long
        ),
        min_size=1,
        max_size=6,
    )
)
def test_events_are_well_formed_whatever_the_framing(
    plan: list[tuple[int, int, float]],
) -> None:
    endpointer = Endpointer(8000, max_utterance_s=1.5)
    stream, events, now = bytearray(), list[Event](), 0.0
    for piece, frame_samples, gap in plan:
        fed, now = play_from(now, endpointer, [_PIECES[piece], gap], [2 * frame_samples])
        events += fed
        stream += _PIECES[piece]
    events += play_from(now, endpointer, [1.0])[0]
    endpointer.close()

    assert kinds(events) == ["SpeechStarted", "SpeechEnded"] * (len(events) // 2)
    assert not endpointer.in_speech
    for event in events:
        if isinstance(event, SpeechEnded):
            assert event.pcm and len(event.pcm) % 2 == 0
            assert bytes(event.pcm) in stream  # a slice of what was fed, in order
            assert seconds(event.pcm, 8000) <= 1.5 + 0.2 + 0.3 + 0.05


def test_onset_latency_over_phrases_and_window_alignments() -> None:
    phrases = [
        "Алло, где мой заказ?",
        "Подождите, подождите",
        "Гречку, одну пачку",
        "Расскажите о доставке",
        "Нет.",
        "Хорошо.",
    ]
    latencies = []
    for rate in (8000, 16000):
        for text in phrases:
            for lead in (0.3, 0.41, 0.5):  # shifts the speech against the 32 ms windows
                lead_pcm = white_noise(lead, rate, level=60)
                events = play(Endpointer(rate), [lead_pcm, speech(rate, text)])
                assert kinds(events) == ["SpeechStarted", "SpeechEnded"], (text, rate, lead)
                latencies.append(events[0].at - seconds(lead_pcm, rate))
    latencies.sort()
    median, worst = latencies[len(latencies) // 2], latencies[-1]
    print(f"\nonset latency: median {median * 1000:.0f} ms, worst {worst * 1000:.0f} ms")
    assert median <= 0.2 and worst <= 0.35


# --- onsets: a barge-in pauses the bot before speech is certain ------------------------------


def test_an_onset_comes_before_speech_and_a_blip_fades(rate: int) -> None:
    # two confident windows announce an onset (64 ms); two more make it speech
    vad = ScriptedVoice(rate, [0.9] * 4 + [0.0] * 40 + [0.9, 0.9, 0.0, 0.0])
    endpointer = Endpointer(rate, vad=vad, onset_ms=64)
    events = play(endpointer, [silence(2.0, rate)], after_s=0)
    vad.close()
    assert kinds(events) == [
        "SpeechOnset",
        "SpeechStarted",
        "SpeechEnded",
        "SpeechOnset",
        "OnsetFaded",
    ]
    onset, started, ended, blip, faded = events
    assert onset.at == pytest.approx(0.064, abs=0.025)
    assert started.at == pytest.approx(0.128, abs=0.025)
    assert isinstance(ended, SpeechEnded) and ended.voiced_ms == 128
    # the blip: windows 45-46 voiced, 47-48 not: faded once the second dip is scored
    assert blip.at == pytest.approx(46 * 0.032, abs=0.025)
    assert faded.at == pytest.approx(48 * 0.032, abs=0.025)


def test_an_onset_fades_when_frames_stop(rate: int) -> None:
    vad = ScriptedVoice(rate, [0.9, 0.9])
    endpointer = Endpointer(rate, vad=vad, onset_ms=64)
    events = play(endpointer, [silence(0.07, rate), 1.0], after_s=0)
    vad.close()
    assert kinds(events) == ["SpeechOnset", "OnsetFaded"]
    assert isinstance(events[1], OnsetFaded) and events[1].at >= 0.07 + 0.2  # the gap


def test_onsets_only_when_asked_and_shorter_than_a_start(rate: int) -> None:
    events = play(Endpointer(rate), [speech(rate)])
    assert not any(isinstance(event, SpeechOnset) for event in events)
    with pytest.raises(ValueError, match="onset_ms"):
        Endpointer(rate, onset_ms=120)


def test_an_utterance_says_how_long_it_was_voiced(endpointer: Endpointer, rate: int) -> None:
    said = speech(rate)
    events = play(endpointer, [silence(0.5, rate), said])
    ended = events[-1]
    assert isinstance(ended, SpeechEnded)
    # from the onset to the last voiced window: the phrase less its quiet edges (a breathy
    # release is not voiced), lead-in and tail not counted
    assert seconds(said, rate) - 0.25 <= ended.voiced_ms / 1000 <= seconds(said, rate)


# --- the end-of-turn wait per turn, and the early hand-over at a pause ---------------------

DIGITS_FIRST, DIGITS_SECOND = "Сто два.", "Ноль сорок пять."


@pytest.mark.parametrize("frames_stop", [True, False])
def test_a_pause_splits_the_turn_or_not_by_the_wait_in_force(rate: int, frames_stop: bool) -> None:
    """The same 900 ms pause between two groups of digits: two turns with the ordinary wait,
    one with the dictation wait (set between turns, as the session does after a reply)."""
    first, second = speech(rate, DIGITS_FIRST), speech(rate, DIGITS_SECOND)
    pause: bytes | Gap = 0.9 if frames_stop else silence(0.9, rate)
    parts: list[bytes | Gap] = [first, pause, second]
    endpointer = Endpointer(rate)
    assert kinds(play(endpointer, parts)) == ["SpeechStarted", "SpeechEnded"] * 2
    endpointer.end_silence_ms = 1200
    events = play(endpointer, parts)
    assert kinds(events) == ["SpeechStarted", "SpeechEnded"]
    ended = events[1]
    assert isinstance(ended, SpeechEnded) and ended.end_silence_ms == 1200
    assert first[rate // 4 : rate // 2] in ended.pcm
    assert second[-rate // 2 : -rate // 4] in ended.pcm


def test_a_short_wait_ends_a_yes_sooner(rate: int) -> None:
    said = speech(rate, "Да.")
    ends = []
    for wait_ms in (700, 400):
        events = play(Endpointer(rate, end_silence_ms=wait_ms), [silence(0.3, rate), said, 2.0])
        assert kinds(events) == ["SpeechStarted", "SpeechEnded"]
        assert isinstance(events[1], SpeechEnded) and events[1].end_silence_ms == wait_ms
        ends.append(events[1].at)
    assert ends[0] - ends[1] == pytest.approx(0.3, abs=0.05)


def test_the_wait_must_be_positive(rate: int) -> None:
    endpointer = Endpointer(rate)
    with pytest.raises(ValueError, match="end_silence_ms"):
        endpointer.end_silence_ms = 0
    with pytest.raises(ValueError, match="early_ms"):
        endpointer.early_ms = 0


def test_a_pause_hands_over_the_utterance_early_and_the_end_says_it_held(rate: int) -> None:
    said = speech(rate, "Хочу заказать гречку.")
    endpointer = Endpointer(rate, end_silence_ms=1200, early_ms=300)
    events = play(endpointer, [said, 3.0])
    assert kinds(events) == ["SpeechStarted", "SpeechPaused", "SpeechEnded"]
    paused, ended = events[1], events[2]
    assert isinstance(paused, SpeechPaused) and isinstance(ended, SpeechEnded)
    assert ended.at - paused.at == pytest.approx(0.9, abs=0.1)
    assert ended.pause_held and paused.pcm == ended.pcm


def test_a_caller_who_goes_on_after_the_pause_does_not_hold_it(rate: int) -> None:
    first, second = speech(rate, DIGITS_FIRST), speech(rate, DIGITS_SECOND)
    endpointer = Endpointer(rate, end_silence_ms=1200, early_ms=300)
    events = play(endpointer, [first, 0.6, second, 3.0])
    assert kinds(events) == ["SpeechStarted", "SpeechPaused", "SpeechPaused", "SpeechEnded"]
    early, late, ended = events[1], events[2], events[3]
    assert isinstance(early, SpeechPaused) and isinstance(late, SpeechPaused)
    assert isinstance(ended, SpeechEnded)
    assert len(early.pcm) < len(ended.pcm) and late.pcm == ended.pcm
    assert ended.pause_held  # held since the second pause
    # without a second pause to hand over, the end does not hold the first one
    endpointer = Endpointer(rate, end_silence_ms=1200, early_ms=300)
    events, now = play_from(0.0, endpointer, [first, 0.6, second])
    endpointer.early_ms = None
    events += play_from(now, endpointer, [3.0])[0]
    ended = events[-1]
    assert kinds(events) == ["SpeechStarted", "SpeechPaused", "SpeechEnded"]
    assert isinstance(ended, SpeechEnded) and not ended.pause_held


def test_no_early_hand_over_when_the_wait_is_no_longer(rate: int) -> None:
    events = play(Endpointer(rate, end_silence_ms=400, early_ms=400), [speech(rate), 2.0])
    assert kinds(events) == ["SpeechStarted", "SpeechEnded"]
    assert isinstance(events[1], SpeechEnded) and not events[1].pause_held

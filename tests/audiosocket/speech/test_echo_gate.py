"""The echo gate on espeak speech, frame by frame as the edge runs it: the send loop hands it
each outbound frame, inbound frames arrive 20 ms apart. The echo is the bot's audio made
quieter and later; the caller is another espeak voice. `bench/echo.py` measures the gate
over the whole grid with the VAD behind it; these tests pin its behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from audiosocket.speech import synthesize_to_pcm
from audiosocket.speech.echo_gate import EchoGate
from tests.audiosocket.speech.audio import PHRASE, SECOND_PHRASE, speech

FRAME_S = 0.02


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def pcm_of(x: np.ndarray) -> bytes:
    return np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()


def caller(rate: int) -> np.ndarray:
    said = samples(synthesize_to_pcm("Подождите, подождите", rate, voice="ru+f3"))
    loud = np.flatnonzero(np.abs(said) > 500)
    return said[loud[0] : loud[-1] + 1]


def line(
    rate: int, *, echo_db: float | None, delay_ms: int, caller_at_s: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """(what the bot sends, what comes back): a reply, its echo, maybe a caller over it."""
    bot = samples(speech(rate, PHRASE))
    total = len(bot) + rate
    outbound = np.zeros(total)
    outbound[: len(bot)] = bot
    inbound = np.zeros(total)
    if echo_db is not None:
        delay = rate * delay_ms // 1000
        inbound[delay : delay + len(bot)] += bot * 10 ** (-echo_db / 20)
    if caller_at_s is not None:
        start = int(caller_at_s * rate)
        voice = caller(rate)
        inbound[start : start + len(voice)] += voice
    return outbound, inbound


def run(
    gate: EchoGate, outbound: np.ndarray, inbound: np.ndarray, rate: int, out_rate: int
) -> np.ndarray:
    """Both streams through the gate in 20 ms frames; the inbound audio as the VAD gets it."""
    frame, out_frame = rate // 50, out_rate // 50
    passed = []
    for index in range(len(inbound) // frame):
        now = (index + 1) * FRAME_S
        sent = outbound[index * out_frame : (index + 1) * out_frame]
        gate.played(pcm_of(sent), now - FRAME_S)
        got = gate.filter(pcm_of(inbound[index * frame : (index + 1) * frame]), rate, now)
        passed.append(samples(got))
    return np.concatenate(passed)


@pytest.mark.parametrize(("echo_db", "delay_ms"), [(10, 20), (15, 120), (35, 250)])
def test_the_bots_echo_is_muted_whatever_its_level_and_delay(echo_db: int, delay_ms: int) -> None:
    outbound, inbound = line(8000, echo_db=echo_db, delay_ms=delay_ms, caller_at_s=None)
    gate = EchoGate(8000)
    passed = run(gate, outbound, inbound, 8000, 8000)
    loud = np.abs(passed) > 64  # what the VAD would score (its silence floor)
    print(f"\n{echo_db} dB/{delay_ms} ms: {int(loud.sum())} echo samples passed")
    assert loud.sum() == 0
    assert gate.delay_bins is not None
    assert abs(gate.delay_bins * 10 - delay_ms) <= 10
    assert abs(gate.gain_db + echo_db) <= 4


def test_a_caller_talking_over_the_echo_passes_unchanged() -> None:
    outbound, inbound = line(8000, echo_db=15, delay_ms=120, caller_at_s=1.5)
    passed = run(EchoGate(8000), outbound, inbound, 8000, 8000)
    start = int(1.5 * 8000)
    voice = slice(start, start + len(caller(8000)))
    kept = np.count_nonzero(passed[voice] == inbound[voice].round()) / len(passed[voice])
    print(f"\ncaller over the echo: {kept:.0%} of the caller's samples passed as they came")
    assert kept > 0.8
    assert not passed[: start - 8000].any()  # the echo before the caller: muted


def test_a_line_that_sent_nothing_while_the_bot_spoke_lets_the_caller_straight_through() -> None:
    # Asterisk sends no frames while the caller is silent: a line without echo, whose first
    # frame is the caller interrupting the greeting
    rate = 8000
    outbound, _ = line(rate, echo_db=None, delay_ms=0, caller_at_s=None)
    gate = EchoGate(rate)
    for index in range(len(outbound) // 160):
        gate.played(pcm_of(outbound[index * 160 : (index + 1) * 160]), index * FRAME_S)
        if index * FRAME_S >= 1.5:  # the caller starts talking over the bot
            voice = caller(rate)[:160]
            assert gate.filter(pcm_of(voice), rate, (index + 1) * FRAME_S) == pcm_of(voice)
            break
    assert gate.gain_db < -40  # the silent line proved there is no echo


def test_with_the_bot_silent_the_gate_passes_everything() -> None:
    gate = EchoGate(16000)
    voice = caller(16000)
    for index in range(len(voice) // 320):
        gate.played(bytes(640), index * FRAME_S)
        frame = pcm_of(voice[index * 320 : (index + 1) * 320])
        assert gate.filter(frame, 16000, (index + 1) * FRAME_S) == frame


def test_inbound_and_outbound_rates_may_differ() -> None:
    # the gate compares energies, so a 16 kHz bot over an 8 kHz line works the same
    wide = samples(speech(16000, SECOND_PHRASE))
    narrow = samples(speech(8000, SECOND_PHRASE))
    outbound = np.concatenate([wide, np.zeros(16000)])
    inbound = np.zeros(len(narrow) + 8000)
    inbound[960 : 960 + len(narrow)] = narrow * 10 ** (-15 / 20)  # 120 ms, 15 dB down
    passed = run(EchoGate(16000), outbound, inbound, 8000, 16000)
    assert not (np.abs(passed) > 64).any()


def test_the_bot_changing_rate_between_replies_keeps_its_echo_muted() -> None:
    """A dialplan line turns out to be 16 kHz after the greeting (audiosocket.line_rate): the
    bot's next reply goes out at 16 kHz, and its echo is still found where it is. (The gate
    is told the new rate so that it counts the bot's samples right; its clock would also
    recover from a wrong count, frame by frame.)"""
    gate = EchoGate(8000)
    narrow_out, narrow_in = line(8000, echo_db=15, delay_ms=120, caller_at_s=None)
    first = run(gate, narrow_out, narrow_in, 8000, 8000)
    gate.outbound_rate(16000)
    assert gate.out_rate == 16000
    wide_out, wide_in = line(16000, echo_db=15, delay_ms=120, caller_at_s=None)
    offset = (len(narrow_in) // 160 + 10) * FRAME_S  # the second reply follows the first
    frame = 16000 // 50
    passed = []
    for index in range(len(wide_in) // frame):
        now = offset + (index + 1) * FRAME_S
        gate.played(pcm_of(wide_out[index * frame : (index + 1) * frame]), now - FRAME_S)
        got = gate.filter(pcm_of(wide_in[index * frame : (index + 1) * frame]), 16000, now)
        passed.append(samples(got))
    second = np.concatenate(passed)
    assert not (np.abs(first) > 64).any() and not (np.abs(second) > 64).any()
    assert gate.delay_bins is not None and abs(gate.delay_bins * 10 - 120) <= 10
    assert abs(gate.gain_db + 15) <= 4


def test_a_stalling_send_loop_and_bursty_arrivals_do_not_let_the_echo_through() -> None:
    """The edge's event loop on a loaded box: outbound frames leave up to 8 ms off their slot,
    a stall delays the rest of the reply by 60 ms (the send clock skips slots), and inbound
    frames queue during stalls and arrive in bursts. The echo (15 dB down, 120 ms) follows
    the audio as it really left; the VAD behind the gate must not hear it."""
    rate, frame = 8000, 160
    rng = np.random.default_rng(7)
    bot = samples(speech(rate, PHRASE))
    frames_out = len(bot) // frame + 50
    sent_at = []
    shift = 0.0
    for index in range(frames_out):
        if index == 120:
            shift += 0.060  # a 70 ms stall: three slots skipped, the audio plays later
        sent_at.append(index * FRAME_S + shift - rng.uniform(0, 0.008))
    # the line: every sample of the bot plays when its frame left, and comes back 120 ms
    # later, 15 dB down; the line sends 20 ms frames on its own steady clock
    line = np.zeros(round((sent_at[-1] + 1.0) * rate))
    for index, at in enumerate(sent_at):
        piece = bot[index * frame : (index + 1) * frame]
        begin = round((at + 0.120) * rate)
        line[begin : begin + piece.size] += piece * 10 ** (-15 / 20)
    events: list[tuple[float, str, int]] = [(at, "out", i) for i, at in enumerate(sent_at)]
    for index in range(len(line) // frame):
        arrival = (index + 1) * FRAME_S + rng.uniform(0, 0.004)
        if 60 <= index % 150 < 64:  # the edge's loop stalls 80 ms: four frames at once
            arrival = (index - index % 150 + 64) * FRAME_S
        events.append((arrival, "in", index))
    events.sort()

    from audiosocket.speech import Endpointer, SpeechOnset, SpeechStarted

    gate = EchoGate(rate)
    endpointer = Endpointer(rate, onset_ms=64)
    heard = []
    for at, kind, index in events:
        if kind == "out":
            piece = bot[index * frame : (index + 1) * frame]
            gate.played(pcm_of(np.pad(piece, (0, frame - piece.size))), at)
        else:
            passed = gate.filter(pcm_of(line[index * frame : (index + 1) * frame]), rate, at)
            heard += [
                e for e in endpointer.feed(passed, at) if isinstance(e, SpeechOnset | SpeechStarted)
            ]
    endpointer.close()
    assert heard == [], f"the echo paused the bot: {heard} (muted {gate.muted_bins} bins)"

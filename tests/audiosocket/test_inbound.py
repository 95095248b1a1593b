"""The inbound budget: audio faster than real time, beyond a 5 s burst, ends that connection
only. The budget on its own (pure, clock passed in), then the bare server over real TCP: a
flooding peer is cut off with `too_fast` while the call beside it keeps receiving its frames.
"""

from __future__ import annotations

import asyncio

import pytest

from audiosocket.inbound import InboundBudget, InboundLimits, InboundTooFast
from audiosocket.protocol import Audio, encode
from audiosocket.server import HangupReason
from tests.audiosocket.test_server import Peer, edge

FRAME_16K = 640  # bytes of one 20 ms frame at 16 kHz


def test_real_time_audio_never_runs_out() -> None:
    budget = InboundBudget(0.0)
    for n in range(50 * 600):  # ten minutes of 20 ms frames, each on time
        budget.audio(FRAME_16K, 16000, n * 0.02)


def test_a_burst_up_to_the_allowance_passes_and_beyond_it_is_cut() -> None:
    budget = InboundBudget(0.0, InboundLimits(burst_s=2.0))
    for _ in range(100):  # two seconds of audio arriving at once (a stalled reader catching up)
        budget.audio(FRAME_16K, 16000, 1.0)
    with pytest.raises(InboundTooFast, match="faster than real time"):
        budget.audio(FRAME_16K, 16000, 1.0)


def test_sustained_overspeed_is_cut_once_the_allowance_is_spent() -> None:
    budget = InboundBudget(0.0)
    now, sent = 0.0, 0
    with pytest.raises(InboundTooFast):
        while True:  # 10 % faster than real time
            budget.audio(FRAME_16K, 16000, now)
            sent += 1
            now += 0.02 / 1.1
    # 5 s of allowance at 0.1 s gained per second of audio: ~55 s of audio (2,750 frames)
    assert 2600 < sent < 2900


def test_silence_earns_no_more_than_the_allowance() -> None:
    budget = InboundBudget(0.0)
    # An hour without frames (the caller silent, no transmit_silence) banks only 5 s.
    for _ in range(250):
        budget.audio(FRAME_16K, 16000, 3600.0)
    with pytest.raises(InboundTooFast):
        budget.audio(FRAME_16K, 16000, 3600.0)


def test_keys_faster_than_anyone_presses_them_are_cut() -> None:
    budget = InboundBudget(0.0)
    for n in range(200):  # ten keys a second for 20 s
        budget.control(n * 0.1)
    with pytest.raises(InboundTooFast, match="control messages"):
        for _ in range(30):
            budget.control(20.0)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        InboundLimits(burst_s=0)


async def test_the_server_cuts_a_flooding_peer_and_keeps_the_other_call() -> None:
    async with edge(16000) as e:
        calm = await Peer.connect(e.server.port)
        flooder = await Peer.connect(e.server.port)
        flooded = await e.handler(flooder.call_id)
        frame = Audio(16000, b"\x10\x27" * 320)
        # 10 s of audio at once: 5 s are allowed, the rest ends the connection.
        await flooder.send_raw(encode(frame) * 500)
        assert await flooder.closed_by_server()
        async with asyncio.timeout(10):
            await flooded.ended.wait()
        assert flooded.reasons == [HangupReason.TOO_FAST]
        # The budget stopped it before the handler got more than the allowance.
        assert 250 <= len(flooded.audio) <= 251
        # The calm call still gets its frames.
        frames = await calm.frames(10)
        assert len(frames) == 10
        assert not (await e.handler(calm.call_id)).reasons
        await calm.close()

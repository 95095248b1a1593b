"""A dialplan caller at 16 kHz (`Dial(AudioSocket/…/c(slin16))`, kind 0x12) is answered at
16 kHz through the real edge (no ARI; the stack of test_edge_e2e.py): at once when its line
sends frames from the start, from the first reply on when it sends nothing until the caller
speaks. An 8 kHz caller (the AudioSocket() app) stays at 8 kHz: the peer refuses any other
rate from the edge, as an Asterisk older than 20.17 would.
"""

from __future__ import annotations

import asyncio
import io
import wave

from audiosocket.pacing import frame_bytes
from audiosocket.simulator.peer import AudioSocketPeer
from tests.audiosocket.conftest import EdgeCalls
from tests.audiosocket.test_edge_e2e import QUIET_MS, TURN_TIMEOUT_S, turn
from tests.support.fake_openai_audio import FakeSpeech
from tests.workflows.scripts import say

WIDEBAND_FRAME = frame_bytes(16000)  # 640 bytes
# A phone's line noise before the caller says anything: quiet, far below speech.
LINE_NOISE_S = 0.2


def transcribed_rates(speech: FakeSpeech, call_id: str) -> list[int]:
    """The sample rate of every utterance the edge sent to STT for the call."""
    rates = []
    for request in speech.transcriptions:
        if request.call_id == call_id:
            with wave.open(io.BytesIO(request.audio)) as audio:
                rates.append(audio.getframerate())
    return rates


def assert_wideband_speech(peer: AudioSocketPeer, since: float) -> None:
    assert set(peer.frame_rates(since=since, loud=True)) == {16000}
    assert set(peer.frame_sizes(since=since, loud=True)) == {WIDEBAND_FRAME}


async def test_a_wideband_line_that_sends_from_the_start_is_greeted_at_16_khz(
    edge_calls: EdgeCalls,
) -> None:
    loop = asyncio.get_running_loop()
    dialled = loop.time()
    peer, session = await edge_calls.dial(rate=16000, llm=[say("Слушаю вас.")], heard=["Алло"])
    await peer.play(bytes(int(LINE_NOISE_S * 16000) * 2))  # frames flow before any word
    greeting = await peer.wait_for_bot_speech(since=dialled, timeout_s=TURN_TIMEOUT_S)
    await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
    print(f"\nwideband line: greeted {(greeting - dialled) * 1000:.0f} ms after connecting")
    assert session.outbound.rate == 16000
    assert_wideband_speech(peer, dialled)  # the whole greeting
    # silence went out at 8 kHz until the caller's first frame, then only 16 kHz
    assert [(before, after) for _, before, after in peer.rate_changes] == [(8000, 16000)]
    assert peer.rate_changes[0][0] < greeting

    await turn(peer, "Алло")
    assert session.workflow is not None and session.workflow.last_reply is not None
    assert session.workflow.last_reply.text == "Слушаю вас."
    assert_wideband_speech(peer, dialled)
    assert transcribed_rates(edge_calls.speech, session.call_id) == [16000]
    peer.raise_if_failed()
    edge_calls.speech.assert_consumed(session.call_id)


async def test_a_wideband_caller_silent_until_speaking_is_answered_at_16_khz_from_the_reply(
    edge_calls: EdgeCalls,
) -> None:
    """No frames before the caller speaks (no transmit_silence): the greeting cannot wait
    for them, so it plays at 8 kHz after a short bounded wait; the reply is wideband."""
    loop = asyncio.get_running_loop()
    dialled = loop.time()
    peer, session = await edge_calls.dial(rate=16000, llm=[say("Слушаю вас.")], heard=["Алло"])
    greeting = await peer.wait_for_bot_speech(since=dialled, timeout_s=TURN_TIMEOUT_S)
    await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
    print(f"\nsilent wideband line: greeted {(greeting - dialled) * 1000:.0f} ms after connecting")
    assert set(peer.frame_rates(loud=True)) == {8000}  # the greeting
    assert peer.rate_changes == []

    spoke = loop.time()
    await turn(peer, "Алло")
    assert session.workflow is not None and session.workflow.last_reply is not None
    assert session.workflow.last_reply.text == "Слушаю вас."
    reply = peer.first_speech_after(spoke)
    assert reply is not None
    assert_wideband_speech(peer, spoke)
    assert [(before, after) for _, before, after in peer.rate_changes] == [(8000, 16000)]
    assert spoke < peer.rate_changes[0][0] < reply  # between the greeting and the reply
    assert session.outbound.rate == 16000
    peer.raise_if_failed()


async def test_a_narrowband_caller_stays_at_8_khz(edge_calls: EdgeCalls) -> None:
    peer, session = await edge_calls.dial(rate=8000, llm=[say("Слушаю вас.")], heard=["Алло"])
    await peer.play(bytes(int(LINE_NOISE_S * 8000) * 2))
    await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
    await turn(peer, "Алло")
    assert session.workflow is not None and session.workflow.last_reply is not None
    assert session.workflow.last_reply.text == "Слушаю вас."
    peer.raise_if_failed()  # any 0x12 frame would have failed the call
    assert set(peer.frame_rates()) == {8000} and peer.rate_changes == []
    assert session.outbound.rate == 8000
    assert transcribed_rates(edge_calls.speech, session.call_id) == [8000]

"""The end of a caller's turn through the real edge (the stack of test_edge_e2e.py): it
follows what the bot asked. An order number dictated in two groups with a 900 ms pause
between them is one turn when the bot asked for it; a "да" after the read-back ends the
turn with the short wait.

The waits are the production defaults (END_OF_TURN_*), except the ordinary one, which the
e2e edge shortens to 450 ms as before, and early transcripts, off but in their own test.
What the session reports as the wait that ended each turn is asserted (deterministic); the
caller-side timings are printed, not asserted (a loaded 2-core box runs the edge, the worker
and the fakes on one event loop).
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import wave

from temporalio.client import Client

from audiosocket.end_of_turn import EndOfTurnWaits
from audiosocket.metrics import TurnLatency
from audiosocket.session import EdgeCallSession
from core.settings import Settings
from core.vocabulary import Expectation
from store_api.seed.personas import NO_ORDERS
from tests.audiosocket import test_edge_e2e as e2e
from tests.audiosocket.conftest import TEST_END_OF_TURN, EdgeCalls, caller_speech, running_edge
from tests.audiosocket.test_edge_e2e import QUIET_MS, TURN_TIMEOUT_S, speak, turn, update_inputs
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.fake_openai_audio import FakeSpeech
from tests.workflows.scripts import COURIER_TVERSKAYA, pick_product, say, search

ari_rig = e2e.ari_rig  # the FakeAri + ARI edge fixture (16 kHz Stasis legs)

DEFAULTS = EndOfTurnWaits()
DICTATION_PAUSE_S = 0.9  # issue 11: "сто два… ноль сорок пять" with a 900 ms pause
YES_WPM = 100


def speech_turns(session: EdgeCallSession) -> list[TurnLatency]:
    return [t for t in session.latencies if t.kind == "speech"]


def audio_seconds(wav: bytes) -> float:
    with wave.open(io.BytesIO(wav)) as audio:
        frames, rate = int(audio.getnframes()), int(audio.getframerate())
    return frames / rate


async def test_an_order_number_dictated_with_a_pause_is_one_turn(ari_rig: e2e.AriRig) -> None:
    number = "сто два ноль сорок пять"
    _, peer, session = await ari_rig.place(
        NO_ORDERS.phone,
        llm=[say("Назовите, пожалуйста, номер заказа."), say("Спасибо, проверяю.")],
        heard=["Где мой заказ?", number],
    )
    await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
    await turn(peer, "Где мой заказ?")
    assert session.workflow is not None and session.workflow.last_reply is not None
    assert session.workflow.last_reply.expects is Expectation.DIGITS

    first = await asyncio.to_thread(caller_speech, "Сто два", peer.rate)
    second = await asyncio.to_thread(caller_speech, "ноль сорок пять", peer.rate)
    loop = asyncio.get_running_loop()
    await peer.play(first)
    paused = loop.time()
    await asyncio.sleep(DICTATION_PAUSE_S)  # no frames: Asterisk without transmit_silence
    resumed = loop.time()
    await peer.play(second)
    stopped = loop.time()
    answered = await peer.wait_for_bot_speech(since=paused, timeout_s=TURN_TIMEOUT_S)
    await peer.wait_until_bot_quiet(QUIET_MS, since=stopped, timeout_s=TURN_TIMEOUT_S)
    print(
        f"\ndictation: paused {(resumed - paused) * 1000:.0f} ms between the groups; "
        f"the bot answered {(answered - stopped) * 1000:.0f} ms after the last one"
    )
    assert answered > stopped, "the bot answered inside the pause: the number was cut"

    said = [turn["text"] for turn in await update_inputs(session, "caller_said")]
    assert said == ["Где мой заказ?", number]  # one turn with the whole number
    assert session.workflow.last_reply.text == "Спасибо, проверяю."
    transcribed = [t for t in ari_rig.speech.transcriptions if t.call_id == session.call_id]
    whole = (len(first) + len(second)) / (2 * peer.rate)
    assert audio_seconds(transcribed[-1].audio) >= whole, "STT did not get both groups"
    assert speech_turns(session)[-1].end_of_turn_ms == DEFAULTS.digits_ms
    ari_rig.speech.assert_consumed(session.call_id)


async def test_a_yes_after_the_readback_ends_the_turn_with_the_short_wait(
    ari_rig: e2e.AriRig,
) -> None:
    _, peer, session = await ari_rig.place(
        NO_ORDERS.phone,
        llm=[
            search("гречка"),
            say("Есть гречка ядрица. Сколько пачек?"),
            pick_product(2),
            say("Доставить курьером или заберёте сами?"),
            Reply.tool("update_order_delivery", COURIER_TVERSKAYA),
            Reply.tool("confirm_order"),  # the read-back; its plain "да" the workflow confirms
        ],
        heard=["Хочу заказать гречку", "Две пачки", "Курьером, Тверская семь", "Да"],
    )
    await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
    workflow = session.workflow
    assert workflow is not None
    answered_after: dict[str, float] = {}
    for phrase, expects in (
        ("Хочу заказать гречку", Expectation.DIGITS),  # "Сколько пачек?"
        ("Две пачки", Expectation.FREE),
        ("Курьером, Тверская семь", Expectation.YES_NO),  # the read-back
        ("Да", Expectation.FREE),
    ):
        if phrase == "Да":
            # at a caller's pace (~260 ms): espeak's fast "да" (75 ms) is too short for
            # speech to start at all (120 ms)
            await peer.play(await asyncio.to_thread(caller_speech, "Да.", peer.rate, YES_WPM))
            stopped = asyncio.get_running_loop().time()
        else:
            stopped = await speak(peer, phrase)
        answered = await peer.wait_for_bot_speech(since=stopped, timeout_s=TURN_TIMEOUT_S)
        await peer.wait_until_bot_quiet(QUIET_MS, since=stopped, timeout_s=TURN_TIMEOUT_S)
        answered_after[phrase] = answered - stopped
        assert workflow.last_reply is not None
        assert workflow.last_reply.expects is expects, (phrase, workflow.last_reply)
    assert workflow.last_reply is not None and workflow.last_reply.stage == "CONFIRMED"

    waits = [t.end_of_turn_ms for t in speech_turns(session)]
    # the greeting's open question, "Сколько пачек?", "Доставить …?", the read-back
    assert waits == [450, DEFAULTS.digits_ms, 450, DEFAULTS.yes_no_ms], waits
    print(
        "\nend of the caller's speech → the bot's first audio (peer clock): "
        + ", ".join(f"{p!r} {s * 1000:.0f} ms" for p, s in answered_after.items())
    )
    ari_rig.llm.assert_consumed(session.call_id)
    ari_rig.speech.assert_consumed(session.call_id)


async def test_early_transcripts_are_kept_when_the_caller_stopped_and_dropped_when_not(
    call_worker: Client, call_settings: Settings, fake_llm: FakeLLM, fake_speech: FakeSpeech
) -> None:
    """With END_OF_TURN_EARLY_STT_MS the utterance is transcribed at a 300 ms pause: a caller
    who stopped gets the turn from that transcript (no second request); a caller who goes
    on after the pause never has the half they said sent to the workflow."""
    number = "сто два ноль сорок пять"
    early = dataclasses.replace(TEST_END_OF_TURN, early_stt_ms=DEFAULTS.early_stt_ms)
    async with running_edge(call_worker, call_settings, fake_speech, end_of_turn=early) as edge:
        calls = EdgeCalls(edge, fake_llm, fake_speech, call_settings)
        peer, session = await calls.dial(
            llm=[say("Назовите, пожалуйста, номер заказа."), say("Спасибо, проверяю.")],
            # the first group, transcribed at the dictation's pause, is never used
            heard=["Где мой заказ?", "сто два", number],
        )
        try:
            await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
            await turn(peer, "Где мой заказ?")
            first = await asyncio.to_thread(caller_speech, "Сто два", peer.rate)
            second = await asyncio.to_thread(caller_speech, "ноль сорок пять", peer.rate)
            await peer.play(first)
            await asyncio.sleep(DICTATION_PAUSE_S)
            await peer.play(second)
            stopped = asyncio.get_running_loop().time()
            await peer.wait_for_bot_speech(since=stopped, timeout_s=TURN_TIMEOUT_S)
            await peer.wait_until_bot_quiet(QUIET_MS, since=stopped, timeout_s=TURN_TIMEOUT_S)
        finally:
            await peer.hang_up()
    said = [turn["text"] for turn in await update_inputs(session, "caller_said")]
    assert said == ["Где мой заказ?", number]
    requests = [t for t in fake_speech.transcriptions if t.call_id == session.call_id]
    assert len(requests) == 3  # one per turn, and the one thrown away at the pause
    assert [t.early_stt for t in speech_turns(session)] == [True, True]
    fake_speech.assert_consumed(session.call_id)

"""Interruptions through the real edge (the stack of test_edge_e2e.py): a cough pauses the
bot and the reply goes on; the bot's own voice echoed back by the line interrupts nothing;
a caller talking over the bot (on the same echoing line) cuts it at once and the workflow
learns how much of the reply was heard.

The simulated line returns the bot's voice with `LineEcho` (the peer the simulator uses):
15 dB quieter and 120 ms later, a typical handset. Timing bounds are loose where the box's
load shows (the edge, the worker and the fakes share one event loop on 2 cores); the
measured values are printed, and `voiceorder bench echo` measures the gate on its own.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid

from audiosocket.session import EdgeCallSession
from audiosocket.simulator.line_echo import LineEcho
from audiosocket.simulator.peer import AudioSocketPeer, SpeechSpan
from tests.audiosocket.conftest import EdgeCalls, caller_speech
from tests.audiosocket.test_edge_e2e import (
    QUIET_MS,
    TURN_TIMEOUT_S,
    speak,
    turn,
    update_inputs,
)
from tests.workflows.scripts import say

HANDSET_ECHO = LineEcho(attenuation_db=15, delay_ms=120)
LONG_REPLY = (
    "Доставка работает каждый день с девяти утра до девяти вечера. "
    "Курьер привезёт заказ в выбранный двухчасовой интервал. "
    "Стоимость доставки зависит от суммы заказа и района. "
    "Самовывоз из любого пункта выдачи бесплатный."
)
# The longest silence a caller may hear inside a reply that a cough interrupted (issue 11).
MAX_DEAD_AIR_S = 1.5
# A reply counts as finished only after a silence longer than any allowed pause inside it.
REPLY_OVER_MS = 2500


async def dial(
    calls: EdgeCalls, *, echo: LineEcho | None, llm: list[object], heard: list[str]
) -> tuple[AudioSocketPeer, EdgeCallSession]:
    """A dialplan call (8 kHz) whose line returns the bot's voice as `echo` says."""
    audiosocket_id = uuid.uuid4()
    call_id = f"call-{audiosocket_id}"
    calls.llm.script(call_id, llm)  # type: ignore[arg-type]
    calls.speech.script(call_id, heard)
    peer = await AudioSocketPeer.connect(
        "127.0.0.1", calls.edge.port, audiosocket_id, rate=8000, echo=echo
    )
    calls.peers.append(peer)
    return peer, await calls.edge.session(audiosocket_id)


def longest_gap(spans: list[SpeechSpan]) -> float:
    return max((b.start - a.end for a, b in itertools.pairwise(spans)), default=0.0)


GREETING_QUIET_MS = 1500


async def start_long_reply(peer: AudioSocketPeer) -> float:
    """Greeting, then the caller asks; returns when the long reply started. The greeting is
    several sentences, and on a loaded box a sentence's synthesis can leave more than
    QUIET_MS between them: the caller then spoke over the greeting (a second barge-in in
    the counts), so it waits for a longer quiet here."""
    await peer.wait_until_bot_quiet(GREETING_QUIET_MS, timeout_s=TURN_TIMEOUT_S)
    return await ask_for_the_long_reply(peer)


async def ask_for_the_long_reply(peer: AudioSocketPeer) -> float:
    """The caller asks; returns when the long reply started."""
    asked = await speak(peer, "Расскажите о доставке")
    return await peer.wait_for_bot_speech(since=asked, timeout_s=TURN_TIMEOUT_S)


def barge_in_counts(calls: EdgeCalls) -> tuple[int, int]:
    """(barge-ins, false barge-ins) the edge counted so far."""
    return calls.edge.metrics.barge_ins, calls.edge.metrics.false_barge_ins


async def test_a_cough_pauses_the_reply_and_it_resumes_without_dead_air(
    edge_calls: EdgeCalls,
) -> None:
    peer, session = await dial(
        edge_calls,
        echo=None,
        llm=[say(LONG_REPLY), say("Пожалуйста.")],
        heard=["Расскажите о доставке", "", "Спасибо"],  # the cough is transcribed as nothing
    )
    reply_started = await start_long_reply(peer)
    await asyncio.sleep(1.5)
    cough = asyncio.get_running_loop().time()
    await speak(peer, "Кхм")
    spans = await peer.wait_until_bot_quiet(
        REPLY_OVER_MS, since=reply_started, timeout_s=TURN_TIMEOUT_S
    )
    gap = longest_gap(spans)
    resumed = [s.start for s in spans if s.start > cough]
    assert resumed, f"the reply did not resume after the cough: {spans}"
    print(f"\ncough: the bot resumed {resumed[0] - cough:.2f} s after the cough began")
    print(f"cough: longest silence inside the reply {gap:.2f} s")
    assert gap < MAX_DEAD_AIR_S, spans
    metrics = edge_calls.edge.metrics
    assert (metrics.false_barge_ins, metrics.barge_ins) == (1, 0)
    # the reply went on from its interrupted sentence: at least the whole reply was played
    whole = len(caller_speech(LONG_REPLY, 8000))  # a yardstick only: bot and caller differ
    assert sum(s.duration for s in spans) > 0.5 * whole / 16000

    await turn(peer, "Спасибо")
    played = (await update_inputs(session, "caller_said"))[1]["previous_playback"]
    assert played["played_to_end"] is True  # the cough took nothing from the reply
    edge_calls.speech.assert_consumed(session.call_id)


async def test_a_click_too_short_for_speech_resumes_at_once_without_stt(
    edge_calls: EdgeCalls,
) -> None:
    peer, session = await dial(
        edge_calls,
        echo=None,
        llm=[say(LONG_REPLY)],
        heard=["Расскажите о доставке"],
    )
    reply_started = await start_long_reply(peer)
    await asyncio.sleep(1.0)
    await speak(peer, "Кхе")  # ~160 ms: a voice onset that never becomes speech
    spans = await peer.wait_until_bot_quiet(
        REPLY_OVER_MS, since=reply_started, timeout_s=TURN_TIMEOUT_S
    )
    print(f"\nclick: longest silence inside the reply {longest_gap(spans):.2f} s")
    assert longest_gap(spans) < 0.6, spans  # a pause of a few frames, then on where it stopped
    metrics = edge_calls.edge.metrics
    assert (metrics.false_barge_ins, metrics.barge_ins) == (1, 0)
    edge_calls.speech.assert_consumed(session.call_id)  # no transcription was asked for


async def test_the_bots_own_echo_does_not_interrupt_the_greeting(edge_calls: EdgeCalls) -> None:
    dry, _ = await dial(edge_calls, echo=None, llm=[], heard=[])
    wet, session = await dial(edge_calls, echo=HANDSET_ECHO, llm=[say("Слушаю.")], heard=["Алло"])
    dry_spans, wet_spans = await asyncio.gather(
        dry.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S),
        wet.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S),
    )
    dry_s = sum(s.duration for s in dry_spans)
    wet_s = sum(s.duration for s in wet_spans)
    print(f"\ngreeting: {dry_s:.2f} s on a clean line, {wet_s:.2f} s with echo at -15 dB/120 ms")
    assert abs(wet_s - dry_s) < 0.3, (dry_spans, wet_spans)
    assert longest_gap(wet_spans) < 0.5, wet_spans
    metrics = edge_calls.edge.metrics
    assert (metrics.barge_ins, metrics.false_barge_ins) == (0, 0)
    # the echoing line is still a line: the caller is heard and answered over it
    await turn(wet, "Алло")
    assert session.workflow is not None and session.workflow.last_reply is not None
    assert session.workflow.last_reply.text == "Слушаю."
    edge_calls.speech.assert_consumed(session.call_id)  # the echo was never transcribed


async def dial_past_an_undisturbed_greeting(
    calls: EdgeCalls, *, echo: LineEcho, llm: list[object], heard: list[str]
) -> tuple[AudioSocketPeer, EdgeCallSession]:
    """`dial`, then wait until the greeting has played with no barge-in; dialled once more
    when the simulated echo cut it.

    Why that can happen here and not on a line: the simulated line times its echo by when
    this test's event loop handed it the bot's frames, and that loop also runs the edge, the
    worker and the fakes. A stall of it longer than ~230 ms on a loaded box moves the echo
    past the gate's 350 ms window, where it is taken for the caller (a phone's echo does not
    move with anybody's stalls). That the greeting's echo interrupts nothing is what
    test_the_bots_own_echo_does_not_interrupt_the_greeting asserts; here the greeting is
    only the way to the reply the caller talks over."""
    for _ in range(2):
        before = barge_in_counts(calls)
        peer, session = await dial(calls, echo=echo, llm=llm, heard=heard)
        await peer.wait_until_bot_quiet(GREETING_QUIET_MS, timeout_s=TURN_TIMEOUT_S)
        if barge_in_counts(calls) == before:
            return peer, session
        print("\nthe simulated echo cut the greeting (a stall of the test's loop): dialling again")
        await peer.hang_up()
    raise AssertionError("the simulated echo cut the greeting twice")


async def test_a_caller_talking_over_the_bot_on_an_echoing_line_cuts_it(
    edge_calls: EdgeCalls,
) -> None:
    """Target (dialog.md): bot audio stops within 200 ms of the caller's onset; measured here
    ~100 ms. Asserted below 350 ms: this edge shares its event loop with the worker and the
    fakes on a loaded 2-core box."""
    peer, session = await dial_past_an_undisturbed_greeting(
        edge_calls,
        echo=HANDSET_ECHO,
        llm=[say(LONG_REPLY), say("Слушаю вас.")],
        heard=["Расскажите о доставке", "Подождите"],
    )
    # counted before this call's reply: a call dialled again left its greeting's cut in them
    barge_ins, false_barge_ins = barge_in_counts(edge_calls)
    interruption = await asyncio.to_thread(caller_speech, "Подождите, подождите", peer.rate)
    reply_started = await ask_for_the_long_reply(peer)
    await asyncio.sleep(1.0)
    loop = asyncio.get_running_loop()
    onset = loop.time()
    await peer.play(interruption)
    stopped = loop.time()
    cut = next(s for s in peer.speech_spans(since=reply_started) if s.end > onset - 0.1)
    after = cut.end - onset
    print(f"\nover echo: bot audio stopped {after * 1000:.0f} ms after the caller's onset")
    assert after < 0.35, f"bot kept talking {after:.3f} s into the caller's speech"
    await peer.wait_for_bot_speech(since=stopped, timeout_s=TURN_TIMEOUT_S)
    await peer.wait_until_bot_quiet(QUIET_MS, since=stopped, timeout_s=TURN_TIMEOUT_S)
    assert session.workflow is not None and session.workflow.last_reply is not None
    assert session.workflow.last_reply.text == "Слушаю вас."

    played = (await update_inputs(session, "caller_said"))[1]["previous_playback"]
    heard_ms = (onset - reply_started) * 1000
    print(f"over echo: reported played_ms={played['played_ms']}, peer heard ~{heard_ms:.0f} ms")
    assert played["played_to_end"] is False
    assert abs(played["played_ms"] - heard_ms) < 400, (played, heard_ms)
    now_counted = barge_in_counts(edge_calls)
    assert (now_counted[0] - barge_ins, now_counted[1] - false_barge_ins) == (1, 0)

"""CallRunner in-process against the edge-like server: turns, latency, barge-in, DTMF,
silence, both hang-ups, and the timeline it prints. The caller's voice here is a tone per
phrase (espeak itself is exercised by the CLI tests)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from audiosocket.simulator.caller import (
    CallReport,
    CallRunner,
    Outcome,
    PhraseBook,
    Timeline,
    summary_lines,
)
from audiosocket.simulator.peer import AudioSocketPeer
from audiosocket.simulator.script import parse_script
from tests.audiosocket.simulator.edge_like import TimedHandler, edge_like, tone


class ToneVoice:
    """Speaks every phrase as a tone of 50 ms per character, in uneven chunks."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str]] = []

    async def synthesize(self, text: str, rate: int, *, call_id: str) -> AsyncIterator[bytes]:
        self.calls.append((text, rate, call_id))
        pcm = tone(0.05 * len(text), rate, hz=300.0)
        for offset in range(0, len(pcm), 1000):
            yield pcm[offset : offset + 1000]
            await asyncio.sleep(0)


@dataclass
class Ran:
    lines: list[str]
    report: CallReport
    handler: TimedHandler
    voice: ToneVoice

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


async def run(
    script: str,
    *,
    greeting_s: float = 0.0,
    reply_s: float = 0.0,
    barge_in: bool = False,
    hang_up_after_replies: int | None = None,
    reply_timeout_s: float = 5.0,
) -> Ran:
    voice = ToneVoice()
    lines: list[str] = []
    steps = parse_script(script)
    async with edge_like(
        16000,
        greeting_s=greeting_s,
        reply_s=reply_s,
        barge_in=barge_in,
        hang_up_after_replies=hang_up_after_replies,
    ) as server:
        call_id = uuid.uuid4()
        phrases = PhraseBook(voice, str(call_id))
        await phrases.prepare(steps, 16000)
        peer = await AudioSocketPeer.connect("127.0.0.1", server.port, call_id)
        timeline = Timeline(asyncio.get_running_loop().time(), lines.append)
        runner = CallRunner(
            peer, steps, phrases, timeline, quiet_ms=500, reply_timeout_s=reply_timeout_s
        )
        report = await runner.run()
        handler = await server.handler(call_id)
        await asyncio.wait_for(handler.ended.wait(), 10)
    lines.extend(summary_lines(report))
    print("\n".join(lines))
    return Ran(lines, report, handler, voice)


async def test_a_scripted_call_with_dtmf_barge_in_silence_and_hang_up() -> None:
    script = "Алло, это магазин?\n#dtmf 12\n#bargein 0.1\nСтоп\n#wait 0.2\n#silence 0.5\n#hangup\n"
    ran = await run(script, greeting_s=0.4, reply_s=0.6, barge_in=True)
    report, handler, voice, text = ran.report, ran.handler, ran.voice, ran.text
    assert report.outcome is Outcome.COMPLETED
    assert report.steps_done == report.steps_total == 6
    assert [t.label for t in report.turns] == ["Алло, это магазин?", "DTMF 12", "Стоп"]
    # Every turn was answered, after the edge's 300 ms of caller silence.
    assert all(t.latency is not None and 0.25 <= t.latency <= 3.0 for t in report.turns), [
        t.latency for t in report.turns
    ]
    barge = report.turns[2]
    assert barge.barge_in and barge.bot_stopped_at is not None
    assert barge.bot_stopped_at - barge.start <= 1.0
    assert handler.cuts  # the edge saw caller audio while it spoke
    assert [d for _, d in handler.digits] == ["1", "2"]
    # Phrases were synthesised once, up front, at the call's rate.
    assert [(t, r) for t, r, _ in voice.calls] == [("Алло, это магазин?", 16000), ("Стоп", 16000)]
    for expected in (
        "caller: Алло, это магазин?  (0.9 s)",
        "caller presses 1",
        "caller presses 2",
        "caller (barge-in): Стоп",
        "bot stopped",
        "caller waits 0.2 s",
        "caller stays silent for 0.5 s",
        "caller hangs up",
        "s after the caller",
        "summary: 3 caller turns, 3 answered; response latency p50",
        "barge-in: the bot stopped",
        "bot stream:",
        "steps: 6 of 6; completed",
    ):
        assert expected in text, expected
    assert ran.lines[0].lstrip().startswith("+0.") and "bot speaks (" in ran.lines[0]
    assert "bot hung up" not in text
    stamps = [float(line.split("s", 1)[0]) for line in ran.lines if line.lstrip().startswith("+")]
    assert stamps == sorted(stamps) and len(stamps) >= 12  # the timeline is in time order


async def test_the_bot_hanging_up_before_the_script_ends() -> None:
    script = "Первая фраза\nВторая фраза\nТретья\n"
    ran = await run(script, greeting_s=0.2, reply_s=0.3, hang_up_after_replies=1)
    report, text = ran.report, ran.text
    assert report.outcome is Outcome.BOT_HUNG_UP_EARLY
    assert report.outcome.exit_code == 3
    assert report.steps_done == 1
    assert "bot hung up (sent 0x00)" in text
    assert "the call ended before script line 2 could run" in text


async def test_a_script_without_hangup_hangs_up_after_the_last_reply() -> None:
    ran = await run("Алло\n", greeting_s=0.2, reply_s=0.2)
    report, handler, text = ran.report, ran.handler, ran.text
    assert report.outcome is Outcome.COMPLETED and report.outcome.exit_code == 0
    assert "script done; the caller hangs up" in text
    assert text.count("bot speaks") == 2
    assert handler.reasons and handler.reasons[0].value == "caller"


async def test_a_bot_that_never_answers_is_reported_not_waited_for_forever() -> None:
    ran = await run("Алло\n", reply_timeout_s=1.0)
    report, text = ran.report, ran.text
    assert "(the bot did not start speaking within 1 s)" in text
    assert report.outcome is Outcome.COMPLETED
    assert report.turns[0].latency is None
    assert "summary: 1 caller turns, 0 answered" in text


async def test_a_bot_that_talks_past_the_reply_timeout_is_reported() -> None:
    ran = await run("Алло\n#hangup\n", greeting_s=2.5, reply_timeout_s=1.0)
    assert "(the bot did not finish its reply within 1 s)" in ran.text
    # The caller went on and talked over the long greeting.
    assert ran.report.outcome is Outcome.COMPLETED
    assert "(while the caller talks)" not in ran.text  # the greeting began before the caller


async def test_a_reply_after_the_callers_next_turn_answers_only_that_turn() -> None:
    # The caller goes on 0.1 s after the first phrase, before the edge's 0.3 s end-of-turn
    # silence: the one reply comes after the second phrase and is not the first one's answer.
    ran = await run("Алло\nАлло\n#wait 1\n", reply_s=0.3, reply_timeout_s=0.1)
    first, second = ran.report.turns
    assert first.latency is None
    assert second.latency is not None and second.latency >= 0.25
    assert "summary: 2 caller turns, 1 answered" in ran.text

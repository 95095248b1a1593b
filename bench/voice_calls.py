"""B4's simulated callers: one call per kind of turn, over real AudioSocket into an edge
process, with the fakes scripted for the call (what STT hears, what the model answers).

A measured turn runs from the end of the caller's speech (the moment the last frame of the
phrase left the simulated Asterisk: a frame is sent when its 20 ms have been captured) to
the first frame of bot speech arriving there. Every measured reply's words differ from
every other's (a number in them), so no reply comes out of the edge's TTS cache.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from audiosocket.simulator.peer import AudioSocketPeer
from audiosocket.speech import synthesize_to_pcm
from tests.support.fake_llm import FakeLLM, Reply, last_tool_result, stream_tokens
from tests.support.fake_openai_audio import FakeSpeech

RATE = 8000  # the dialplan AudioSocket() path
CALLER_WORDS_PER_MINUTE = 220
# The bot has finished its reply once it has been quiet this long (TTS leaves no such gaps).
QUIET_MS = 400
TURN_TIMEOUT_S = 60.0
COURIER = {
    "type": "courier",
    "address": {"city": "Москва", "street": "Тверская", "house": "7", "apartment": "12"},
}
CONTACT_PHONE = "+79857778899"


class Kind(StrEnum):
    PLAIN = "plain answer"
    TOOL = "tool turn"
    GUIDED = "guided turn"
    YES = "yes after read-back"


@dataclass(frozen=True)
class ModelTiming:
    """The fake model's configured speed."""

    first_token_ms: float
    tokens_per_s: float

    def token_ms(self, index: int) -> float:
        """When token `index` (from 0) of a reply is written, from the request."""
        return self.first_token_ms + index * 1000 / self.tokens_per_s

    def whole_ms(self, reply: Reply) -> float:
        return self.token_ms(len(stream_tokens(reply)) - 1)

    def first_sentence_ms(self, reply: Reply) -> float:
        """When the token ending the reply's first sentence is written."""
        tokens = stream_tokens(reply)
        end = next(i for i, token in enumerate(tokens) if token.rstrip().endswith((".", "?", "!")))
        return self.token_ms(end)


@dataclass
class Measured:
    """One measured turn: end of the caller's speech → first bot audio at the caller."""

    call_id: str
    speech_turn: int  # which of the call's speech turns (from 1): its `turn_latency` record
    ms: float
    model_ms: float  # the model's own time to the reply's first sentence (floor part)


@dataclass
class Caller:
    """Places calls into one edge and plays turns."""

    port: int
    llm: FakeLLM
    stt: FakeSpeech
    model: ModelTiming
    measured: list[Measured] = field(default_factory=list)

    async def call(
        self,
        replies: Sequence[Reply],
        heard: Sequence[str],
        turns: Callable[[_Call], Awaitable[None]],
    ) -> None:
        call_id = uuid.uuid4()
        self.llm.script(f"call-{call_id}", replies)
        self.stt.script(f"call-{call_id}", heard)
        peer = await AudioSocketPeer.connect("127.0.0.1", self.port, call_id, rate=RATE)
        try:
            await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)  # greeting
            await turns(_Call(self, peer, f"call-{call_id}"))
        finally:
            await peer.hang_up()


@dataclass
class _Call:
    caller: Caller
    peer: AudioSocketPeer
    call_id: str
    speech_turns: int = 0

    async def say(self, text: str, *, model_ms: float | None = None) -> None:
        """The caller says `text`, then waits until the bot has answered and fallen quiet;
        with `model_ms` the turn is measured."""
        self.speech_turns += 1
        pcm = await asyncio.to_thread(caller_speech, text)
        await self.peer.play(pcm)
        ended = self.peer.sent[-1][0]
        first = await self.peer.wait_for_bot_speech(since=ended, timeout_s=TURN_TIMEOUT_S)
        await self.peer.wait_until_bot_quiet(QUIET_MS, since=ended, timeout_s=TURN_TIMEOUT_S)
        if model_ms is not None:
            measured = Measured(self.call_id, self.speech_turns, (first - ended) * 1000, model_ms)
            self.caller.measured.append(measured)


@functools.cache
def caller_speech(text: str) -> bytes:
    """The caller's phrase: espeak Russian (real speech for the VAD), silence trimmed."""
    pcm = synthesize_to_pcm(text, RATE, words_per_minute=CALLER_WORDS_PER_MINUTE)
    samples = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 500)
    return samples[loud[0] : loud[-1] + 1].tobytes()


# --- the kinds ------------------------------------------------------------------------------


def plain_answer(n: int) -> Reply:
    return Reply.text(
        f"Да, гречка есть, партия {n}. Пачка девятьсот грамм стоит сто двенадцать рублей, "
        "привезём завтра с девяти утра до девяти вечера. Курьер позвонит за час до приезда, "
        "а самовывоз из пункта выдачи бесплатный. Сколько пачек вам положить?"
    )


async def plain_call(caller: Caller, first: int, turns: int) -> None:
    """`turns` measured turns of one model step each: the answer is text."""
    replies = [plain_answer(first + i) for i in range(turns)]

    async def play(call: _Call) -> None:
        for reply in replies:
            await call.say("Расскажите про гречку", model_ms=caller.model.first_sentence_ms(reply))

    await caller.call(replies, ["Расскажите про гречку"] * turns, play)


def tool_answer(n: int) -> Reply:
    return Reply.text(
        f"Нашла гречку ядрицу, номер {n} в каталоге. Пачка стоит сто двенадцать рублей, "
        "в наличии много. Сколько пачек положить?"
    )


async def tool_call(caller: Caller, first: int, turns: int) -> None:
    """`turns` measured turns of two model steps around one Store API search."""
    search = Reply.tool("search_products", {"query": "гречка"})
    steps = [[search, tool_answer(first + i)] for i in range(turns)]

    async def play(call: _Call) -> None:
        for search_step, answer in steps:
            model_ms = caller.model.whole_ms(search_step) + caller.model.first_sentence_ms(answer)
            await call.say("Есть гречка?", model_ms=model_ms)

    await caller.call([r for pair in steps for r in pair], ["Есть гречка?"] * turns, play)


async def guided_call(caller: Caller, first: int, turns: int) -> None:
    """A guided call (the edge runs with AGENT=guided): the caller asks for a new order, then
    each round names the product, picks the first of the ones offered and says how many; the
    measured turn is the quantity, answered "Записала: …, N штук. Что-нибудь ещё?" (its first
    sentence names the quantity, so it is synthesised, not taken from the TTS cache)."""
    quantities = [2 + (first + i) % 88 for i in range(turns)]  # stock allows up to ~90
    heard = ["Новый заказ"]
    for quantity in quantities:
        heard += ["гречка", "первый", str(quantity)]

    async def play(call: _Call) -> None:
        await call.say("Новый заказ")
        for _ in quantities:
            await call.say("Гречку")  # → the products found, "первый, второй или третий?"
            await call.say("Первую")  # → "Сколько штук?"
            await call.say("Пять", model_ms=0.0)

    await caller.call([], heard, play)


def _pick_buckwheat(quantity: int) -> Reply:
    def build(request: dict[str, Any]) -> Reply:
        items = [i for i in last_tool_result(request, "search_products")["items"] if i["in_stock"]]
        return Reply.tool(
            "create_order_draft",
            {"items": [{"product_id": items[0]["product_id"], "quantity": quantity}]},
        )

    return Reply.dynamic(build)


async def yes_call(caller: Caller, number: int) -> None:
    """A new order up to the workflow's read-back, then the measured "да": no model step
    (the workflow confirms a plain yes to its read-back itself), the confirmation at the
    Store API, the workflow's own words (with the order's number: never the same)."""
    quantity = 1 + number % 9
    replies = [
        Reply.tool("set_contact_phone", {"phone": CONTACT_PHONE}),
        Reply.tool("search_products", {"query": "гречка"}),
        Reply.text("Есть гречка ядрица. Сколько пачек?"),
        _pick_buckwheat(quantity),
        Reply.text("Доставить курьером?"),
        Reply.tool("update_order_delivery", COURIER),
        Reply.tool("confirm_order"),  # the read-back (its words differ with the quantity)
    ]
    heard = [
        f"Хочу гречку, мой номер {CONTACT_PHONE}",
        "Да",
        f"{quantity} пачек",
        "Курьером: Москва, Тверская семь, квартира двенадцать",
        "Да",
    ]

    async def play(call: _Call) -> None:
        # A lone espeak "да" is too short for the VAD to call it speech: the audio says more
        # than what STT "hears".
        await call.say("Хочу гречку, мой номер восемь девятьсот восемьдесят пять")
        await call.say("Да, верно")
        await call.say("Две пачки")
        await call.say("Курьером, Тверская семь")
        await call.say("Да, верно", model_ms=0.0)

    await caller.call(replies, heard, play)

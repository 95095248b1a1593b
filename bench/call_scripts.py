"""What the simulated callers of B2 say, and what the fake model answers the LLM agent.

Both agents take a caller through a whole order — a product, a quantity, courier delivery,
the read-back, "yes" — and then a few more turns, ten in all: every kind of turn a real
order has (Store API tools, the read-back the workflow speaks itself, the confirmation,
audit writes, the SMS after it), not ten copies of the cheapest one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from core.vocabulary import AgentMode
from tests.support.fake_llm import Reply
from tests.workflows.scripts import COURIER_TVERSKAYA, pick_product, say, search

MAX_TURNS = 10


@dataclass(frozen=True)
class Turn:
    caller: str
    model: tuple[Reply, ...] = ()  # the fake model's answers to this turn (LLM agent only)


ASK_MORE = "Что-нибудь ещё?"

LLM_TURNS = (
    Turn(
        "Здравствуйте, хочу заказать гречку",
        (search("гречка"), say("Есть гречка ядрица. Сколько пачек?")),
    ),
    Turn("Две пачки", (pick_product(2), say("Доставить курьером или заберёте сами?"))),
    Turn(
        "Курьером: Москва, Тверская семь, квартира двенадцать",
        # the second call makes the workflow read the order back (the model cannot)
        (Reply.tool("update_order_delivery", COURIER_TVERSKAYA), Reply.tool("confirm_order")),
    ),
    # a plain yes to the read-back: the workflow confirms without asking the model
    Turn("Да, всё верно"),
    Turn("А молоко у вас есть?", (search("молоко"), say(f"Есть молоко. {ASK_MORE}"))),
    Turn("А сахар?", (search("сахар"), say(f"Есть сахар. {ASK_MORE}"))),
    Turn("А чай чёрный?", (search("чай"), say(f"Есть чай. {ASK_MORE}"))),
    Turn("А рис?", (search("рис"), say(f"Есть рис. {ASK_MORE}"))),
    Turn("Когда привезут заказ?", (Reply.tool("get_order_status"), say("Завтра. " + ASK_MORE))),
    Turn("Нет, спасибо, это всё", (Reply.tool("end_call", {"reason": "заказ оформлен"}),)),
)

GUIDED_TURNS = tuple(
    Turn(line)
    for line in (
        "Хочу заказать гречку",
        "Первую",
        "Две пачки",
        "Это всё",
        "Курьером",
        "Москва, Тверская семь, квартира двенадцать",
        "Завтра",
        "Да, всё верно",
        "Какой статус моего заказа?",
        "Нет, спасибо",
    )
)

SCRIPTS: dict[AgentMode, tuple[Turn, ...]] = {
    AgentMode.LLM: LLM_TURNS,
    AgentMode.GUIDED: GUIDED_TURNS,
}


class ModelRequests:
    """How many requests the fake model answered for each call: a turn's model time is that
    many times the fake's latency."""

    def __init__(self) -> None:
        self._count: Counter[str] = Counter()

    def __getitem__(self, call_id: str) -> int:
        return self._count[call_id]

    def counted(self, call_id: str, reply: Reply) -> Reply:
        def answer(request: dict[str, Any]) -> Reply:
            self._count[call_id] += 1
            return reply.fn(request) if reply.fn is not None else reply

        return Reply.dynamic(answer)

    def script(self, call_id: str, turns: tuple[Turn, ...]) -> list[Reply]:
        return [self.counted(call_id, reply) for turn in turns for reply in turn.model]

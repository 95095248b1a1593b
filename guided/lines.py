"""What the guided agent says, in Russian: short, one question at a time, the answer expected
named in the question ("скажите «да» или «нет»").

Numbers go out already spoken (prices, order numbers, product names), and the workflow's
`normalise_for_tts` — the LLM path's post-processing — runs over every line as well.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from core.vocabulary import Stage
from guided.memory import Candidate, GuidedMemory, Item, Question
from russian.dates import say_calendar_date
from russian.money import say_money
from russian.numbers import count_phrase
from russian.order_numbers import say_order_number
from russian.products import say_product_name

_POSITIONS = ("первый", "второй", "третий")

QUESTIONS: dict[Question, str] = {
    Question.NEED: "Хотите узнать о заказе или оформить новый?",
    Question.ANYTHING_ELSE: "Могу ещё чем-нибудь помочь?",
    Question.ORDER_NUMBER: "Назовите номер заказа.",
    Question.CHOOSE_ORDER: "О каком заказе рассказать: первом, втором или третьем?",
    Question.CONTACT_PHONE: "Назовите номер телефона, на который оформлять заказ.",
    Question.PHONE_READBACK: "Номер верный? Скажите «да» или «нет».",
    Question.PRODUCT: "Какой товар вы хотите заказать?",
    Question.CHOOSE_PRODUCT: "Какой из них: первый, второй или третий?",
    Question.QUANTITY: "Сколько штук?",
    Question.MORE_ITEMS: "Что-нибудь ещё? Если это всё, скажите «всё».",
    Question.DELIVERY_TYPE: "Доставить курьером или заберёте сами в пункте выдачи?",
    Question.ADDRESS: "Назовите адрес доставки: улицу, дом и квартиру.",
    Question.CITY: "В каком городе?",
    Question.DATE: "На какой день доставить? Можно сказать «завтра» или «как можно скорее».",
    Question.PICKUP_PLACE: "Где вам удобно забрать заказ? Назовите улицу.",
    Question.CHOOSE_PICKUP: "Какой пункт удобнее: первый, второй или третий?",
    Question.READY_TO_CONFIRM: "Прочитать заказ для подтверждения?",
    Question.READBACK: "Если всё верно, скажите «да». Если нет — скажите, что изменить.",
    Question.CHANGE: "Что изменить: товары, количество или доставку?",
}

# Said once when a call moves from the LLM to the guided agent (the caller is told why
# the bot suddenly sounds different).
SWITCHED = "У меня технические трудности, поэтому дальше я буду задавать короткие вопросы."

GREETING_QUESTION = QUESTIONS[Question.NEED]


def question(which: Question) -> str:
    return QUESTIONS[which]


def reprompt(memory: GuidedMemory, stage: Stage) -> list[str]:
    """After a silence: the question the caller has not answered yet."""
    if stage is Stage.AWAITING_CONFIRMATION:
        pending = QUESTIONS[Question.READBACK]
    else:
        pending = " ".join(memory.asked) or QUESTIONS[memory.question]
    return ["Вы меня слышите?", pending]


def not_understood(which: Question) -> str:
    return f"Извините, не поняла. {QUESTIONS[which]}"


def listing(candidates: Sequence[Candidate], prefix: str) -> str:
    named = "; ".join(
        f"{_POSITIONS[index]} — {say_product_name(candidate.name)}"
        for index, candidate in enumerate(candidates[:3])
    )
    return f"{prefix}: {named}."


def which_one(count: int, noun: str = "Какой из них") -> str:
    """ "Какой из них: первый или второй?" — only the positions that were read out."""
    positions = _POSITIONS[: max(2, min(count, 3))]
    return f"{noun}: {', '.join(positions[:-1])} или {positions[-1]}?"


def products_found(candidates: Sequence[Candidate]) -> str:
    return listing(candidates, "Нашла несколько") + " " + which_one(len(candidates))


def alternatives(missing: str, candidates: Sequence[Candidate]) -> str:
    return (
        f"К сожалению, {say_product_name(missing)} закончился. "
        + listing(candidates, "Могу предложить")
        + " Какой взять вместо него?"
    )


def sold_out(missing: str) -> str:
    return (
        f"К сожалению, {say_product_name(missing)} закончился, и замены я не нашла. "
        "Назовите другой товар или скажите «отмена»."
    )


def product_quantity(candidate: Candidate, price: int | None) -> str:
    priced = f", {say_money(price)}" if price is not None else ""
    return f"{say_product_name(candidate.name)}{priced}. {QUESTIONS[Question.QUANTITY]}"


def nothing_found(heard: str) -> str:
    return f"Не нашла товар «{heard}». Назовите его, пожалуйста, по-другому."


def only_out_of_stock(name: str) -> str:
    return f"{say_product_name(name)} сейчас нет в наличии. Назовите другой товар."


def only_left(name: str, available: int) -> str:
    return (
        f"{say_product_name(name)} осталось только {count_phrase(available, 'штука')}. "
        "Сколько взять?"
    )


def item_added(item: Item) -> str:
    return (
        f"Записала: {say_product_name(item.name)}, {count_phrase(item.quantity, 'штука')}. "
        + QUESTIONS[Question.MORE_ITEMS]
    )


def draft_ready(total: int) -> str:
    return f"Товары на {say_money(total)}. {QUESTIONS[Question.DELIVERY_TYPE]}"


def pickup_points(candidates: Sequence[Candidate]) -> str:
    return (
        listing(candidates, "Есть такие пункты выдачи")
        + " "
        + which_one(len(candidates), "Какой пункт удобнее")
    )


def house_please(street: str) -> str:
    return f"{street}, а какой дом и квартира?"


def city_not_served(city: str, served: Sequence[str]) -> str:
    where = ", ".join(served[:3])
    also = f" Курьер ездит в города: {where}." if where else ""
    return (
        f"В город {city} курьер не доставляет.{also} Назовите другой адрес или скажите «самовывоз»."
    )


def dates_available(earliest: dt.date, latest: dt.date) -> str:
    return (
        f"Курьер может приехать с {say_calendar_date(earliest)} по "
        f"{say_calendar_date(latest, 'nomn')}. "
        "На какой день доставить?"
    )


def cancel_needs_operator() -> str:
    return "Оформленный заказ отменяет оператор. Соединить вас с оператором?"


def pickup_not_found() -> str:
    return "Не нашла там пункта выдачи. Назовите другую улицу или скажите «курьер»."


def orders_listed(orders: Sequence[tuple[str, str]], *, first: bool = True) -> str:
    """Three orders at most (a caller cannot scroll back); "и ещё два" says more exist."""
    said = "; ".join(
        f"{_POSITIONS[index]} — номер {say_order_number(number)}, {status}"
        for index, (number, status) in enumerate(orders[:3])
    )
    more = len(orders) - 3
    rest = f" И ещё {count_phrase(more, 'заказ')}: скажите «остальные»." if more > 0 else ""
    opening = f"У вас {count_phrase(len(orders), 'заказ')} в работе" if first else "Дальше"
    return f"{opening}: {said}.{rest} " + which_one(min(len(orders), 3), "Какой заказ")


def no_active_orders() -> str:
    return "Активных заказов у вас нет. " + QUESTIONS[Question.ANYTHING_ELSE]


def with_anything_else(sentence: str) -> str:
    return f"{sentence} {QUESTIONS[Question.ANYTHING_ELSE]}"


def cancelled() -> str:
    return "Хорошо, заказ отменён. " + QUESTIONS[Question.ANYTHING_ELSE]


def nothing_to_cancel() -> str:
    return "Хорошо, ничего не оформляю. " + QUESTIONS[Question.ANYTHING_ELSE]


def lookup_limit() -> str:
    """Failed order look-ups reached their cap: no more numbers, a person instead."""
    return (
        "Не получается найти заказ по этим номерам, больше искать по номеру я не могу. "
        "Соединить вас с оператором?"
    )


def store_trouble() -> str:
    return "Извините, сервис магазина сейчас не отвечает. Могу соединить с оператором."


def phone_not_understood() -> str:
    return "Не разобрала номер. Продиктуйте его, пожалуйста, полностью, с восьмёрки."


def phone_again() -> str:
    return "Хорошо, продиктуйте номер ещё раз."


def say_yes_to_confirm() -> str:
    return "Чтобы оформить заказ, скажите «да». Если что-то не так, скажите «нет»."


def not_now() -> str:
    return "Сейчас этого сделать нельзя. " + QUESTIONS[Question.ANYTHING_ELSE]

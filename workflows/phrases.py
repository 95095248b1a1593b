"""What the bot says on its own (not through the LLM): greeting, read-backs, apologies.

Deterministic: the same state gives the same words, so replays match.
"""

from __future__ import annotations

import datetime as dt

from russian.order_numbers import say_order_number
from russian.phones import say_phone
from russian.readback import orders_overview, readback, status_sentence
from store_api.contract import Order, OrderSummary

SHOP = "Продуктовая лавка"


def greeting(name: str | None, active: list[OrderSummary], today: dt.date) -> list[str]:
    # "Анна Смирнова" → "Здравствуйте, Анна!": the first name is how people are greeted.
    first_name = name.split()[0] if name and name.split() else None
    hello = f"Здравствуйте, {first_name}!" if first_name else f"Здравствуйте! Магазин «{SHOP}»."
    sentences = [hello]
    if len(active) == 1:
        sentences.append(status_sentence(active[0], today))
    elif len(active) > 1:
        sentences.extend(orders_overview(active, today)[:1])
    sentences.append("Чем могу помочь?")
    return sentences


def order_readback(order: Order, today: dt.date) -> list[str]:
    return readback(order, today)


def price_changed() -> str:
    return "Цена изменилась, пока мы говорили."


def confirmed(order: Order, *, sms: bool) -> list[str]:
    sentences = [f"Готово: заказ номер {say_order_number(order.number)} оформлен."]
    if sms:
        sentences.append("Подтверждение придёт в SMS.")
    sentences.append("Могу ещё чем-нибудь помочь?")
    return sentences


def confirm_postponed() -> list[str]:
    return [
        "Сервис заказов сейчас не отвечает.",
        "Я подтвержу заказ, как только он заработает, и пришлю SMS. Можно класть трубку.",
    ]


def phone_readback(phone: str) -> list[str]:
    return [f"Записываю номер: {say_phone(phone)}.", "Верно?"]


def transfer() -> list[str]:
    return ["Соединяю вас с оператором. Пожалуйста, оставайтесь на линии."]


def goodbye() -> list[str]:
    return ["Спасибо за звонок! До свидания."]


def cancelled() -> list[str]:
    return ["Хорошо, заказ отменён.", "Могу ещё чем-нибудь помочь?"]


def agent_unavailable() -> list[str]:
    return [
        "Извините, у меня сейчас технические трудности.",
        "Могу соединить вас с оператором — скажите «оператор» или нажмите ноль.",
    ]


def too_many_errors() -> list[str]:
    return [
        "Извините, у меня не получается.",
        "Соединить вас с оператором? Скажите «оператор» или нажмите ноль.",
    ]


def reprompt(silences: int) -> list[str]:
    if silences == 1:
        return ["Вы меня слышите? Чем могу помочь?"]
    return ["Алло? Если вам удобнее, нажмите ноль — и я соединю с оператором."]


def silence_goodbye() -> list[str]:
    return ["Вас не слышно. Перезвоните, пожалуйста, когда будет удобно. До свидания!"]

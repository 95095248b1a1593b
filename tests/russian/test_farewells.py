"""russian/farewells.py: a caller taking leave, told apart from a product or an address."""

from __future__ import annotations

import pytest

from russian.farewells import closes_the_conversation, is_farewell


@pytest.mark.parametrize(
    "text",
    [
        "До свидания",
        "до свиданья!",
        "Спасибо, до свидания.",
        "Всё, спасибо, до свидания",
        "мне пора",
        "Ладно, мне пора, всего доброго",
        "Пока",
        "Ну ладно, пока-пока",
        "Спасибо большое, всего хорошего",
        "ДО СВИДАНИЯ",
    ],
)
def test_farewells(text: str) -> None:
    assert is_farewell(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Хочу гречку, до свидания",  # a request beside it: the agent answers the request
        "улица Свиданий, дом два",
        "Всё, спасибо",  # may complete a list of items: the agent decides
        "пока не надо",
        "Пока всё",  # "that is all for now"
        "подождите",
        "до свидания " * 6,  # a wall of words is no reply
    ],
)
def test_not_farewells(text: str) -> None:
    assert not is_farewell(text)


@pytest.mark.parametrize(
    ("text", "closes"),
    [
        ("Всё, спасибо", True),
        ("Нет, больше ничего не надо, спасибо", True),
        ("нет, спасибо", True),
        ("Всё", False),  # "that's all" completes a list; thanks or "nothing" close
        ("Тверская семь, всё", False),
        ("Спасибо, курьером", False),
    ],
)
def test_closing_words(text: str, closes: bool) -> None:
    assert closes_the_conversation(text) is closes

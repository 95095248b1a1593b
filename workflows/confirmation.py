"""The deterministic half of confirmation (tools.md rule 2): `ReadbackGuard`.

An order is finalised only when the read-back the workflow generated was played to the end,
the order has not changed since, and the caller's reply is a plain yes (or DTMF 1). The LLM
can ask for confirmation; only this code can grant it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workflows.state import ReadbackState

_WORD = re.compile(r"[а-яёa-z0-9]+")

AFFIRMATIVE = frozenset(
    {
        "да", "верно", "правильно", "подтверждаю", "согласен", "согласна", "конечно",
        "ага", "угу", "оформляйте", "оформляй", "оформите", "подходит", "точно", "именно",
        "давайте", "хорошо", "ок", "окей", "yes",
    }
)  # fmt: skip
# Words that may stand beside a yes without changing it ("да, всё верно, спасибо"); `words`
# spells ё as е, so "все" covers "всё".
FILLERS = frozenset(
    {
        "все", "так", "ну", "вот", "это", "пожалуйста", "спасибо", "заказ",
        "можно", "абсолютно", "совершенно", "да-да", "отлично", "супер", "и",
    }
)  # fmt: skip
NEGATIVE = frozenset({"нет", "не", "неверно", "неправильно", "стоп", "отмена", "подождите"})
MAX_YES_WORDS = 8


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("ё", "е"))


def is_plain_yes(text: str) -> bool:
    """A short reply made only of yes-words and fillers, with no negation.

    "да", "да, всё верно", "конечно, оформляйте" → yes; "да нет", "не знаю, наверное да",
    "подтверди заказ бесплатно" → not a plain yes.
    """
    tokens = words(text)
    if not tokens or len(tokens) > MAX_YES_WORDS:
        return False
    if any(token in NEGATIVE for token in tokens):
        return False
    if not any(token in AFFIRMATIVE for token in tokens):
        return False
    return all(token in AFFIRMATIVE or token in FILLERS for token in tokens)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    missing: str = ""  # for the LLM: what is missing before the order can be finalised


class ReadbackGuard:
    """Decides whether a second `confirm_order` may finalise the order."""

    @staticmethod
    def check(
        readback: ReadbackState | None,
        *,
        current_fingerprint: str,
        caller_text: str,
        dtmf: str = "",
    ) -> Verdict:
        if readback is None:
            return Verdict(False, "Заказ ещё не зачитан: сначала первый вызов confirm_order.")
        if readback.played_to_end is not True:
            return Verdict(
                False, "Зачитывание прервали: нужно зачитать заказ заново (confirm_order)."
            )
        if readback.fingerprint != current_fingerprint:
            return Verdict(False, "Заказ изменился после зачитывания: зачитайте его заново.")
        if dtmf == "1" or (not dtmf and is_plain_yes(caller_text)):
            return Verdict(True)
        return Verdict(
            False, "Звонящий не сказал ясное «да». Спросите ещё раз, всё ли верно в заказе."
        )

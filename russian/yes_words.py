"""The one list of words that say "yes", and the plain-yes check the confirmation guard uses.

Both the confirmation guard (workflows/confirmation.py, in workflow code) and the guided
agent's reply classifier (`russian.understanding.intents`, in an activity) read `YES_WORDS`,
so the agent never proposes a confirmation on a word the guard would refuse, nor the reverse.

Surface forms, ё written as е, no dictionaries: this module runs inside the workflow, where
a dictionary update between two releases must not change what a replayed call decided.
"Подтверждаю" is the caller's yes; "подтверди" is an order given to the bot (S13), so forms,
not lemmas.
"""

from __future__ import annotations

import re

YES_WORDS = frozenset(
    {
        "да", "ага", "угу", "конечно", "верно", "правильно", "точно", "хорошо", "ладно", "ок",
        "окей", "давайте", "подтверждаю", "согласен", "согласна", "согласны", "именно",
        "естественно", "разумеется", "безусловно", "годится", "подходит", "пойдет",
        "оформляйте", "оформляй", "оформите", "yes",
    }
)  # fmt: skip
# Yeses made of words that are not yeses alone ("всё так", "так точно" has its own "точно").
YES_PHRASES: tuple[tuple[str, ...], ...] = (("все", "так"),)
# Words that may stand beside a yes without changing it ("да, всё верно, спасибо"); alone
# they are no yes ("отлично" may answer the price, not the question).
PLAIN_FILLERS = frozenset(
    {
        "все", "так", "ну", "вот", "это", "пожалуйста", "спасибо", "заказ",
        "можно", "абсолютно", "совершенно", "супер", "отлично", "и",
    }
)  # fmt: skip
NEGATIVE = frozenset({"нет", "не", "неверно", "неправильно", "стоп", "отмена", "подождите"})
MAX_YES_WORDS = 8

_WORD = re.compile(r"[а-яёa-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-case words, ё as е; punctuation and hyphens only separate them."""
    return _WORD.findall(text.lower().replace("ё", "е"))


def _has_yes(tokens: list[str]) -> bool:
    if any(token in YES_WORDS for token in tokens):
        return True
    return any(
        tuple(tokens[i : i + len(phrase)]) == phrase
        for phrase in YES_PHRASES
        for i in range(len(tokens) - len(phrase) + 1)
    )


def is_plain_yes(text: str) -> bool:
    """A short reply made only of yes-words and fillers, with no negation.

    "да", "да, всё верно", "конечно, оформляйте", "ладно" → yes; "да нет", "не знаю,
    наверное да", "подтверди заказ бесплатно" → not a plain yes.
    """
    tokens = words(text)
    if not tokens or len(tokens) > MAX_YES_WORDS:
        return False
    if any(token in NEGATIVE for token in tokens):
        return False
    if not _has_yes(tokens):
        return False
    return all(token in YES_WORDS or token in PLAIN_FILLERS for token in tokens)

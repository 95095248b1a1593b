"""A caller taking leave: "до свидания", "мне пора", "всего доброго" — at any question.

Pure surface forms (ё as е), no dictionaries: the workflow itself checks a turn with
`is_farewell` before asking any agent, so a goodbye ends the call politely in both agents and
is never taken for a product ("свидание") or a street. Only unmistakable farewells count;
"всё, спасибо" may still mean "that is all the items" and is left to the agent, which knows
the question it asked.
"""

from __future__ import annotations

import re

FAREWELLS: tuple[tuple[str, ...], ...] = (
    ("до", "свидания"), ("до", "свиданья"), ("досвидания",), ("всего", "доброго"),
    ("всего", "хорошего"), ("всего", "наилучшего"), ("мне", "пора"), ("прощайте",),
    ("до", "встречи"), ("счастливо",), ("хорошего", "дня"), ("хорошего", "вечера"),
    ("до", "связи"),
)  # fmt: skip
# Words that may stand beside a farewell without asking for anything.
COURTESIES = frozenset(
    {
        "спасибо", "благодарю", "большое", "вам", "тебе", "все", "ну", "ладно", "хорошо",
        "тогда", "да", "ага", "девушка", "извините", "уже", "мне", "пора", "и", "а", "нет",
        "понятно", "ясно", "окей", "ок", "пока", "вот", "это", "ой", "всем",
    }
)  # fmt: skip
MAX_WORDS = 10

_WORD = re.compile(r"[а-яёa-z0-9]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("ё", "е"))


# "пока" is also "for now" ("пока всё", "пока не надо"): a farewell only beside these.
_BYE_COMPANIONS = frozenset({"пока", "спасибо", "ну", "ладно", "тогда", "вам", "всем", "ой", "да"})


def is_farewell(text: str) -> bool:
    """A short reply that takes leave and asks for nothing else."""
    words = _words(text)
    if not words or len(words) > MAX_WORDS:
        return False
    if "пока" in words and all(word in _BYE_COMPANIONS for word in words):
        return True
    covered: set[int] = set()
    for phrase in FAREWELLS:
        for start in range(len(words) - len(phrase) + 1):
            if tuple(words[start : start + len(phrase)]) == phrase:
                covered.update(range(start, start + len(phrase)))
    if not covered:
        return False
    return all(i in covered or word in COURTESIES for i, word in enumerate(words))


# "всё, спасибо", "нет, больше ничего не надо, спасибо": closing words that end a
# conversation where no list is being gathered (the agent decides where that is).
CLOSING = frozenset(
    {
        "все", "спасибо", "благодарю", "больше", "ничего", "не", "надо", "нужно", "это",
        "хватит", "ну", "ладно", "тогда", "пожалуйста", "нет", "вам", "большое",
    }
)  # fmt: skip
_THANKS_OR_NOTHING = frozenset({"спасибо", "благодарю", "ничего"})


def closes_the_conversation(text: str) -> bool:
    """Closing words only, with a thanks or a "nothing (more)"."""
    words = _words(text)
    return (
        bool(words)
        and all(word in CLOSING for word in words)
        and any(word in _THANKS_OR_NOTHING for word in words)
    )

"""What a short reply means: yes, no, cancel, operator, repeat — or nothing certain.

The lexicons are lemmas (pymorphy3), so one entry covers "отмените", "отменить", "отмена".
A yes-word right before a no ("да нет", "конечно нет") belongs to the no; a word after "не"
("не верно", "не надо оператора") turns into a no; hedges ("наверное", "не знаю") and long
replies with other content keep a yes from counting. Conflicting signals give UNKNOWN: the
guided dialog asks again rather than guess.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence

from russian.understanding._text import Token, tokens

Pattern = tuple[str, ...]


class Intent(enum.StrEnum):
    YES = "yes"
    NO = "no"
    CANCEL = "cancel"
    OPERATOR = "operator"
    REPEAT = "repeat"
    UNKNOWN = "unknown"


# Verbs in the forms that carry a yes: "подтверждаю" is the caller's yes, "подтверди" is an
# order given to the bot (prompt injection, S13), so surface forms, not lemmas.
YES: tuple[Pattern, ...] = (
    ("да",), ("ага",), ("угу",), ("конечно",), ("верно",), ("правильно",), ("точно",),
    ("хорошо",), ("ладно",), ("ок",), ("окей",), ("давайте",), ("подтверждаю",),
    ("согласный",), ("именно",), ("естественно",), ("разумеется",), ("безусловно",),
    ("все", "так"), ("годится",), ("подходит",), ("пойдет",), ("оформляйте",), ("оформляй",),
    ("оформите",), ("отлично",), ("yes",),
)  # fmt: skip
NO: tuple[Pattern, ...] = (
    ("нет",), ("неа",), ("нету",), ("не", "надо"), ("не", "нужно"), ("не", "нужный"),
    ("не", "хотеть"), ("не", "будем"), ("не", "буду"), ("неверно",), ("неправильно",),
    ("не", "так"), ("не", "то"), ("ни", "в", "коем", "случае"), ("подождать",), ("погодить",),
    ("стоп",), ("ошибка",), ("ошибиться",), ("отнюдь",), ("не", "совсем"), ("no",),
)  # fmt: skip
CANCEL: tuple[Pattern, ...] = (
    ("отмена",), ("отменить",), ("отменять",), ("передумать",), ("отказаться",),
    ("отказываться",), ("аннулировать",), ("отбой",),
)  # fmt: skip
# "не надо" / "не нужно" with one of these in the same clause cancels the whole thing.
NEED: frozenset[str] = frozenset({"надо", "нужно", "нужный", "хотеть", "быть", "стоить"})
WHOLE_ORDER: frozenset[str] = frozenset(
    {"ничего", "заказ", "заказывать", "заказать", "оформлять", "оформить", "покупать", "брать"}
)
OPERATOR: tuple[Pattern, ...] = (
    ("оператор",), ("человек",), ("живой",), ("менеджер",), ("консультант",), ("специалист",),
    ("сотрудник",), ("администратор",), ("диспетчер",), ("соединить",), ("переключить",),
)  # fmt: skip
# "не хочу говорить с роботом" asks for a person by refusing the machine.
MACHINE: frozenset[str] = frozenset({"робот", "бот", "автоответчик", "автомат"})
REPEAT: tuple[Pattern, ...] = (
    ("повторить",), ("повторять",), ("еще", "раз"), ("не", "расслышать"), ("не", "понять"),
    ("не", "услышать"), ("не", "слышать"), ("плохо", "слышно"), ("не", "слышно"),
    ("что", "вы", "сказать"), ("что", "сказать"), ("как", "вы", "сказать"), ("переспросить",),
    ("прослушать",), ("что", "что"), ("сколько", "сколько"), ("еще", "разок"),
    ("что", "вы", "говорить"), ("что", "говорить"),
)  # fmt: skip
# A reply made only of these is a request to hear it again: "что?", "а?", "извините?".
QUERY_WORDS: frozenset[str] = frozenset({"что", "чего", "как", "а", "алло", "ась", "сколько"})
QUERY_COMPANIONS: frozenset[str] = frozenset(
    {"простить", "простите", "извинить", "извините", "прошу", "прощение", "ой", "вы", "там"}
)
HEDGES: tuple[Pattern, ...] = (
    ("наверное",), ("наверно",), ("может",), ("возможно",), ("вроде",), ("не", "знать"),
    ("не", "уверенный"), ("не", "уверить"), ("казаться",), ("скорее",), ("пожалуй",),
    ("думать",), ("подумать",), ("сомневаться",), ("хм",), ("если",), ("но",),
    ("в", "принцип"), ("наверняка",),
)  # fmt: skip
# Words that may stand beside a yes without adding a request of their own.
FILLERS: frozenset[str] = frozenset(
    {
        "ну", "вот", "это", "пожалуйста", "спасибо", "заказ", "все", "так", "и", "я", "мне",
        "вы", "можно", "абсолютно", "совершенно", "супер", "девушка", "слушать", "а", "уж",
        "же", "оформлять", "оформить", "он", "она", "было", "быть", "конечно", "ой",
    }
)  # fmt: skip
# More words than this besides the lexicon make a "yes" a reply with content (a new request,
# a condition): the dialog should not take it as a plain yes.
MAX_OTHER_WORDS_WITH_YES = 3
_NE_A = re.compile(r"(?<![а-яё])не-а(?![а-яё])", re.IGNORECASE)
_NEGATORS = ("не", "без")
# "не всё верно", "не совсем так": "не" one word before the yes still denies it.
_NEGATION_SOFTENERS = ("все", "совсем", "очень", "вполне")
# A question beside a yes ("да, а когда привезут?") needs an answer, not a confirmation.
QUESTION_WORDS: frozenset[str] = frozenset(
    {"когда", "где", "сколько", "почему", "зачем", "какой", "куда", "откуда", "как"}
)


def _matches(words: Sequence[Token], pattern: Pattern) -> list[int]:
    """Start indexes where `pattern` matches consecutive words of one clause."""
    found = []
    for start in range(len(words) - len(pattern) + 1):
        window = words[start : start + len(pattern)]
        if window[0].clause != window[-1].clause:
            continue
        if all(word.is_(part) for word, part in zip(window, pattern, strict=True)):
            found.append(start)
    return found


def _spans(words: Sequence[Token], patterns: Sequence[Pattern]) -> list[tuple[int, int]]:
    return [
        (start, start + len(pattern)) for pattern in patterns for start in _matches(words, pattern)
    ]


def _negated(words: Sequence[Token], start: int, end: int) -> bool:
    """ "не отменяйте", "не надо оператора", "без оператора", "отменять не надо"."""
    clause = words[start].clause
    before = [word for word in words[max(0, start - 2) : start] if word.clause == clause]
    if before and before[-1].is_(*_NEGATORS):
        return True
    if len(before) == 2 and before[0].is_("не") and before[1].is_(*NEED, *_NEGATION_SOFTENERS):
        return True
    after = [word for word in words[end : end + 2] if word.clause == clause]
    return len(after) == 2 and after[0].is_("не") and after[1].is_(*NEED)


def _split(
    words: Sequence[Token], patterns: Sequence[Pattern]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Matches of `patterns`, as (plain, negated)."""
    plain: list[tuple[int, int]] = []
    negated: list[tuple[int, int]] = []
    for start, end in _spans(words, patterns):
        # A pattern that starts with "не" carries its own negation.
        own = words[start].is_("не")
        (negated if not own and _negated(words, start, end) else plain).append((start, end))
    return plain, negated


def _refuses_machine(words: Sequence[Token]) -> bool:
    """ "не хочу с роботом", "с роботом не хочу", "надоел этот робот"."""
    for word in words:
        if word.is_(*MACHINE):
            same_clause = [w for w in words if w.clause == word.clause and w is not word]
            if any(w.is_("не", "надоесть", "устать") for w in same_clause):
                return True
    return False


def _cancels_everything(words: Sequence[Token]) -> bool:
    """ "ничего не надо", "не надо ничего", "заказ не нужен", "не буду заказывать"."""
    for index in range(len(words) - 1):
        if words[index].is_("не") and words[index + 1].is_(*NEED):
            clause = words[index].clause
            if any(w.clause == clause and w.is_(*WHOLE_ORDER) for w in words):
                return True
    return False


def _only_a_query(words: Sequence[Token], text: str) -> bool:
    if not all(w.is_(*QUERY_WORDS) or w.is_(*QUERY_COMPANIONS) for w in words):
        return False
    return any(w.is_(*QUERY_WORDS) for w in words) or "?" in text


def classify_reply(text: str) -> Intent:
    """The intent of a short caller reply; UNKNOWN when it is not clear enough to act on."""
    # "не-а" is one word, a no; split at the hyphen it would read as "не" + "а".
    words = tokens(_NE_A.sub("неа", text))
    if not words:
        return Intent.UNKNOWN

    operator, operator_refused = _split(words, OPERATOR)
    if operator or _refuses_machine(words):
        return Intent.OPERATOR
    cancel, cancel_refused = _split(words, CANCEL)
    if cancel or _cancels_everything(words):
        return Intent.CANCEL
    repeat, repeat_refused = _split(words, REPEAT)
    if repeat or _only_a_query(words, text):
        return Intent.REPEAT

    no, _ = _split(words, NO)
    yes, yes_refused = _split(words, YES)
    no_starts = {start for start, _ in no}
    # "да нет", "конечно нет", "точно не надо": the yes-word only strengthens the no.
    yes = [
        (start, end)
        for start, end in yes
        if not (end in no_starts and words[end].clause == words[start].clause)
    ]
    # A clause of nothing but "не": "не, подождите", "не-не-не".
    lone_not = any(all(w.text == "не" for w in words if w.clause == word.clause) for word in words)
    refused = operator_refused or cancel_refused or repeat_refused or yes_refused
    if no or refused or lone_not:
        return Intent.UNKNOWN if yes else Intent.NO
    if not yes:
        return Intent.UNKNOWN
    if _spans(words, HEDGES) or any(word.is_(*QUESTION_WORDS) for word in words):
        return Intent.UNKNOWN
    return Intent.YES if _other_words(words, yes) <= MAX_OTHER_WORDS_WITH_YES else Intent.UNKNOWN


def _other_words(words: Sequence[Token], yes: Sequence[tuple[int, int]]) -> int:
    covered = {index for start, end in yes for index in range(start, end)}
    return sum(
        1
        for index, word in enumerate(words)
        if index not in covered and not word.is_(*FILLERS) and not word.is_("да")
    )

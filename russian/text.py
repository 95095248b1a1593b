"""The last pass before TTS: any text (the LLM's too) → plain Russian words and punctuation.

`split_sentences` cuts a reply into sentences to stream one by one; `normalise_for_tts` then
makes each of them speakable: no digits, symbols, markdown or emoji. `reply_sentences` does
both, sentence by sentence, and `SentenceStream` gives the same sentences from a text that
arrives in pieces (a model still writing), each as soon as it is certain.
"""

from __future__ import annotations

import re

from russian.abbreviations import expand_after_numbers, expand_before_numbers
from russian.markup import strip_emoji, strip_markdown, strip_symbols, tidy
from russian.numbers import cardinal
from russian.spoken_numbers import verbalise_numbers

_DIGITS = re.compile(r"\d+")


def normalise_for_tts(text: str) -> str:
    """ "**Итого:** 2 599 ₽, доставка 30.11 по адресу ул. Тверская, д. 7 🚚" → "Итого: две тысячи
    пятьсот девяносто девять рублей, доставка тридцатого ноября по адресу улица Тверская, дом
    семь".

    Numbers take their case from a preposition before them ("до двадцати процентов") and their
    gender from the noun after them ("две упаковки"); abbreviations expand to the nominative
    ("ул." → "улица", even after "на").
    """
    text = strip_markdown(strip_emoji(text))
    text = expand_before_numbers(text)
    text = verbalise_numbers(text)
    text = expand_after_numbers(text)
    text = strip_symbols(text)
    # Every pass above should have taken its digits; this one makes "no digits" a guarantee.
    text = _DIGITS.sub(lambda m: cardinal(int(m.group())), text)
    return tidy(text)


# A dot after these is an abbreviation inside the sentence: a name or a number follows.
_NEVER_ENDS = frozenset(
    {
        "ул", "д", "кв", "г", "пр", "просп", "пер", "наб", "пл", "корп", "к", "стр", "эт",
        "под", "мкр", "мкрн", "обл", "пос", "им", "тел", "ст", "м", "св", "см", "рис", "ш",
        "т.е", "т.к", "проф", "акад", "бул",
    }
)  # fmt: skip
# A dot after these ends the sentence only when a capital letter follows ("5 руб. Спасибо").
_MAY_END = frozenset(
    {"руб", "коп", "шт", "тыс", "млн", "млрд", "мин", "сек", "т.д", "т.п", "уп", "др"}
)
_BOUNDARY = re.compile(r"([.!?…]+)([»\"”’')\]]*)\s+")
_LAST_WORD = re.compile(r"[A-Za-zА-Яа-яЁё]+$")
_DOTTED_PAIR = re.compile(r"[A-Za-zА-Яа-яЁё]\.\s?[A-Za-zА-Яа-яЁё]$")  # "т.е", "т. д"


def _ends_sentence(line: str, match: re.Match[str]) -> bool:
    punctuation = match.group(1)
    following = line[match.end() : match.end() + 1]
    if "!" in punctuation or "?" in punctuation:
        return True
    if punctuation != ".":
        return following.isupper()  # "…" and "..." also trail off mid-sentence
    before = line[: match.start()]
    word = _LAST_WORD.search(before)
    pair = _DOTTED_PAIR.search(before)
    token = word.group().lower() if word else ""
    dotted = pair.group().lower().replace(" ", "") if pair else ""
    if dotted in _MAY_END:
        return following.isupper()
    if token in _NEVER_ENDS or dotted in _NEVER_ENDS:
        return False
    if len(token) == 1 and word is not None and word.group().isupper():
        return False  # an initial: "А. С. Пушкин"
    if token in _MAY_END:
        return following.isupper()
    return not following.islower()


def split_sentences(text: str) -> list[str]:
    """ "Доставим на ул. Тверская, д. 7. Всё верно?" → ["Доставим на ул. Тверская, д. 7.",
    "Всё верно?"]. Line breaks always end a sentence."""
    sentences: list[str] = []
    for line in text.splitlines():
        start = 0
        for match in _BOUNDARY.finditer(line):
            if _ends_sentence(line, match):
                sentences.append(line[start : match.end()].strip())
                start = match.end()
        sentences.append(line[start:].strip())
    return [sentence for sentence in sentences if sentence]


def reply_sentences(text: str) -> list[str]:
    """The spoken sentences of a reply: `split_sentences`, then each one normalised for TTS
    (sentences normalised to nothing are dropped). `SentenceStream` gives the same list from
    the text in pieces."""
    return [spoken for raw in split_sentences(text) if (spoken := _spoken(raw))]


def _spoken(raw: str) -> str:
    return normalise_for_tts(raw).strip()


class SentenceStream:
    """`reply_sentences` of a text fed in pieces: `feed` returns the sentences completed by
    a piece, `finish` the rest. Whatever the pieces, the sentences are those of the whole
    text, in order, each once - so the ones spoken while a model still writes are exactly
    the first sentences of its finished reply.

    A sentence is certain once its boundary can no longer change with what follows: a line
    break, or "?"/"!" and whitespace; a dot or "…" and whitespace needs the next character
    too (a lowercase letter after "т. е." or "руб." means the sentence goes on).
    """

    def __init__(self) -> None:
        self._line = ""  # the line being written (no line break yet)
        self._start = 0  # where its next sentence starts

    def feed(self, piece: str) -> list[str]:
        sentences: list[str] = []
        pending = self._line + piece
        lines = pending.splitlines(keepends=True)
        for line in lines[:-1]:
            sentences += self._take(_without_break(line), complete=True)
        last = lines[-1] if lines else ""
        body = _without_break(last)
        if body != last:  # it ends in a line break: complete too
            sentences += self._take(body, complete=True)
        else:
            sentences += self._take(body, complete=False)
        return sentences

    def finish(self) -> list[str]:
        """The end of the text: its last sentence is complete."""
        return self._take(self._line, complete=True)

    def candidate(self) -> str | None:
        """The sentence that ends where the text has arrived so far, if what comes next only
        starts a new one ("…есть." before " Пачка"): a guess, made one token before `feed`
        can be sure - for work worth starting early, never for anything spoken."""
        line, start = self._line, self._start
        if not line[start:].strip():
            return None
        # As if the next sentence began right after what has arrived.
        probe = line + " " + _NEXT_SENTENCE
        for match in _BOUNDARY.finditer(probe, max(start, len(line) - 8)):
            if match.end() > len(line) and _ends_sentence(probe, match):
                return _spoken(probe[start : match.end()].strip()) or None
        return None

    def _take(self, line: str, *, complete: bool) -> list[str]:
        raw: list[str] = []
        start = self._start
        for match in _BOUNDARY.finditer(line):
            if match.end() <= start:
                continue
            at_end = match.end() >= len(line)
            if at_end and not complete and not _decided_without_next(match):
                break
            if _ends_sentence(line, match):
                raw.append(line[start : match.end()].strip())
                start = match.end()
        if complete:
            raw.append(line[start:].strip())
            self._line, self._start = "", 0
        else:
            self._line, self._start = line, start
        return [spoken for sentence in raw if sentence and (spoken := _spoken(sentence))]


_NEXT_SENTENCE = "А"  # an uppercase letter: what a new sentence starts with


def _without_break(line: str) -> str:
    parts = line.splitlines()
    return parts[0] if parts else ""


def _decided_without_next(match: re.Match[str]) -> bool:
    """ "?" and "!" end a sentence whatever follows; a dot or "…" needs the next character."""
    punctuation = match.group(1)
    return "!" in punctuation or "?" in punctuation

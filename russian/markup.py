"""What TTS must never read aloud: markdown, emoji, stray symbols and quotes."""

from __future__ import annotations

import re
import unicodedata

_FENCE = re.compile(r"^\s*(```|~~~).*$", re.MULTILINE)
_IMAGE_OR_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.MULTILINE)
_QUOTE = re.compile(r"^\s*>+\s?", re.MULTILINE)
_RULE = re.compile(r"^\s*([-*_=]\s*){3,}$", re.MULTILINE)
_BULLET = re.compile(r"^\s*(?:[-*+•·▪◦‣–—]|\d{1,2}[.)])\s+", re.MULTILINE)
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$", re.MULTILINE)
_EMPHASIS = re.compile(r"\*+|~~|`+|#+")
_UNDERSCORES = re.compile(r"_+")  # __bold__, _italic_ and snake_case alike: never spoken
_SENTENCE_END = ".!?…:;,"

# Symbols that mean a word; everything else symbolic (emoji, arrows, ©) is dropped.
_SYMBOL_WORDS = {
    "№": " номер ",
    "&": " и ",
    "+": " плюс ",
    "≈": " примерно ",
    "~": " около ",
    "%": " процентов ",
    "₽": " рублей ",
    "€": " евро ",
    "$": " долларов ",
    "°": " градусов ",
}
_AS_COMMA = "()[]{}|•·;"
_DROPPED = "\"'«»„“”‘’`^@#*_=<>\\/"
# Emoji and pictographs, and digits that are not decimal digits ("²", "½", "①"): a space.
_PICTOGRAPHIC = frozenset({"So", "Sk", "Co", "Cs", "Cn", "No"})
# Joiners, variation selectors and combining marks (a stress mark in "зо́лото"): nothing, so
# the word around them stays whole.
_INVISIBLE = frozenset({"Mn", "Me", "Cf"})
_DROPPED_CATEGORIES = _PICTOGRAPHIC | _INVISIBLE | {"Sm", "Sc"}


def _drop(char: str) -> str:
    return "" if unicodedata.category(char) in _INVISIBLE else " "


def strip_emoji(text: str) -> str:
    """Pictographs go first, so that "г.🚚Москва" is still "город Москва"; symbols that mean
    words ("№", "°") stay for later passes."""
    return "".join(
        _drop(char)
        if unicodedata.category(char) in _PICTOGRAPHIC | _INVISIBLE and char not in _SYMBOL_WORDS
        else char
        for char in text
    )


def strip_markdown(text: str) -> str:
    """Markdown and HTML to plain lines: "**Итого:** 5" → "Итого: 5", bullets and headings
    become lines of their own, each ending a sentence."""
    text = _FENCE.sub("", text)
    text = _IMAGE_OR_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    text = _RULE.sub("", text)
    text = _TABLE_SEPARATOR.sub("", text)
    text = _HEADING.sub("", text)
    text = _QUOTE.sub("", text)
    text = _BULLET.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = _UNDERSCORES.sub(" ", text)
    lines = [line.strip().strip("|").replace("|", ",").strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > 1:
        # A bullet or a heading is a sentence of its own when spoken.
        lines = [line if line[-1] in _SENTENCE_END else line + "." for line in lines]
    return " ".join(lines)


def _symbol(char: str) -> str:
    if char in _SYMBOL_WORDS:
        return _SYMBOL_WORDS[char]
    if char in _AS_COMMA:
        return ", "
    if char in _DROPPED or unicodedata.category(char) in _DROPPED_CATEGORIES:
        return _drop(char)
    if char == "–":
        return " — "
    if char.isspace():
        return " "
    return char


_TYPED_DASH = re.compile(r"-{2,}")


def strip_symbols(text: str) -> str:
    """Symbols to words or nothing: "а & б" → "а и б", emoji and quotes vanish."""
    return "".join(_symbol(char) for char in _TYPED_DASH.sub(" — ", text))


_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?:;…])")
_REPEATED_COMMA = re.compile(r",(\s*,)+")
_COMMA_BEFORE_END = re.compile(r",\s*([.!?:;…])")
_END_BEFORE_COMMA = re.compile(r"([.!?…])\s*,")
_DASH_RUN = re.compile(r"(\s*—\s*)+")
_NO_SPACE_AFTER = re.compile(r"([,.;:!?])(?=[А-Яа-яЁё])")


def tidy(text: str) -> str:
    """Spaces and commas left over by the other passes: one space, no ", ," or " ,"."""
    text = _SPACES.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _REPEATED_COMMA.sub(",", text)
    text = _COMMA_BEFORE_END.sub(r"\1", text)
    text = _END_BEFORE_COMMA.sub(r"\1", text)
    text = _DASH_RUN.sub(" — ", text)
    text = _NO_SPACE_AFTER.sub(r"\1 ", text)
    return text.strip().lstrip(",;:—- ").rstrip(",—- ").strip()

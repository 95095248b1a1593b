"""Words of a caller's reply with their pymorphy3 lemmas: the common ground of the parsers.

Speech-to-text gives lower or mixed case, ё or е, stray punctuation; every parser here first
turns the reply into `Token`s so that a lexicon entry written once ("отменить") matches
every form a caller says ("отмените", "отменим", "отменить").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from russian._morph import morph

# Hyphenated words split: "да-да" is two yeses, "что-что" two whats.
_WORD = re.compile(r"[а-яa-z0-9]+")
# Punctuation that ends a clause: "нет, да" has two clauses, "да нет" one.
_CLAUSE_BREAK = re.compile(r"[,.;:!?—–()]")


def fold(text: str) -> str:
    """Lower case with ё as е, as STT engines and callers use them interchangeably."""
    return text.lower().replace("ё", "е")


@lru_cache(maxsize=8192)
def lemmas(word: str) -> frozenset[str]:
    """Every normal form pymorphy3 offers for `word` (folded), plus the word itself.

    All parses, not just the first: "десяток" is first parsed as "десятка", "верно" as a
    conjunction; the lexicons name the lemma they mean and any parse may carry it.
    """
    folded = fold(word)
    forms = {fold(parse.normal_form) for parse in morph().parse(folded)}
    forms.add(folded)
    return frozenset(forms)


@lru_cache(maxsize=8192)
def lemma(word: str) -> str:
    """The most likely normal form (folded)."""
    return fold(morph().parse(fold(word))[0].normal_form)


@dataclass(frozen=True)
class Token:
    text: str  # folded surface form
    lemmas: frozenset[str]
    clause: int  # index of the clause (split at punctuation) the word belongs to
    start: int  # offsets in the original text
    end: int

    def is_(self, *words: str) -> bool:
        """True when the surface or a lemma is one of `words`."""
        return any(word in self.lemmas for word in words)


def tokens(text: str) -> list[Token]:
    folded = fold(text)
    result: list[Token] = []
    clause = 0
    position = 0
    for match in _WORD.finditer(folded):
        if _CLAUSE_BREAK.search(folded, position, match.start()):
            clause += 1
        position = match.end()
        word = match.group()
        result.append(Token(word, lemmas(word), clause, match.start(), match.end()))
    return result

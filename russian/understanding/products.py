"""Which of the products read out (or found by search) the caller means.

Both sides go to pymorphy3 lemmas first, so case endings stop mattering ("гречки ядрица" ~
"Гречка ядрица 900 г"), then rapidfuzz compares them (with `default_process`: lower case,
punctuation out). Two rapidfuzz views, the better one counts:

- `token_set_ratio` on the whole names: the caller names a part of the label ("деревенское");
- each spoken word against its closest word of the label (`fuzz.ratio`), averaged by word
  length: one typo per word ("гричку ядрицу") costs a little, not the whole match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process, utils

from russian._morph import morph
from russian.understanding._text import fold, lemma
from russian.understanding.numbers import COUNT_UNITS, COUNTING_NOUNS, to_digits
from russian.understanding.ordinals import ordinal_lemmas

# Below this a candidate is not what the caller said: one typo in a word of six letters
# still scores ~83, a different product of similar letters ("сосиски" ~ "российский") ~70.
MIN_SCORE = 75.0
# Words that carry no product: "мне, пожалуйста, две пачки гречки" is about "гречка".
_FUNCTION_POS = frozenset({"PREP", "CONJ", "PRCL", "INTJ", "NPRO", "VERB", "INFN", "PRED"})
_NOT_A_PRODUCT = frozenset(
    {"пожалуйста", "еще", "ещё", "процент", "штук", "штука", "вот", "тот", "этот", "какой"}
)
# "три и два процента" is the label's "3,2%".
_SPOKEN_DECIMAL = re.compile(r"(\d+)\s+(?:и|целых|целая)\s+(\d+)(?:\s+десят\w+)?")


@dataclass(frozen=True)
class _Word:
    surface: str
    lemma: str

    @property
    def forms(self) -> tuple[str, ...]:
        # A typo can throw the lemma off ("дамашнее" → "дамашнея"), so the surface form
        # is compared too.
        return (self.lemma, self.surface)


def _words(texts: Sequence[str]) -> list[_Word]:
    return [_Word(text, text if text.isdigit() else lemma(text)) for text in texts]


@lru_cache(maxsize=1024)
def _label(candidate: str) -> tuple[_Word, ...]:
    return tuple(_words(utils.default_process(fold(candidate)).split()))


def _is_product_word(word: str) -> bool:
    if word.isdigit():
        return True
    if lemma(word) in _NOT_A_PRODUCT or word in _NOT_A_PRODUCT:
        return False
    tag = morph().parse(word)[0].tag
    # "который", "этот", "тот": pointing words (Apro), no part of a name.
    return tag.POS not in _FUNCTION_POS and "Apro" not in tag.grammemes


def _is_unit(word: str) -> bool:
    return lemma(word) in COUNT_UNITS or lemma(word) in COUNTING_NOUNS


def _spoken(utterance: str) -> list[_Word]:
    text = _SPOKEN_DECIMAL.sub(r"\1 \2", to_digits(fold(utterance)))
    words = utils.default_process(text).split()
    kept: list[str] = []
    for index, word in enumerate(words):
        next_is_unit = index + 1 < len(words) and _is_unit(words[index + 1])
        if _is_unit(word) or (word.isdigit() and next_is_unit):
            continue  # "две пачки": how many, not which
        if _is_product_word(word):
            kept.append(word)
    return _words(kept)


def _per_word(spoken: Sequence[_Word], label: Sequence[_Word]) -> float:
    choices = [form for word in label for form in word.forms]
    total = 0.0
    weight = 0
    for word in spoken:
        best = max(
            (
                found[1]
                for form in word.forms
                if (found := process.extractOne(form, choices, scorer=fuzz.ratio))
            ),
            default=0.0,
        )
        total += best * len(word.lemma)
        weight += len(word.lemma)
    return total / weight if weight else 0.0


def match_products(
    utterance: str, candidates: list[str], *, min_score: float = MIN_SCORE
) -> list[tuple[int, float]]:
    """(index into `candidates`, score 0..100) for every candidate the caller may mean, best
    first. Equal scores ("гречка" against three kinds of гречка) are all returned: the
    dialog asks which one; among them the label closest as a whole comes first."""
    spoken = _spoken(utterance)
    if not spoken:
        return []
    query = " ".join(word.lemma for word in spoken)
    ranked: list[tuple[float, float, int]] = []
    for index, candidate in enumerate(candidates):
        label = _label(candidate)
        if not label:
            continue
        whole = " ".join(word.lemma for word in label)
        score = max(fuzz.token_set_ratio(query, whole), _per_word(spoken, label))
        if score >= min_score:
            ranked.append((round(score, 1), fuzz.token_sort_ratio(query, whole), index))
    ranked.sort(key=lambda row: (-row[0], -row[1], row[2]))
    return [(index, score) for score, _, index in ranked]


# Words of a request that are no part of what to search for: "хочу заказать гречку".
_REQUEST_WORDS = frozenset(
    {"хотеть", "заказать", "заказывать", "купить", "покупать", "взять", "добавить", "нужный",
     "надо", "нужно", "оформить", "заказ", "новый", "еще", "также", "тоже", "можно", "дать",
     "привезти", "доставить", "курьер", "здравствуйте", "добрый", "день", "мне", "нам",
     "пожалуйста", "где", "когда", "статус", "мой", "какой", "свой", "доставка", "вопрос",
     "ну", "остальной", "другой", "продукт", "товар", "покупка", "что-нибудь", "кое-что"}
)  # fmt: skip


_POSITION_WORDS = frozenset({"последний", "предпоследний", "любой", "этот", "тот"})


def product_query(utterance: str) -> str | None:
    """The words to search the catalogue for, as lemmas: "хочу заказать две пачки гречки" →
    "гречка". None when the caller named no product."""
    words = [word.lemma for word in _spoken(utterance) if not word.lemma.isdigit()]
    positions = ordinal_lemmas()  # "третий", "последний": a choice, not a product
    kept = [
        word
        for word in words
        if word not in _REQUEST_WORDS
        and word not in positions
        and word not in _POSITION_WORDS
        and len(word) > 1
    ]
    return " ".join(kept)[:100] if kept else None

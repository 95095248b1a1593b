"""A delivery address said by a caller → city, street, house, apartment.

natasha's AddrExtractor knows the Russian cities and settlements (its gazetteer, any case:
"в Казани"), but it wants written text: capitals on names and commas between parts. On
spoken text (lower case, no commas, numbers in words, often no "улица" or "дом") it finds
only the city, and glues it to the street ("Москва Ленинский" проспект) or reads "тверская
7 корпус" as a корпус. So the reply is prepared and cut first, and natasha gets one job:

1. number words become digits ("семь" → "7", "двенадцать а" → "12А", "семь дробь один" →
   "7/1");
2. the reply splits at the first number or house word into names ("москва тверская") and
   numbers ("7 корпус 2 квартира 12");
3. natasha, on title-cased words, finds the city at the start of the names (the shortest
   prefix it calls a settlement); the rest is the street, with its kind word ("улица",
   "пр-т", before or after the name) if one was said;
4. the numbers are read by their keywords; bare numbers are the house, then the apartment.

Names come back in the nominative ("в Москве" → "Москва", "на Тверской улице" → "ул.
Тверская") and streets in the written short form the store uses ("ул. Тверская", see
`russian.addresses.short_street`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from russian._morph import morph
from russian.addresses import STREET_KINDS, short_street
from russian.understanding._natasha import addr_extractor
from russian.understanding._text import fold, lemmas
from russian.understanding.numbers import to_digits
from russian.understanding.ordinals import ordinal_lemmas


@dataclass(frozen=True)
class ParsedAddress:
    city: str | None
    street: str | None  # "ул. Тверская", "Ленинский пр-т", or the name alone when no kind
    house: str | None  # "7", "12А", "7к2", "7с1", "7/1"
    apartment: str | None  # "12", or "офис 5"


# Spoken and written street kinds → the full word (`short_street` writes them short again).
_KIND_WORDS: dict[str, str] = {
    **{full: full for full, _ in STREET_KINDS},
    "ул": "улица", "пр": "проспект", "просп": "проспект", "пер": "переулок",
    "наб": "набережная", "пл": "площадь", "ш": "шоссе", "б-р": "бульвар", "мкр": "микрорайон",
    "мкрн": "микрорайон", "тупик": "тупик", "аллея": "аллея", "линия": "линия",
}  # fmt: skip
_CITY_WORDS = frozenset({"город", "г", "поселок", "пос", "село", "деревня"})
_CITY_ALIASES = {"питер": "Санкт-Петербург", "спб": "Санкт-Петербург", "мск": "Москва"}
_SETTLEMENT_TYPES = frozenset({None, "город", "посёлок", "село", "деревня"})
# Number keywords → the part they introduce; None: a number that is no part of the address.
_NUMBER_KEYWORDS: dict[str, str | None] = {
    "дом": "house", "д": "house", "корпус": "korpus", "корп": "korpus", "к": "korpus",
    "строение": "building", "стр": "building", "с": "building", "квартира": "apartment",
    "кв": "apartment", "офис": "office", "подъезд": None, "этаж": None, "домофон": None,
    "код": None,
}  # fmt: skip
# Words around an address that belong to none of its parts.
_FILLERS = frozenset(
    {
        "мой", "моя", "наш", "ну", "значит", "так", "это", "вот", "пожалуйста", "по", "в",
        "на", "у", "я", "меня", "нас", "мы", "э", "эээ", "да", "такой", "сюда", "туда", "к",
        "записывайте", "пишите", "адрес", "адресу", "доставка", "доставку", "доставьте",
        "привезите", "живу", "живем", "курьер", "курьером", "курьерской", "доставкой",
        "доставить", "привезти", "нет", "давайте", "другой", "хочу", "секунду", "секундочку",
        "минуту", "минутку", "момент", "сейчас", "щас", "погодите", "подождите",
    }
)  # fmt: skip
_LETTER = re.compile(r"(?<![а-я\d-])(\d+)\s*-?\s*(?:буква\s+)?([абвгеж])(?![а-я])")
_FRACTION = re.compile(r"(\d+)\s*(?:дробь|/)\s*(\d+)")
_WORD = re.compile(r"\d+-[а-я]+(?:-[а-я]+)*|\d+[а-я]?(?:/\d+)?|[а-яa-z]+(?:-[а-яa-z0-9]+)*")
_NAME_POS = frozenset({"NOUN", "ADJF", "ADJS", "PRTF", "NUMR", None})
_LOWER_PARTS = frozenset({"на", "в", "де", "ла"})
_LONGEST_CITY = 3  # words, "город" included: "город Нижний Новгород"


def _normalise(text: str) -> list[str]:
    spoken = to_digits(fold(text))
    spoken = _FRACTION.sub(r"\1/\2", spoken)
    spoken = _LETTER.sub(lambda m: m.group(1) + m.group(2), spoken)
    return _WORD.findall(spoken)


def _is_number(word: str) -> bool:
    return word[:1].isdigit() and not re.match(r"\d+-", word)


def _title(word: str) -> str:
    parts = word.split("-")
    return "-".join(
        part
        if index and (part in _LOWER_PARTS or parts[index - 1].isdigit())
        else part[:1].upper() + part[1:]
        for index, part in enumerate(parts)
    )


def _numbered(word: str) -> str:
    """ "первая" → "1-я", as street signs write the ordinal of "1-я Тверская-Ямская"."""
    for parse in morph().parse(word):
        value = ordinal_lemmas().get(fold(parse.normal_form))
        if value is not None and parse.tag.POS == "ADJF":
            ending = {"femn": "я", "masc": "й", "neut": "е"}.get(str(parse.tag.gender), "я")
            return f"{value}-{ending}"
    return word


def _nominative_city(words: Sequence[str]) -> str:
    """ "москве" → "Москва", "нижнем новгороде" → "Нижний Новгород"."""
    result = []
    for word in words:
        parses = morph().parse(word)
        oblique = [p for p in parses if {"Geox", "ADJF"} & p.tag.grammemes and p.tag.case != "nomn"]
        inflected = None
        if oblique and not any(p.tag.case == "nomn" for p in parses):
            inflected = oblique[0].inflect({"nomn"})
        result.append(word if inflected is None else str(inflected.word))
    return " ".join(_title(word) for word in result)


def _natasha(words: Sequence[str]) -> list[Any]:
    text = " ".join(
        word if word in _KIND_WORDS or word in _CITY_WORDS else _title(word) for word in words
    )
    return [(match.start, match.stop, match.fact) for match in addr_extractor()(text)]


def _city(names: Sequence[str]) -> tuple[str | None, int]:
    """The city at the start of the names and how many words it takes."""
    if names and names[0] in _CITY_ALIASES:
        return _CITY_ALIASES[names[0]], 1
    for size in range(1, min(_LONGEST_CITY, len(names)) + 1):
        prefix = names[:size]
        text_length = len(" ".join(prefix))
        for start, stop, fact in _natasha(prefix):
            if start == 0 and stop == text_length and fact.type in _SETTLEMENT_TYPES:
                value = fold(fact.value).split()
                return _nominative_city(value), size
    return None, 0


def _nominative_word(word: str, kind_gender: str | None, after_preposition: bool) -> str:
    """One word of a street name in the nominative: "тверской" (улице) → "тверская"."""
    adjectives = _adjective_parses(word)
    if kind_gender is not None:
        agreeing = [p for p in adjectives if p.tag.gender == kind_gender]
        if not agreeing or any(p.tag.case == "nomn" for p in agreeing):
            return word
        chosen = agreeing[0]
    elif after_preposition:
        located = [p for p in adjectives if p.tag.case in {"loct", "datv", "accs"}]
        if not located:
            return word
        chosen = located[0]
    else:
        return word
    inflected = chosen.inflect({"nomn"})
    return word if inflected is None else str(inflected.word)


def _street_name(words: Sequence[str], kind: str | None, after_preposition: bool) -> str:
    """The name in the nominative, agreeing with its kind: "тверской улице" → "Тверская";
    a leading ordinal as signs write it: "первая тверская-ямская" → "1-я Тверская-Ямская"."""
    gender = None
    if kind is not None:
        gender = next((p.tag.gender for p in morph().parse(kind) if p.tag.POS == "NOUN"), None)
    converted = [_nominative_word(word, gender, after_preposition) for word in words]
    if len(converted) > 1:
        converted[0] = _numbered(converted[0])
    return " ".join(_title(word) for word in converted)


def _street(words: Sequence[str], after_preposition: bool) -> str | None:
    """ "тверская" → "Тверская"; "улица ленина" → "ул. Ленина"; "ленинский проспект" →
    "Ленинский пр-т"."""
    words = [word for word in words if word not in _FILLERS or word in _KIND_WORDS]
    if not words:
        return None
    kind_at = next((i for i, word in enumerate(words) if _kind(word) is not None), None)
    if kind_at is None:
        if not all(_may_name(word) for word in words):
            return None  # "не знаю", "сейчас скажу": no street
        return _street_name(words, None, after_preposition)
    kind = _kind(words[kind_at])
    assert kind is not None
    name_words = [word for i, word in enumerate(words) if i != kind_at]
    if not name_words:
        return None
    name = _street_name(name_words, kind, after_preposition)
    # Adjective names keep the kind after them as written ("Ленинский пр-т"), names in the
    # genitive take it before ("пр-т Мира", even when said "Мира проспект"); "улица" always
    # goes first ("ул. Тверская").
    kind_after = kind_at > 0 and kind != "улица" and _is_adjective(name_words[0])
    return short_street(f"{name} {kind}" if kind_after else f"{kind} {name}")


def _adjective_parses(word: str) -> list[Any]:
    """Parses of `word` as an adjective; possessives ("ленина" from "ленин") are the genitive
    nouns of "улица Ленина", not adjectives."""
    return [p for p in morph().parse(word) if p.tag.POS == "ADJF" and "Poss" not in p.tag]


def _is_adjective(word: str) -> bool:
    return word[:1].isdigit() or bool(_adjective_parses(word))  # "5-я Парковая", "Невский"


def _may_name(word: str) -> bool:
    """Street names are nouns, adjectives or numbers ("Тверская", "Льва Толстого", "1-я")."""
    if word[:1].isdigit():
        return True
    return morph().parse(word)[0].tag.POS in _NAME_POS


def _kind(word: str) -> str | None:
    if word in _KIND_WORDS:
        return _KIND_WORDS[word]
    return next((_KIND_WORDS[lemma] for lemma in lemmas(word) if lemma in _KIND_WORDS), None)


def _number_keyword(word: str) -> tuple[bool, str | None]:
    if word in _NUMBER_KEYWORDS:
        return True, _NUMBER_KEYWORDS[word]
    for lemma in lemmas(word):
        if lemma in _NUMBER_KEYWORDS and len(lemma) > 2:
            return True, _NUMBER_KEYWORDS[lemma]
    return False, None


@dataclass
class _Numbers:
    house: str | None = None
    korpus: str | None = None
    building: str | None = None
    apartment: str | None = None

    def put(self, part: str | None, value: str) -> None:
        if part == "house" and self.house is None:
            self.house = value
        elif part == "korpus" and self.korpus is None:
            self.korpus = value
        elif part == "building" and self.building is None:
            self.building = value
        elif part == "apartment" and self.apartment is None:
            self.apartment = value
        elif part == "office" and self.apartment is None:
            self.apartment = f"офис {value}"

    def house_text(self) -> str | None:
        if self.house is None:
            return None
        house = self.house.upper()
        if self.korpus:
            house += f"к{self.korpus}"
        elif self.building:
            house += f"с{self.building}"
        return house


def _numbers(words: Sequence[str]) -> _Numbers:
    numbers = _Numbers()
    pending: str | None = None
    expecting = False
    for word in words:
        keyword, part = _number_keyword(word)
        if keyword and not _is_number(word):
            pending, expecting = part, True
            continue
        if not _is_number(word):
            continue
        if expecting:
            numbers.put(pending, word)
        elif numbers.house is None:
            numbers.put("house", word)
        else:
            # "тверская семь двенадцать": a second bare number is the apartment.
            numbers.put("apartment", word)
        pending, expecting = None, False
    return numbers


def _starts_numbers(words: Sequence[str], index: int) -> bool:
    word = words[index]
    if _is_number(word):
        return True
    if not _number_keyword(word)[0]:
        return False
    # "к", "с", "д" are prepositions or letters too; they are keywords only before a number.
    short = len(word) == 1
    return not short or (index + 1 < len(words) and _is_number(words[index + 1]))


def parse_address(text: str) -> ParsedAddress | None:
    """ "Москва Тверская семь квартира двенадцать" → (Москва, Тверская, 7, 12); "улица Ленина
    дом пять корпус два квартира сорок" → (None, ул. Ленина, 5к2, 40). None when no part
    of an address was heard."""
    words = _normalise(text)
    split = next((i for i in range(len(words)) if _starts_numbers(words, i)), len(words))
    names = [word for word in words[:split] if word not in _FILLERS or word in _CITY_ALIASES]
    city, size = _city(names)
    numbers = _numbers(words[split:])
    street_words = names[size:]
    if city is not None and not street_words and numbers.house is not None:
        # "Пушкина 10": a house number needs a street; the city was the street's name.
        city, street_words = None, names
    # "на тверской": the name is in the locative and goes back to the nominative.
    after_preposition = any(word in ("на", "по") for word in words[:split])
    street = _street(street_words, after_preposition)
    house = numbers.house_text()
    if city is None and street is None and house is None and numbers.apartment is None:
        return None
    return ParsedAddress(city, street, house, numbers.apartment)


def _is_place(word: str) -> bool:
    return any("Geox" in parse.tag for parse in morph().parse(word))


def parse_city(text: str) -> str | None:
    """The answer to "В каком городе?": "в Москве" → "Москва", "питер" → "Питер", "Нижний
    Новгород" → "Нижний Новгород". None unless a word is a known place name ("не знаю")."""
    words = [w for w in _normalise(text) if w not in _FILLERS and w != "город"]
    if not words or len(words) > _LONGEST_CITY or any(_is_number(w) for w in words):
        return None  # a house number: a whole address, not a city
    if not any(_is_place(w) for w in words):
        return None
    parsed = parse_address(f"город {' '.join(words)}")
    if parsed is not None and parsed.city and len(parsed.city.split()) >= len(words):
        return parsed.city
    return _nominative_city(words)

"""Order numbers read out so that a caller can write them down.

The rule: the digits go in groups of three from the left, and a number never ends on a lone
digit — when one would be left over, the last four digits become two pairs (the rhythm of
Russian phone numbers). Each group is said as one number, and its leading zeros as "ноль", so
every digit is heard and the count of digits in a group is never in doubt; a comma (a pause
in TTS) separates the groups.

    100245  → 100 245       → "сто, двести сорок пять"
    102045  → 102 045       → "сто два, ноль сорок пять"   (dialog.md's "сто два ноль сорок пять")
    12345   → 123 45        → "сто двадцать три, сорок пять"
    1002450 → 100 24 50     → "сто, двадцать четыре, пятьдесят"
    7       → 7             → "семь"
"""

from __future__ import annotations

import re

from russian.numbers import cardinal

_SEPARATORS = re.compile(r"[\s\-]+")


def digit_groups(digits: str) -> list[str]:
    """ "100245" → ["100", "245"]; "1234" → ["12", "34"]; "1234567" → ["123", "45", "67"]."""
    groups: list[str] = []
    rest = digits
    while len(rest) > 3:
        if len(rest) == 4:
            groups += [rest[:2], rest[2:]]
            return groups
        groups.append(rest[:3])
        rest = rest[3:]
    if rest:
        groups.append(rest)
    return groups


def say_digit_group(group: str) -> str:
    """ "245" → "двести сорок пять"; "045" → "ноль сорок пять"; "00" → "ноль ноль"."""
    significant = group.lstrip("0")
    zeros = ["ноль"] * (len(group) - len(significant))
    return " ".join([*zeros, cardinal(int(significant))] if significant else zeros)


def say_digits(digits: str) -> str:
    """Any run of digits in groups (see the module rule): "102045" → "сто два, ноль сорок
    пять"."""
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"not a run of digits: {digits!r}")
    return ", ".join(say_digit_group(group) for group in digit_groups(digits))


def say_order_number(number: str) -> str:
    """ "100245" → "сто, двести сорок пять". Spaces and dashes inside are ignored."""
    return say_digits(_SEPARATORS.sub("", number))

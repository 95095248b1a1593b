"""Phone numbers read back for confirmation, in the groups Russians write them in."""

from __future__ import annotations

import re

from russian.order_numbers import digit_groups, say_digit_group, say_digits

_NOT_DIGIT = re.compile(r"\D")


def say_phone(phone: str) -> str:
    """ "+79161234567" → "плюс семь, девятьсот шестнадцать, сто двадцать три, сорок пять,
    шестьдесят семь".

    A Russian number (+7 or 8 and ten digits) is said as country/trunk code, then 3-3-2-2;
    any other number as "плюс" (when written) and its digits in order-number groups.
    """
    text = phone.strip()
    digits = _NOT_DIGIT.sub("", text)
    if not digits:
        raise ValueError(f"not a phone number: {phone!r}")
    plus = "плюс " if text.startswith("+") else ""
    if len(digits) == 11 and digits[0] in "78":
        national = digits[1:]
        groups = [national[:3], national[3:6], *digit_groups(national[6:])]
        spoken = ", ".join([say_digit_group(digits[0]), *map(say_digit_group, groups)])
        return plus + spoken
    return plus + say_digits(digits)

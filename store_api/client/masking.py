"""Phone numbers out of text that goes to logs, exception messages and the Temporal UI."""

from __future__ import annotations

import re

from voiceorder.phones import mask_phone

# A run of digits with the usual separators, long enough to be a full phone number. Order
# numbers (6 digits), amounts and ids are shorter or contain letters, so they stay readable.
_PHONE_LIKE = re.compile(r"\+?\d[\d\s()\-]{8,20}\d")
_MIN_DIGITS = 10


def mask_phones_in(text: str) -> str:
    """Every phone-like number in `text` in its masked form (`+7916***4567`)."""

    def mask(match: re.Match[str]) -> str:
        found = match.group(0)
        if sum(ch.isdigit() for ch in found) < _MIN_DIGITS:
            return found
        return mask_phone(found)

    return _PHONE_LIKE.sub(mask, text)


__all__ = ["mask_phone", "mask_phones_in"]

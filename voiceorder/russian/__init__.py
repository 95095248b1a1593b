"""Russian for the ear: numbers, money, dates, order numbers and read-backs as TTS-ready words.

Everything here is a pure function of its arguments, so workflow code may call it: no clock
(callers pass `today`), no randomness, no environment, and no I/O except pymorphy3 loading its
dictionaries once per process (`warm_up()` does that early, outside the workflow sandbox).
"""

from voiceorder.russian._morph import warm_up

__all__ = ["warm_up"]

"""Call scripts for `voiceorder call`: what the simulated caller does, one step per line.

    # a comment (a '#' followed by a space, or a line of only '#')
    Здравствуйте, хочу заказать гречку      a phrase the caller says (synthesised)
    #dtmf 0                                 DTMF digits (0-9 * # A-D), one after another
    #wait 2.5                               pause this many seconds, not listening for the bot
    #silence 8                              say nothing this long (the bot may re-prompt)
    #bargein                                the next phrase starts while the bot still talks
    #bargein 1.2                            … this many seconds after the bot starts talking
    #hangup                                 the caller hangs up (must be the last step)

After a phrase or DTMF the caller waits for the bot's reply to end, unless the next phrase
is marked `#bargein`. Every mistake is reported with its line number.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from audiosocket.protocol import DTMF_DIGITS

# A single wait longer than this is almost certainly a typo (ms instead of s).
MAX_SECONDS = 600.0
DEFAULT_BARGE_IN_AFTER_S = 0.5
DIRECTIVES = ("dtmf", "wait", "silence", "bargein", "hangup")


class ScriptError(ValueError):
    """A script line that cannot be understood; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Say:
    text: str
    line: int
    # None: wait for the bot's reply to end first; a number: start that many seconds after
    # the bot starts speaking, while it still talks.
    barge_in_after_s: float | None = None

    @property
    def barge_in(self) -> bool:
        return self.barge_in_after_s is not None


@dataclass(frozen=True, slots=True)
class PressDigits:
    digits: str
    line: int


@dataclass(frozen=True, slots=True)
class Wait:
    seconds: float
    line: int


@dataclass(frozen=True, slots=True)
class Silence:
    seconds: float
    line: int


@dataclass(frozen=True, slots=True)
class HangUp:
    line: int


Step = Say | PressDigits | Wait | Silence | HangUp
# Builds the error for (line number, message) with the script's name in front.
_FailFn = Callable[[int, str], ScriptError]


def parse_script(text: str, *, source: str = "<script>") -> list[Step]:
    """The steps of a call script; raises ScriptError naming `source` and the line."""
    steps: list[Step] = []
    pending_barge_in: tuple[int, float] | None = None  # (line, delay) of a `#bargein`

    def fail(number: int, message: str) -> ScriptError:
        return ScriptError(f"{source}:{number}: {message}")

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or _is_comment(line):
            continue
        if steps and isinstance(steps[-1], HangUp):
            raise fail(number, f"nothing can follow #hangup (line {steps[-1].line})")
        if not line.startswith("#"):
            delay = None if pending_barge_in is None else pending_barge_in[1]
            steps.append(Say(line, number, delay))
            pending_barge_in = None
            continue
        name, _, argument = line[1:].partition(" ")
        name, argument = name.lower(), argument.strip()
        if name not in DIRECTIVES:
            known = ", ".join(f"#{d}" for d in DIRECTIVES)
            raise fail(
                number,
                f"unknown directive '#{name}' (known: {known}; a comment needs a space after #)",
            )
        if pending_barge_in is not None:
            raise fail(
                number,
                f"#bargein on line {pending_barge_in[0]} must be followed by a phrase, "
                f"not '#{name}'",
            )
        if name == "bargein":
            delay = DEFAULT_BARGE_IN_AFTER_S
            if argument:
                delay = _seconds(argument, "bargein", number, fail, allow_zero=True)
            pending_barge_in = (number, delay)
        elif name == "dtmf":
            steps.append(PressDigits(_digits(argument, number, fail), number))
        elif name == "wait":
            steps.append(Wait(_seconds(argument, "wait", number, fail), number))
        elif name == "silence":
            steps.append(Silence(_seconds(argument, "silence", number, fail), number))
        else:
            if argument:
                raise fail(number, f"#hangup takes no argument, got '{argument}'")
            steps.append(HangUp(number))
    if pending_barge_in is not None:
        raise fail(pending_barge_in[0], "#bargein at the end of the script: no phrase follows")
    if not steps:
        raise ScriptError(f"{source}: the script has no steps (only blank lines and comments)")
    return steps


def load_script(path: Path) -> list[Step]:
    """Read and parse a script file (UTF-8)."""
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise ScriptError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ScriptError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_script(text, source=str(path))


def _is_comment(line: str) -> bool:
    # '#dtmf' is a directive; '# text', '#' and '##…' are comments.
    return len(line) == 1 or not line[1].isalpha()


def _seconds(
    argument: str,
    name: str,
    number: int,
    fail: _FailFn,
    *,
    allow_zero: bool = False,
) -> float:
    example = f"'#{name} 2.5'"
    if not argument:
        raise fail(number, f"#{name} needs a number of seconds, e.g. {example}")
    try:
        seconds = float(argument.removesuffix("s").replace(",", "."))
    except ValueError:
        raise fail(
            number, f"#{name} needs a number of seconds, e.g. {example}; got '{argument}'"
        ) from None
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise fail(number, f"#{name} needs a positive number of seconds, got '{argument}'")
    if seconds > MAX_SECONDS:
        raise fail(number, f"#{name} {argument}: more than {MAX_SECONDS:.0f} s is not a call")
    return seconds


def _digits(argument: str, number: int, fail: _FailFn) -> str:
    digits = "".join(argument.split()).upper()
    if not digits:
        raise fail(number, "#dtmf needs digits, e.g. '#dtmf 0' or '#dtmf 12#'")
    bad = sorted({d for d in digits if d not in DTMF_DIGITS})
    if bad:
        raise fail(number, f"#dtmf: {', '.join(repr(b) for b in bad)} is not a DTMF digit")
    return digits

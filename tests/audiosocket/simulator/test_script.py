"""The call-script parser: every directive, and a clear error with the line number for each
kind of bad line."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiosocket.simulator.script import (
    DEFAULT_BARGE_IN_AFTER_S,
    HangUp,
    PressDigits,
    Say,
    ScriptError,
    Silence,
    Wait,
    load_script,
    parse_script,
)

FULL = """\
# заказ гречки, с перебиванием
#
## ещё комментарий

Здравствуйте, хочу заказать гречку
#wait 2.5
#dtmf 0
#DTMF 1 2 #
#silence 8
#bargein
Нет, подождите
#bargein 1,5
Две пачки
#bargein 0
Да
#wait 3s
#hangup
"""


def test_every_directive_with_its_line_number() -> None:
    assert parse_script(FULL) == [
        Say("Здравствуйте, хочу заказать гречку", 5),
        Wait(2.5, 6),
        PressDigits("0", 7),
        PressDigits("12#", 8),
        Silence(8.0, 9),
        Say("Нет, подождите", 11, DEFAULT_BARGE_IN_AFTER_S),
        Say("Две пачки", 13, 1.5),
        Say("Да", 15, 0.0),
        Wait(3.0, 16),
        HangUp(17),
    ]


def test_only_a_phrase_after_bargein_is_a_barge_in() -> None:
    steps = parse_script("Раз\n#bargein\nДва\nТри\n")
    assert [s.barge_in for s in steps if isinstance(s, Say)] == [False, True, False]


def test_phrases_keep_inner_hashes_and_lose_surrounding_space() -> None:
    assert parse_script("   заказ номер #12  \n") == [Say("заказ номер #12", 1)]


def test_dtmf_letters_are_accepted_in_any_case() -> None:
    assert parse_script("#dtmf *a\n") == [PressDigits("*A", 1)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("привет\n#dial 5\n", "<script>:2: unknown directive '#dial'"),
        ("#todo проверить\n", "a comment needs a space after #"),
        ("#dtmf\n", "<script>:1: #dtmf needs digits"),
        ("#dtmf 1x\n", "<script>:1: #dtmf: 'X' is not a DTMF digit"),
        ("\n\n#wait\n", "<script>:3: #wait needs a number of seconds"),
        ("#wait soon\n", "<script>:1: #wait needs a number of seconds, e.g. '#wait 2.5'; got"),
        ("#wait -1\n", "<script>:1: #wait needs a positive number"),
        ("#wait 0\n", "<script>:1: #wait needs a positive number"),
        ("#silence nan\n", "<script>:1: #silence needs a positive number"),
        ("#silence 5000\n", "<script>:1: #silence 5000: more than 600 s"),
        ("#bargein\n#dtmf 1\n", "<script>:2: #bargein on line 1 must be followed by a phrase"),
        ("привет\n#bargein\n", "<script>:2: #bargein at the end of the script"),
        ("#bargein later\nда\n", "<script>:1: #bargein needs a number of seconds"),
        ("#hangup now\n", "<script>:1: #hangup takes no argument"),
        ("#hangup\nещё\n", "<script>:2: nothing can follow #hangup (line 1)"),
        ("# только комментарий\n\n", "<script>: the script has no steps"),
    ],
)
def test_bad_lines_name_the_line(text: str, expected: str) -> None:
    with pytest.raises(ScriptError) as error:
        parse_script(text)
    assert expected in str(error.value)


def test_load_script_names_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("Алло\n#hangup\n", "utf-8")
    assert load_script(good) == [Say("Алло", 1), HangUp(2)]

    bad = tmp_path / "bad.txt"
    bad.write_text("Алло\n#wait x\n", "utf-8")
    with pytest.raises(ScriptError, match=rf"^{bad}:2: #wait"):
        load_script(bad)

    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Алло".encode("cp1251"))
    with pytest.raises(ScriptError, match="not UTF-8"):
        load_script(latin1)

    with pytest.raises(ScriptError, match="cannot read"):
        load_script(tmp_path / "missing.txt")

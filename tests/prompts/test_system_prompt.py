"""prompts/system.py: the phase-2 system prompt renders for every kind of caller, in budget."""

from __future__ import annotations

import pytest

from prompts import CallerContext, render_system_prompt
from prompts.system import CHARS_PER_TOKEN, TOKEN_BUDGET, estimated_tokens

# Long, realistic spoken status lines (as the workflow builds them from the Store API), each
# distinct so we can tell which ones were listed.
ORDERS = [
    "Заказ сто, двести сорок пять передан в доставку, ожидаемая дата — двадцать восьмое ноября",
    "Заказ сто, двести пятьдесят один собирается на складе, ожидаемая дата — первое декабря",
    "Заказ сто, двести семьдесят три ждёт вас в пункте выдачи на улице Большая Никитская",
    "Заказ сто, триста ноль восемь подтверждён, ожидаемая дата — третье декабря",
    "Заказ сто, триста девятнадцать передан в доставку, ожидаемая дата — пятое декабря",
]
NAME = "Анна-Мария Константиновна Смирнова-Преображенская"
COUNTS = [0, 1, 3, 5]


def known(count: int, name: str | None = NAME) -> CallerContext:
    return CallerContext(name=name, known=True, active_orders=ORDERS[:count])


def unknown(count: int) -> CallerContext:
    return CallerContext(active_orders=ORDERS[:count])


def withheld(count: int) -> CallerContext:
    return CallerContext(withheld=True, active_orders=ORDERS[:count])


KINDS = {"known": known, "unknown": unknown, "withheld": withheld}


def contexts() -> list[tuple[str, CallerContext]]:
    cases = [(f"{kind}-{n}", make(n)) for kind, make in KINDS.items() for n in COUNTS]
    cases += [(f"known-no-name-{n}", known(n, name=None)) for n in COUNTS]
    return cases


CASES = contexts()
IDS = [case_id for case_id, _ in CASES]


@pytest.mark.parametrize(("case_id", "ctx"), CASES, ids=IDS)
def test_renders_within_budget(case_id: str, ctx: CallerContext) -> None:
    prompt = render_system_prompt(ctx)
    assert "$" not in prompt, "a placeholder was left unfilled"
    assert estimated_tokens(prompt) <= TOKEN_BUDGET, (case_id, estimated_tokens(prompt))
    assert prompt.count("- Активный заказ:") <= 3
    assert prompt.rstrip().splitlines()[-1].startswith("- "), "the caller section is last"


@pytest.mark.parametrize("count", COUNTS)
def test_known_caller_name_and_orders(count: int) -> None:
    prompt = render_system_prompt(known(count))
    assert f"Постоянный покупатель: {NAME}." in prompt
    listed = [order for order in ORDERS if order in prompt]
    assert listed == ORDERS[: min(count, 3)]
    for order in listed:
        assert f"- Активный заказ: {order}" in prompt
    if count > 3:
        assert f"- И ещё активных заказов: {count - 3}." in prompt
    else:
        assert "И ещё" not in prompt


def test_known_caller_without_a_name() -> None:
    prompt = render_system_prompt(known(1, name=None))
    assert "имя неизвестно" in prompt
    assert "None" not in prompt
    assert ORDERS[0] in prompt


def test_unknown_caller() -> None:
    prompt = render_system_prompt(unknown(0))
    assert "- Новый покупатель." in prompt
    assert "Постоянный" not in prompt and "Активный заказ" not in prompt


@pytest.mark.parametrize("count", COUNTS)
def test_withheld_caller_hears_nothing_about_orders(count: int) -> None:
    # With a withheld CallerID nothing is verified yet: no name, no orders (tools.md rule 1).
    ctx = CallerContext(name=NAME, known=True, withheld=True, active_orders=ORDERS[:count])
    prompt = render_system_prompt(ctx)
    assert "Номер телефона скрыт" in prompt
    assert "set_contact_phone" in prompt
    assert NAME not in prompt
    assert not [order for order in ORDERS if order in prompt]
    assert "Активный заказ" not in prompt and "И ещё" not in prompt


def test_template_text_is_the_russian_prompt() -> None:
    prompt = render_system_prompt(unknown(0))
    for tool in ("get_order_status", "create_order_draft", "confirm_order", "cancel_order"):
        assert tool in prompt
    assert "Звонящий:" in prompt
    assert "не нашла заказ с таким номером на ваш номер телефона" in prompt


def test_estimated_tokens() -> None:
    assert CHARS_PER_TOKEN == 3.0
    assert estimated_tokens("") == 1
    assert estimated_tokens("а" * 300) == 101
    assert estimated_tokens("а" * 302) == 101
    assert estimated_tokens("а" * 3 * TOKEN_BUDGET) > TOKEN_BUDGET


def test_status_sentences_are_not_given_a_second_full_stop() -> None:
    sentence = ORDERS[0] + "."  # as russian.readback.status_sentence returns it
    prompt = render_system_prompt(CallerContext(name="Анна", known=True, active_orders=[sentence]))
    assert ".." not in prompt

"""Rendering the phase-2 system prompt (prompts/system_ru.md) for one caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from string import Template

PROMPT_VERSION = "2026-12-03.1"
# Budget for the rendered prompt, in estimated tokens (Russian runs ≈ 3 characters a token
# for current OpenAI tokenizers). Tools and the conversation come on top.
TOKEN_BUDGET = 900
CHARS_PER_TOKEN = 3.0

_TEMPLATE = Template(resources.files("prompts").joinpath("system_ru.md").read_text("utf-8"))


@dataclass(frozen=True)
class CallerContext:
    name: str | None = None
    withheld: bool = False
    known: bool = False
    # Spoken lines about active orders, e.g. "заказ сто, двести сорок пять — передан в доставку".
    active_orders: list[str] = field(default_factory=list)


def _caller_lines(ctx: CallerContext) -> str:
    if ctx.withheld:
        return (
            "- Номер телефона скрыт. Статус заказа называй только после номера заказа и номера "
            "телефона, на который он оформлен (set_contact_phone). Для нового заказа попроси "
            "номер для SMS и подтверди его."
        )
    lines = []
    if ctx.known and ctx.name:
        lines.append(f"- Постоянный покупатель: {ctx.name}. Номер телефона подтверждён.")
    elif ctx.known:
        lines.append("- Постоянный покупатель, имя неизвестно. Номер телефона подтверждён.")
    else:
        lines.append("- Новый покупатель. Номер телефона подтверждён, заказов нет.")
    for order in ctx.active_orders[:3]:
        lines.append(f"- Активный заказ: {order.rstrip('.')}.")
    if len(ctx.active_orders) > 3:
        lines.append(f"- И ещё активных заказов: {len(ctx.active_orders) - 3}.")
    return "\n".join(lines)


def render_system_prompt(ctx: CallerContext) -> str:
    return _TEMPLATE.substitute(caller=_caller_lines(ctx))


def estimated_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


# Said to the model when its reply broke off mid-stream and the caller already heard the start
# of it (the assistant message before this one): a retry must go on, not begin again.
CONTINUE_AFTER_CUT = (
    "Твой ответ выше оборвался, но звонящий уже услышал его. Продолжи его с того места, где "
    "он оборвался, не повторяя сказанного; если сказанного достаточно, ответь пустой строкой "
    "или вызови нужный инструмент."
)


def keypad_line(keys: str) -> str:
    """How keys pressed as a turn reach the LLM: its only channel is text, so it is told
    plainly that these were typed, not said (the guided agent gets the keys as such)."""
    return f"Набрано на клавиатуре: {keys}"

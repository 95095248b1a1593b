"""Agent tools: argument models (the single source), their strict OpenAI schemas, validation.

The same pydantic model validates what the LLM sends back and produces the JSON Schema the
LLM is given (`strict: true`: every property required, optional ones nullable, no extra
properties). Keywords OpenAI's strict mode does not accept are dropped from the schema the
LLM sees; pydantic still enforces them here.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from core.vocabulary import ToolName

Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

# What the workflow takes from one model reply. A misbehaving model can answer with
# megabytes of arguments or dozens of calls; all of it would enter the call's history, its
# state and every later request. The agent activity keeps the first MAX_TOOL_CALLS_PER_REPLY
# calls and cuts arguments to one character past MAX_ARGUMENT_CHARS, which
# `parse_arguments` then refuses with a message the model can act on.
MAX_TOOL_CALLS_PER_REPLY = 10
MAX_ARGUMENT_CHARS = 4000
MAX_TOOL_NAME_CHARS = 64
MAX_TOOL_CALL_ID_CHARS = 100


class ToolArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchProducts(ToolArgs):
    """Найти товары в каталоге по словам покупателя."""

    query: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)]
    limit: Annotated[int, Field(ge=1, le=5)] | None = 3


class GetProduct(ToolArgs):
    """Подробности о товаре: описание и остаток."""

    product_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class TransferToOperator(ToolArgs):
    """Передать звонок оператору-человеку."""

    reason: Short


class EndCall(ToolArgs):
    """Попрощаться и завершить звонок."""

    reason: Short


class GetOrderStatus(ToolArgs):
    """Статус заказов звонящего; с номером заказа — статус этого заказа."""

    order_number: Annotated[str, StringConstraints(pattern=r"^\d{3,12}$")] | None = None


class DraftItem(ToolArgs):
    product_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    quantity: Annotated[int, Field(ge=1, le=99)]


class CreateOrderDraft(ToolArgs):
    """Собрать черновик заказа. Всегда передавайте полный список товаров."""

    items: Annotated[list[DraftItem], Field(min_length=1, max_length=20)]
    customer_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None
    ) = None


# Not longer than the Store API's Address takes (store_api/contract.py): the workflow builds
# that model from these arguments, where a validation error would fail the workflow task.
class DeliveryAddress(ToolArgs):
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    street: Short
    house: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    apartment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = None


class UpdateOrderDelivery(ToolArgs):
    """Доставка черновика: курьер (адрес, дата) или самовывоз (пункт или его описание)."""

    type: Literal["courier", "pickup"]
    address: DeliveryAddress | None = None
    date: dt.date | None = Field(default=None, description="YYYY-MM-DD")
    pickup_point_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    pickup_query: Annotated[str, StringConstraints(max_length=100)] | None = None
    city: Annotated[str, StringConstraints(max_length=100)] | None = None


class ConfirmOrder(ToolArgs):
    """Подтвердить заказ. Первый вызов — зачитать заказ; второй, после «да», — оформить."""


class CancelOrder(ToolArgs):
    """Отменить оформляемый заказ."""

    reason: Short


class SetContactPhone(ToolArgs):
    """Номер телефона, названный звонящим (только если номер скрыт)."""

    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=32)]


T = ToolName

TOOL_MODELS: dict[ToolName, type[ToolArgs]] = {
    T.SEARCH_PRODUCTS: SearchProducts,
    T.GET_PRODUCT: GetProduct,
    T.TRANSFER_TO_OPERATOR: TransferToOperator,
    T.END_CALL: EndCall,
    T.GET_ORDER_STATUS: GetOrderStatus,
    T.CREATE_ORDER_DRAFT: CreateOrderDraft,
    T.UPDATE_ORDER_DELIVERY: UpdateOrderDelivery,
    T.CONFIRM_ORDER: ConfirmOrder,
    T.CANCEL_ORDER: CancelOrder,
    T.SET_CONTACT_PHONE: SetContactPhone,
}

# JSON Schema keywords OpenAI's strict mode rejects; pydantic enforces them on the way back.
_UNSUPPORTED = {"minLength", "maxLength", "default", "title", "format"}


def _strict(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _strict(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    out: dict[str, Any] = {k: v for k, v in schema.items() if k not in _UNSUPPORTED}
    if "anyOf" in out:
        out["anyOf"] = [_strict(option, defs) for option in out["anyOf"]]
    if out.get("type") == "object" or "properties" in out:
        properties = out.get("properties", {})
        out["properties"] = {name: _strict(prop, defs) for name, prop in properties.items()}
        out["required"] = list(properties)
        out["additionalProperties"] = False
        out["type"] = "object"
    if "items" in out:
        out["items"] = _strict(out["items"], defs)
    return out


@functools.cache
def openai_tool(name: ToolName) -> dict[str, Any]:
    """One tool's definition for the model (made once: a request with every tool would spend
    milliseconds building schemas while the caller waits). Do not change what it returns."""
    model = TOOL_MODELS[name]
    schema = model.model_json_schema()
    parameters = _strict(schema, schema.get("$defs", {}))
    parameters.pop("$defs", None)
    parameters.pop("description", None)
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": (model.__doc__ or name).strip(),
            "parameters": parameters,
            "strict": True,
        },
    }


def openai_tools(names: Iterable[ToolName]) -> list[dict[str, Any]]:
    """The tools offered to the LLM, in a stable order (the table's order)."""
    offered = set(names)
    return [openai_tool(name) for name in TOOL_MODELS if name in offered]


def bounded_arguments(arguments: str) -> str:
    """`arguments` as the workflow may take them: cut to one character past the limit, so
    `parse_arguments` still refuses them as too long."""
    return arguments[: MAX_ARGUMENT_CHARS + 1]


@dataclass(frozen=True)
class ToolArgumentError:
    """Why arguments were refused, worded for the LLM to correct itself."""

    message: str


def tool_named(name: str) -> ToolName | None:
    """The tool a model's call names; None for a name that is no tool of ours."""
    try:
        return ToolName(name)
    except ValueError:
        return None


def parse_arguments(name: str, arguments: str) -> ToolArgs | ToolArgumentError:
    tool = tool_named(name)
    if tool is None:
        return ToolArgumentError(f"Нет инструмента {name!r}.")
    model = TOOL_MODELS[tool]
    if len(arguments) > MAX_ARGUMENT_CHARS:
        return ToolArgumentError(f"Аргументы длиннее {MAX_ARGUMENT_CHARS} символов.")
    try:
        raw = json.loads(arguments or "{}")
    except (ValueError, RecursionError):  # "[[[[…" nests past the parser's limit
        return ToolArgumentError("Аргументы не являются JSON-объектом.")
    if isinstance(raw, dict):
        # strict mode sends nulls for absent optional fields; treat them as absent
        raw = {key: value for key, value in raw.items() if value is not None}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'аргументы'}: {e['msg']}"
            for e in exc.errors(include_url=False)[:3]
        )
        return ToolArgumentError(f"Неверные аргументы: {problems}")

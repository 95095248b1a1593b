"""prompts/tools.py: strict OpenAI schemas from the argument models, and argument parsing."""

from __future__ import annotations

import datetime as dt
import json
import re
import types
from typing import Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

from core.vocabulary import ToolName
from prompts.tools import (
    TOOL_MODELS,
    CreateOrderDraft,
    DeliveryAddress,
    GetOrderStatus,
    SearchProducts,
    ToolArgs,
    ToolArgumentError,
    UpdateOrderDelivery,
    openai_tool,
    openai_tools,
    parse_arguments,
    tool_named,
)

TOOLS = sorted(TOOL_MODELS)
# Keywords OpenAI's strict mode refuses (and the ones pydantic adds that it does not need).
FORBIDDEN = {"minLength", "maxLength", "default", "title", "format"}
CYRILLIC = re.compile(r"[А-Яа-яЁё]")

T = ToolName


def nodes(schema: Any, path: str = "$") -> list[tuple[str, dict[str, Any]]]:
    """Every schema node (the schema itself, properties, items, anyOf options), with a path."""
    assert isinstance(schema, dict), path
    found = [(path, schema)]
    for name, prop in schema.get("properties", {}).items():
        found += nodes(prop, f"{path}.{name}")
    if "items" in schema:
        found += nodes(schema["items"], f"{path}[]")
    for i, option in enumerate(schema.get("anyOf", [])):
        found += nodes(option, f"{path}|{i}")
    return found


def is_nullable(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "null" or any(
        option.get("type") == "null" for option in schema.get("anyOf", [])
    )


def non_null(schema: dict[str, Any]) -> dict[str, Any]:
    if "anyOf" in schema:
        options: list[dict[str, Any]] = [
            option for option in schema["anyOf"] if option.get("type") != "null"
        ]
        assert len(options) == 1, schema
        return options[0]
    return schema


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside `Model`, `Model | None` or `list[Model]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType, list):
        for arg in get_args(annotation):
            model = nested_model(arg)
            if model is not None:
                return model
    return None


def check_object(model: type[BaseModel], schema: dict[str, Any], path: str) -> None:
    """The object schema of `model`: closed, all properties required, optional ones nullable."""
    assert schema.get("type") == "object", path
    assert schema.get("additionalProperties") is False, path
    assert set(schema["properties"]) == set(model.model_fields), path
    assert schema["required"] == list(schema["properties"]), path
    for name, field in model.model_fields.items():
        prop = schema["properties"][name]
        where = f"{path}.{name}"
        assert is_nullable(prop) is (not field.is_required()), where
        inner = nested_model(field.annotation)
        if inner is not None:
            node = non_null(prop)
            if node.get("type") == "array":
                node = node["items"]
            check_object(inner, node, where)


@pytest.mark.parametrize("name", TOOLS)
def test_function_envelope(name: ToolName) -> None:
    tool = openai_tool(name)
    assert set(tool) == {"type", "function"}
    assert tool["type"] == "function"
    function = tool["function"]
    assert function["name"] == name
    assert function["strict"] is True
    assert CYRILLIC.search(function["description"]), "descriptions are Russian, for the LLM"
    json.dumps(tool)  # plain JSON, no pydantic objects left


@pytest.mark.parametrize("name", TOOLS)
def test_every_object_is_closed_and_fully_required(name: ToolName) -> None:
    parameters = openai_tool(name)["function"]["parameters"]
    check_object(TOOL_MODELS[name], parameters, name)
    for path, node in nodes(parameters):
        if node.get("type") == "object" or "properties" in node:
            assert node["additionalProperties"] is False, path
            assert sorted(node["required"]) == sorted(node["properties"]), path


@pytest.mark.parametrize("name", TOOLS)
def test_no_keywords_strict_mode_refuses(name: ToolName) -> None:
    parameters = openai_tool(name)["function"]["parameters"]
    assert "$defs" not in parameters
    for path, node in nodes(parameters):
        assert not FORBIDDEN & set(node), (path, FORBIDDEN & set(node))
        assert "$ref" not in node, path  # definitions are inlined: nothing left to resolve


def test_nested_models_are_inlined() -> None:
    delivery = openai_tool(T.UPDATE_ORDER_DELIVERY)["function"]["parameters"]
    address = non_null(delivery["properties"]["address"])
    assert set(address["properties"]) == set(DeliveryAddress.model_fields)
    assert is_nullable(address["properties"]["apartment"])
    assert not is_nullable(address["properties"]["city"])
    draft = openai_tool(T.CREATE_ORDER_DRAFT)["function"]["parameters"]
    item = draft["properties"]["items"]["items"]
    assert item["required"] == ["product_id", "quantity"]
    assert item["properties"]["quantity"] == {"type": "integer", "minimum": 1, "maximum": 99}


def test_constraints_strict_mode_accepts_are_kept() -> None:
    draft = openai_tool(T.CREATE_ORDER_DRAFT)["function"]["parameters"]
    assert draft["properties"]["items"]["minItems"] == 1
    assert draft["properties"]["items"]["maxItems"] == 20
    status = openai_tool(T.GET_ORDER_STATUS)["function"]["parameters"]
    assert non_null(status["properties"]["order_number"])["pattern"] == r"^\d{3,12}$"
    delivery = openai_tool(T.UPDATE_ORDER_DELIVERY)["function"]["parameters"]
    assert delivery["properties"]["type"]["enum"] == ["courier", "pickup"]
    assert not is_nullable(delivery["properties"]["type"])


def test_confirm_order_takes_no_arguments() -> None:
    parameters = openai_tool(T.CONFIRM_ORDER)["function"]["parameters"]
    assert parameters == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }


def test_schema_does_not_alter_the_model_schema() -> None:
    before = UpdateOrderDelivery.model_json_schema()
    openai_tool(T.UPDATE_ORDER_DELIVERY)
    assert UpdateOrderDelivery.model_json_schema() == before


def test_openai_tools_keeps_table_order_and_filters() -> None:
    names = {T.END_CALL, T.CONFIRM_ORDER, T.SEARCH_PRODUCTS}
    tools = openai_tools(frozenset(names))
    assert [t["function"]["name"] for t in tools] == [n for n in TOOL_MODELS if n in names]
    assert openai_tools(set()) == []


def test_a_name_that_is_no_tool_of_ours_is_none() -> None:
    assert tool_named("delete_everything") is None
    assert tool_named("confirm_order") is T.CONFIRM_ORDER


# --- parse_arguments ---------------------------------------------------------------------

VALID: list[tuple[str, dict[str, Any]]] = [
    ("search_products", {"query": "гречка", "limit": 2}),
    ("search_products", {"query": "гречка", "limit": None}),
    ("get_product", {"product_id": "p-1"}),
    ("transfer_to_operator", {"reason": "просит человека"}),
    ("end_call", {"reason": "попрощался"}),
    ("get_order_status", {"order_number": None}),
    ("get_order_status", {"order_number": "100245"}),
    (
        "create_order_draft",
        {"items": [{"product_id": "p-1", "quantity": 2}], "customer_name": None},
    ),
    (
        "create_order_draft",
        {
            "items": [{"product_id": f"p-{i}", "quantity": 99} for i in range(20)],
            "customer_name": "Анна",
        },
    ),
    (
        "update_order_delivery",
        {
            "type": "courier",
            "address": {"city": "Москва", "street": "Тверская", "house": "7", "apartment": None},
            "date": "2026-11-30",
            "pickup_point_id": None,
            "pickup_query": None,
            "city": None,
        },
    ),
    (
        "update_order_delivery",
        {
            "type": "pickup",
            "address": None,
            "date": None,
            "pickup_point_id": None,
            "pickup_query": "у метро Сокол",
            "city": "Москва",
        },
    ),
    ("confirm_order", {}),
    ("cancel_order", {"reason": "передумал"}),
    ("set_contact_phone", {"phone": "8 916 123-45-67"}),
]


@pytest.mark.parametrize(
    ("name", "arguments"), VALID, ids=[f"{n}-{i}" for i, (n, _) in enumerate(VALID)]
)
def test_valid_arguments(name: str, arguments: dict[str, Any]) -> None:
    parsed = parse_arguments(name, json.dumps(arguments, ensure_ascii=False))
    assert isinstance(parsed, TOOL_MODELS[ToolName(name)])


def test_values_arrive_typed() -> None:
    parsed = parse_arguments("update_order_delivery", json.dumps(VALID[9][1]))
    assert isinstance(parsed, UpdateOrderDelivery)
    assert parsed.date == dt.date(2026, 11, 30)
    assert parsed.address == DeliveryAddress(city="Москва", street="Тверская", house="7")
    draft = parse_arguments("create_order_draft", json.dumps(VALID[8][1]))
    assert isinstance(draft, CreateOrderDraft)
    assert len(draft.items) == 20 and draft.customer_name == "Анна"


def test_nulls_are_treated_as_absent() -> None:
    parsed = parse_arguments("search_products", '{"query": "гречка", "limit": null}')
    assert parsed == SearchProducts(query="гречка", limit=3)  # the default, not None
    status = parse_arguments("get_order_status", '{"order_number": null}')
    assert status == GetOrderStatus(order_number=None)


def test_omitted_optional_fields_and_empty_arguments() -> None:
    assert parse_arguments("search_products", '{"query": "гречка"}') == SearchProducts(
        query="гречка", limit=3
    )
    assert isinstance(parse_arguments("confirm_order", ""), ToolArgs)
    assert isinstance(parse_arguments("get_order_status", "{}"), GetOrderStatus)


def test_strings_are_stripped() -> None:
    parsed = parse_arguments("search_products", '{"query": "  молоко  "}')
    assert isinstance(parsed, SearchProducts) and parsed.query == "молоко"


def draft_with(quantity: int, count: int = 1) -> str:
    items = [{"product_id": f"p-{i}", "quantity": quantity} for i in range(count)]
    return json.dumps({"items": items, "customer_name": None})


INVALID: list[tuple[str, str, str]] = [
    # (tool, arguments, a fragment the message must contain)
    ("search_products", "{not json", "JSON"),
    ("search_products", '{"query": "гречка"', "JSON"),
    ("search_products", "[]", "Неверные аргументы"),
    ("search_products", "null", "Неверные аргументы"),
    ("search_products", '"гречка"', "Неверные аргументы"),
    # past MAX_ARGUMENT_CHARS (and Python's int-from-string limit): refused before parsing
    ("search_products", "9" * 5000, "длиннее"),
    ("create_order_draft", draft_with(0), "items.0.quantity"),
    ("create_order_draft", draft_with(100), "items.0.quantity"),
    ("create_order_draft", draft_with(-1), "items.0.quantity"),
    ("create_order_draft", draft_with(1, count=21), "items"),
    ("create_order_draft", draft_with(1, count=0), "items"),
    ("create_order_draft", '{"items": [{"product_id": "p", "quantity": 1.5}]}', "quantity"),
    ("create_order_draft", '{"items": [{"product_id": "p", "quantity": 1, "price": 0}]}', "price"),
    ("search_products", '{"query": "г"}', "query"),
    ("search_products", '{"query": "  г  "}', "query"),
    ("search_products", '{"query": "' + "г" * 101 + '"}', "query"),
    ("search_products", '{"query": "гречка", "limit": 6}', "limit"),
    ("search_products", '{"query": "гречка", "limit": NaN}', "limit"),
    ("search_products", '{"query": null}', "query"),
    ("search_products", "{}", "query"),
    ("get_order_status", '{"order_number": "10o245"}', "order_number"),
    ("get_order_status", '{"order_number": "сто два"}', "order_number"),
    ("get_order_status", '{"order_number": "12"}', "order_number"),
    ("get_order_status", '{"order_number": "100245", "phone": "+79161234567"}', "phone"),
    ("update_order_delivery", '{"type": "drone"}', "type"),
    ("update_order_delivery", '{"type": "courier", "date": "30.11.2026"}', "date"),
    ("update_order_delivery", '{"type": "courier", "address": {"city": "Москва"}}', "address"),
    ("confirm_order", '{"total": 0}', "total"),
    ("cancel_order", '{"reason": "   "}', "reason"),
    ("set_contact_phone", '{"phone": "123"}', "phone"),
    ("delete_everything", "{}", "delete_everything"),
]


@pytest.mark.parametrize(
    ("name", "arguments", "fragment"),
    INVALID,
    ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(INVALID)],
)
def test_invalid_arguments_become_a_russian_error(name: str, arguments: str, fragment: str) -> None:
    result = parse_arguments(name, arguments)
    assert isinstance(result, ToolArgumentError), result
    assert fragment in result.message
    assert CYRILLIC.search(result.message), result.message


def test_error_lists_at_most_three_problems() -> None:
    result = parse_arguments(
        "update_order_delivery",
        json.dumps({"type": "x", "date": "x", "pickup_point_id": 1, "pickup_query": 2, "city": 3}),
    )
    assert isinstance(result, ToolArgumentError)
    assert result.message.startswith("Неверные аргументы: ")
    assert result.message.count(";") == 2


def test_whole_payload_error_is_named_in_russian() -> None:
    result = parse_arguments("end_call", "[1, 2]")
    assert isinstance(result, ToolArgumentError)
    assert result.message.startswith("Неверные аргументы: аргументы: ")


def test_deeply_nested_json_is_an_error_not_an_exception() -> None:
    result = parse_arguments("search_products", "[" * 5000)
    assert isinstance(result, ToolArgumentError)

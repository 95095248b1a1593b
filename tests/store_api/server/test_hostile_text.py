"""Hostile text never answers 5xx: a NUL in any text field of any request is refused with 422.

The cases are generated from the OpenAPI document (the one the server publishes), so a new
field, body or query parameter is covered without touching this file. Free text (names,
comments, reasons) keeps tab, newline and carriage return; every other control character is
refused, and a one-line field refuses those too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from store_api.contract import INBOUND, CancelOrder
from store_api.server.openapi import build_openapi
from tests.store_api.server.conftest import COURIER_MOSCOW, fresh_phone, new_draft, new_key

SPEC = build_openapi()
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
NUL = "\u0000"
CONTROL_PROBLEM = "must not contain control characters"


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def example(schema: dict[str, Any]) -> Any:
    """A valid value for `schema` with every optional property filled in."""
    schema = resolve(schema)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return example(next(s for s in schema["anyOf"] if s.get("type") != "null"))
    kind = schema.get("type")
    if kind == "object":
        return {name: example(sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [example(schema["items"]) for _ in range(max(schema.get("minItems", 1), 1))]
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "string":
        if schema.get("format") == "date":
            return "2030-01-15"
        return "x" * max(schema.get("minLength", 0), 1)
    raise AssertionError(f"no example for {schema}")


def text_leaves(schema: dict[str, Any], path: tuple[str | int, ...] = ()) -> Iterator[Leaf]:
    schema = resolve(schema)
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            yield from text_leaves(option, path)
    elif schema.get("type") == "object":
        for name, sub in schema.get("properties", {}).items():
            yield from text_leaves(sub, (*path, name))
    elif schema.get("type") == "array":
        yield from text_leaves(schema["items"], (*path, 0))
    elif schema.get("type") == "string":
        yield Leaf(path, schema)


@dataclass(frozen=True)
class Leaf:
    path: tuple[str | int, ...]
    schema: dict[str, Any]

    @property
    def free_form(self) -> bool:
        """Plain text, checked by the control-character rule (not an enum, tag or date)."""
        return not {"const", "enum", "format"} & set(self.schema)


@dataclass(frozen=True)
class BodyCase:
    method: str
    path: str
    body: dict[str, Any]
    leaf: Leaf
    idempotent: bool

    def __str__(self) -> str:
        kind = self.body.get("type")
        where = ".".join(map(str, self.leaf.path))
        return f"{self.method} {self.path} {f'{kind}:' if kind else ''}{where}"


def body_cases() -> Iterator[BodyCase]:
    for path, operations in SPEC["paths"].items():
        for method, operation in operations.items():
            if "requestBody" not in operation:
                continue
            schema = resolve(operation["requestBody"]["content"]["application/json"]["schema"])
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            # A discriminated union is one body per variant.
            for variant in schema.get("oneOf", [schema]):
                base = example(variant)
                for leaf in text_leaves(variant):
                    yield BodyCase(method, path, base, leaf, "Idempotency-Key" in headers)


def with_value(body: dict[str, Any], path: tuple[str | int, ...], value: str) -> dict[str, Any]:
    copy: Any = example_copy(body)
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return dict(copy)


def example_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: example_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [example_copy(v) for v in value]
    return value


def url(path: str) -> str:
    # Random ids: bodies are validated before any order is looked up.
    return re.sub(r"\{[a-z_]+\}", lambda _: str(uuid.uuid4()), path)


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    return dict(body["error"])


BODY_CASES = list(body_cases())


def test_every_body_and_text_field_is_in_the_table() -> None:
    named = {str(case) for case in BODY_CASES}
    for expected in (
        "post /orders customer.phone",
        "post /orders customer.name",
        "post /orders items.0.product_id",
        "post /orders call_id",
        "post /orders comment",
        "patch /orders/{order_id}/delivery courier:address.street",
        "patch /orders/{order_id}/delivery courier:address.comment",
        "patch /orders/{order_id}/delivery pickup:pickup_point_id",
        "post /orders/{order_id}/cancel reason",
    ):
        assert expected in named


@pytest.mark.parametrize("case", BODY_CASES, ids=str)
async def test_nul_in_any_body_text_field_is_a_422_naming_it(
    api: httpx.AsyncClient, case: BodyCase
) -> None:
    leaf = case.leaf
    original = example_copy(case.body)
    for part in leaf.path:
        original = original[part]
    body = with_value(case.body, leaf.path, f"{original}{NUL}")
    headers = new_key() if case.idempotent else {}
    response = await api.request(case.method.upper(), url(case.path), json=body, headers=headers)
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    if leaf.path == ("type",):
        return  # the union's tag: "no such delivery type", reported for the body
    where = ".".join(map(str, leaf.path))
    problems = [e for e in error["details"]["errors"] if e["field"].endswith(where)]
    assert problems, error
    if leaf.free_form:
        assert CONTROL_PROBLEM in problems[0]["problem"], error


@dataclass(frozen=True)
class ParamCase:
    path: str
    name: str
    location: str
    params: dict[str, str]

    def __str__(self) -> str:
        return f"get {self.path} {self.location}:{self.name}"


def param_cases() -> Iterator[ParamCase]:
    for path, operations in SPEC["paths"].items():
        operation = operations.get("get", {})
        declared = operation.get("parameters", [])
        required = {p["name"]: str(example(p["schema"])) for p in declared if p["required"]}
        for param in declared:
            if param["in"] in ("query", "path"):
                base = required.get(param["name"]) or str(example(param["schema"]))
                yield ParamCase(
                    path, param["name"], param["in"], {**required, param["name"]: base + NUL}
                )


PARAM_CASES = list(param_cases())


def test_every_query_parameter_is_in_the_table() -> None:
    named = {str(case) for case in PARAM_CASES}
    for expected in ("q", "limit"):
        assert f"get /products/search query:{expected}" in named
    for expected in ("phone", "number", "status", "limit"):
        assert f"get /orders/search query:{expected}" in named
    assert "get /delivery/calculate query:street" in named
    assert "get /orders/{order_id} path:order_id" in named


@pytest.mark.parametrize("case", PARAM_CASES, ids=str)
async def test_nul_in_any_query_or_path_parameter_is_refused(
    api: httpx.AsyncClient, case: ParamCase
) -> None:
    if case.location == "path":
        target = case.path.replace(f"{{{case.name}}}", case.params[case.name].replace(NUL, "%00"))
        response = await api.get(target)
        # Ids are UUIDs: anything else names no object.
        assert response.status_code == 404, response.text
        assert error_of(response)["code"].endswith("NOT_FOUND")
        return
    query = {k: v for k, v in case.params.items() if f"{{{k}}}" not in case.path}
    response = await api.get(url(case.path), params=query)
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in error["details"]["errors"]] == [case.name], error


async def test_free_text_keeps_tab_newline_and_cr(api: httpx.AsyncClient) -> None:
    draft = await new_draft(api)
    product = draft["items"][0]
    name, comment = "Анна\tКарловна", "домофон 12\r\nкод 34\n"
    created = await api.post(
        "/orders",
        headers=new_key(),
        json={
            "customer": {"phone": fresh_phone(), "name": name},
            "items": [{"product_id": product["product_id"], "quantity": 1}],
            "comment": comment,
        },
    )
    assert created.status_code == 201, created.text
    order = created.json()
    assert (order["customer"]["name"], order["comment"]) == (name, comment)

    address = {**COURIER_MOSCOW["address"], "comment": "подъезд 2\nэтаж 5"}
    delivery = await api.patch(
        f"/orders/{order['id']}/delivery", json={**COURIER_MOSCOW, "address": address}
    )
    assert delivery.status_code == 200, delivery.text
    assert delivery.json()["delivery"]["address"]["comment"] == "подъезд 2\nэтаж 5"

    cancelled = await api.post(
        f"/orders/{order['id']}/cancel", headers=new_key(), json={"reason": "передумал\nсовсем"}
    )
    assert cancelled.status_code == 200, cancelled.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("comment", "звонок\x07"),
        ("comment", "стереть\x7f"),
        ("comment", "\x1b[31mкрасный"),
        ("call_id", "call\n42"),
        ("call_id", "call\t42"),
    ],
    ids=["bell", "del", "escape", "newline-in-one-line", "tab-in-one-line"],
)
async def test_other_control_characters_are_refused(
    api: httpx.AsyncClient, field: str, value: str
) -> None:
    draft = await new_draft(api)
    body = {
        "customer": {"phone": fresh_phone()},
        "items": [{"product_id": draft["items"][0]["product_id"], "quantity": 1}],
        field: value,
    }
    response = await api.post("/orders", headers=new_key(), json=body)
    assert response.status_code == 422, response.text
    problems = error_of(response)["details"]["errors"]
    assert problems[0]["field"] == field and CONTROL_PROBLEM in problems[0]["problem"]


def test_the_published_schema_states_the_rule_for_every_request_text_field() -> None:
    """A new text field without the rule would reach PostgreSQL with whatever it holds."""
    unruled = [
        str(case)
        for case in BODY_CASES
        if case.leaf.free_form and not case.leaf.schema.get("pattern", "").startswith("^[^\\u0000")
    ]
    assert unruled == []
    for path, operations in SPEC["paths"].items():
        for operation in operations.values():
            for param in operation.get("parameters", []):
                schema = param["schema"]
                text = schema.get("type") == "string" and "enum" not in schema
                if param["in"] == "query" and text:
                    assert schema["pattern"].startswith("^[^\\u0000"), (path, param["name"])


def test_the_rule_holds_where_the_server_reads_not_where_a_workflow_builds() -> None:
    """The workflow builds requests from an LLM's tool arguments: a validation error there
    would fail its workflow task, so the server's 422 is where such text is refused."""
    built = CancelOrder(reason="стоп\x00")
    assert built.reason == "стоп\x00"
    with pytest.raises(ValidationError, match="must not contain control characters"):
        CancelOrder.model_validate_json(built.model_dump_json(), context=INBOUND)

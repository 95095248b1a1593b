"""The LLM's tool arguments are never wider than the Store API requests the workflow builds
from them (a value the contract refuses would raise inside workflow code and fail the
workflow task), and SEC6's items per order and quantity per item hold at the tool too."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from prompts.tools import (
    MAX_ARGUMENT_CHARS,
    CreateOrderDraft,
    DeliveryAddress,
    ToolArgumentError,
    UpdateOrderDelivery,
    bounded_arguments,
    parse_arguments,
)
from store_api.contract import (
    INBOUND,
    MAX_ITEMS_PER_ORDER,
    MAX_QUANTITY,
    Address,
    CreateOrder,
    CustomerRef,
    OrderItemIn,
    PickupDeliveryIn,
)

LONGEST_ADDRESS = {"city": "г" * 100, "street": "у" * 200, "house": "д" * 20, "apartment": "к" * 20}


def draft(items: int = 1, quantity: int = 1, name: str | None = None) -> dict[str, Any]:
    lines = [{"product_id": f"{'p' * 60}{i:04d}", "quantity": quantity} for i in range(items)]
    return {"items": lines, "customer_name": name}


def test_the_longest_address_the_tool_takes_is_one_the_store_takes() -> None:
    address = DeliveryAddress.model_validate(LONGEST_ADDRESS)
    Address.model_validate(address.model_dump(), context=INBOUND)
    for field in LONGEST_ADDRESS:
        longer = {**LONGEST_ADDRESS, field: LONGEST_ADDRESS[field] + "я"}
        with pytest.raises(ValidationError):
            DeliveryAddress.model_validate(longer)


def test_the_largest_draft_the_tool_takes_is_one_the_store_takes() -> None:
    args = CreateOrderDraft.model_validate(draft(MAX_ITEMS_PER_ORDER, MAX_QUANTITY, "И" * 100))
    CreateOrder(
        customer=CustomerRef(phone="+79161234567", name=args.customer_name),
        items=[OrderItemIn(product_id=i.product_id, quantity=i.quantity) for i in args.items],
    )
    assert (MAX_ITEMS_PER_ORDER, MAX_QUANTITY) == (20, 99)  # quality.md SEC6, store-api.md


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        (draft(items=MAX_ITEMS_PER_ORDER + 1), "items"),
        (draft(quantity=MAX_QUANTITY + 1), "items.0.quantity"),
        (draft(quantity=0), "items.0.quantity"),
        (draft(name="И" * 101), "customer_name"),
        (draft(items=0), "items"),
    ],
)
def test_one_past_a_draft_limit_is_a_tool_error(arguments: dict[str, Any], field: str) -> None:
    refused = parse_arguments("create_order_draft", json.dumps(arguments))
    assert isinstance(refused, ToolArgumentError)
    assert refused.message.startswith(f"Неверные аргументы: {field}")


def test_a_pickup_point_id_the_tool_takes_is_one_the_store_takes() -> None:
    args = UpdateOrderDelivery.model_validate({"type": "pickup", "pickup_point_id": "p" * 64})
    assert args.pickup_point_id is not None
    PickupDeliveryIn(type="pickup", pickup_point_id=args.pickup_point_id)
    for bad in ("", "p" * 65):
        with pytest.raises(ValidationError):
            UpdateOrderDelivery.model_validate({"type": "pickup", "pickup_point_id": bad})


def test_arguments_longer_than_the_limit_are_refused_even_when_cut() -> None:
    huge = '{"query": "' + "а" * 1_000_000 + '"}'
    cut = bounded_arguments(huge)
    assert len(cut) == MAX_ARGUMENT_CHARS + 1
    refused = parse_arguments("search_products", cut)
    assert refused == ToolArgumentError(f"Аргументы длиннее {MAX_ARGUMENT_CHARS} символов.")
    exactly = "{" + " " * (MAX_ARGUMENT_CHARS - 2) + "}"  # at the limit: taken as it is
    assert parse_arguments("confirm_order", exactly) == parse_arguments("confirm_order", "{}")
    assert isinstance(parse_arguments("confirm_order", exactly + " "), ToolArgumentError)

"""Building blocks for LLM scripts: what the fake model answers, step by step."""

from __future__ import annotations

from typing import Any

from tests.support.fake_llm import Reply, last_tool_result


def pick_product(quantity: int, *, index: int = 0) -> Reply:
    """create_order_draft with the `index`-th in-stock product of the latest search."""

    def build(request: dict[str, Any]) -> Reply:
        items = [i for i in last_tool_result(request, "search_products")["items"] if i["in_stock"]]
        return Reply.tool(
            "create_order_draft",
            {"items": [{"product_id": items[index]["product_id"], "quantity": quantity}]},
        )

    return Reply.dynamic(build)


def choose_pickup(index: int = 0) -> Reply:
    """update_order_delivery with one of the candidates the last pickup query offered."""

    def build(request: dict[str, Any]) -> Reply:
        candidates = last_tool_result(request, "update_order_delivery")["choose_one"]
        return Reply.tool(
            "update_order_delivery",
            {"type": "pickup", "pickup_point_id": candidates[index]["pickup_point_id"]},
        )

    return Reply.dynamic(build)


COURIER_TVERSKAYA = {
    "type": "courier",
    "address": {"city": "Москва", "street": "Тверская", "house": "7", "apartment": "12"},
}


def search(query: str) -> Reply:
    return Reply.tool("search_products", {"query": query})


def say(text: str) -> Reply:
    return Reply.text(text)

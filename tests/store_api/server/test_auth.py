"""Every endpoint but /health and /openapi.json needs the bearer token."""

from __future__ import annotations

import httpx
import pytest

from store_api.server.openapi import OPERATIONS

PROTECTED = [op for op in OPERATIONS if not op.public]
SAMPLE_ID = "00000000-0000-0000-0000-000000000000"


def _url(path: str) -> str:
    return path.replace("{order_id}", SAMPLE_ID).replace("{product_id}", SAMPLE_ID)


@pytest.mark.parametrize("op", PROTECTED, ids=lambda op: f"{op.method} {op.path}")
async def test_protected_endpoints_refuse_missing_and_wrong_tokens(
    anonymous: httpx.AsyncClient, op: object
) -> None:
    from store_api.server.openapi import Operation

    assert isinstance(op, Operation)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        response = await anonymous.request(op.method.upper(), _url(op.path), headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_admin_endpoints_need_the_token_too(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.delete("/admin/faults")
    assert response.status_code == 401


async def test_health_and_openapi_are_public(anonymous: httpx.AsyncClient) -> None:
    health = await anonymous.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "db": "ok"}
    spec = await anonymous.get("/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["openapi"] == "3.1.0"


async def test_request_id_is_echoed_or_generated(api: httpx.AsyncClient) -> None:
    echoed = await api.get("/health", headers={"X-Request-Id": "call-42.turn-3"})
    assert echoed.headers["X-Request-Id"] == "call-42.turn-3"
    generated = await api.get("/health")
    assert len(generated.headers["X-Request-Id"]) >= 16


async def test_unknown_route_and_method_have_the_error_shape(api: httpx.AsyncClient) -> None:
    missing = await api.get("/no-such-thing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"
    wrong_method = await api.delete("/products/search")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "METHOD_NOT_ALLOWED"

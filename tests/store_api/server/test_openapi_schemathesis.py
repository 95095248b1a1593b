"""SEC2: schemathesis against the published OpenAPI finds no 5xx and no schema violation."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx

from store_api.server.openapi import OPERATIONS
from tests.support.servers import StoreApiServer

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)


async def test_openapi_lists_every_operation(anonymous: httpx.AsyncClient) -> None:
    spec = (await anonymous.get("/openapi.json")).json()
    documented = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    for op in OPERATIONS:
        assert (op.method, op.path) in documented
    assert not any(path.startswith("/admin") for path in spec["paths"]), "admin is not public"
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_schemathesis_finds_no_server_errors_or_schema_violations(
    store_api: StoreApiServer, tmp_path: Path
) -> None:
    schemathesis = Path(sys.executable).with_name("schemathesis")
    process = await asyncio.create_subprocess_exec(
        str(schemathesis),
        "run",
        f"{store_api.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {store_api.token}",
        "--checks",
        CHECKS,
        "--max-examples",
        "40",
        "--seed",
        "20261127",
        "--generation-database",
        "none",
        "--workers",
        "2",
        "--request-timeout",
        "20",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 600)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-8000:]

"""voiceorder/codec_server.py over real HTTP, and Temporal's own CLI decoding through it.

The protocol is Temporal's remote codec: POST …/encode and …/decode with Payloads as
protobuf JSON, X-Namespace, a CORS preflight from the Web UI's origin. Access: an allowed
address or a bearer token, and an allowed Origin for browsers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.testing import WorkflowEnvironment

from core.payload_codec import ENCODING, KEY_ID, EncryptionCodec
from core.payload_keys import PayloadKeys, key_entry
from core.settings import Settings
from tests.support.payload_keys import TEST_PAYLOAD_KEYS
from tests.support.temporal import temporal_dev_server
from voiceorder.codec_server import CodecService, build_app
from voiceorder.stack.temporal import temporal_binary

UI = "http://127.0.0.1:8233"
TOKEN = "operator-token-0123456789"
CALLER = {"caller_number": "+79161234567", "text": "Москва, Тверская, 7"}

Serve = Callable[..., Coroutine[Any, Any, str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Starts codec servers with the given settings; each on a free port, stopped after."""
    servers: list[TestServer] = []

    async def start(**values: Any) -> str:
        settings = Settings(
            _env_file=None,
            temporal_namespace="default",
            codec_server_origins=UI,
            codec_server_tokens=SecretStr(TOKEN),
            **values,
        )
        server = TestServer(
            build_app(CodecService.from_settings(settings, EncryptionCodec(TEST_PAYLOAD_KEYS))),
            host="127.0.0.1",
        )
        await server.start_server()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        await server.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def json_payload(value: object) -> dict[str, Any]:
    data = json.dumps(value, ensure_ascii=False).encode()
    return {"metadata": {"encoding": b64(b"json/plain")}, "data": b64(data)}


async def post(url: str, body: object, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url, json=body, headers=headers)


async def test_encode_then_decode_round_trips_through_ciphertext(serve: Serve) -> None:
    base = await serve()
    sent = {"payloads": [json_payload(CALLER)]}
    encoded = await post(f"{base}/encode", sent, **{"X-Namespace": "default"})
    assert encoded.status_code == 200, encoded.text
    [sealed] = encoded.json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING
    assert base64.b64decode(sealed["metadata"][KEY_ID]).decode() == TEST_PAYLOAD_KEYS.current
    assert "79161234567" not in encoded.text and "Тверская" not in encoded.text
    decoded = await post(f"{base}/decode", encoded.json())
    assert decoded.status_code == 200
    assert decoded.json() == sent


async def test_only_the_last_part_of_the_path_counts(serve: Serve) -> None:
    base = await serve()
    body = {"payloads": [json_payload("x")]}
    # The Web UI appends a query; a proxy may mount the server under a prefix.
    assert (await post(f"{base}/codec/default/encode?preserveStorageRefs=true", body)).is_success
    assert (await post(f"{base}/download", body)).status_code == 404


async def test_cors_preflight_for_the_web_ui_only(serve: Serve) -> None:
    base = await serve()
    async with httpx.AsyncClient(timeout=10) as http:
        asked = {
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        }
        ok = await http.options(f"{base}/decode", headers=asked)
        assert ok.status_code == 204
        assert ok.headers["Access-Control-Allow-Origin"] == UI
        assert ok.headers["Access-Control-Allow-Credentials"] == "true"
        allowed = ok.headers["Access-Control-Allow-Headers"].lower()
        assert {"content-type", "x-namespace", "authorization"} <= {
            h.strip() for h in allowed.split(",")
        }
        pna = await http.options(
            f"{base}/decode", headers=asked | {"Access-Control-Request-Private-Network": "true"}
        )
        assert pna.headers["Access-Control-Allow-Private-Network"] == "true"
        evil = await http.options(
            f"{base}/decode", headers=asked | {"Origin": "https://evil.example"}
        )
        assert evil.status_code == 403
        assert "Access-Control-Allow-Origin" not in evil.headers
    answer = await post(f"{base}/decode", {"payloads": []}, Origin=UI)
    assert answer.headers["Access-Control-Allow-Origin"] == UI


async def test_a_page_of_another_origin_cannot_use_an_allowed_browser(serve: Serve) -> None:
    base = await serve()  # 127.0.0.1 is allowed: the request comes from an allowed address
    refused = await post(f"{base}/decode", {"payloads": []}, Origin="https://evil.example")
    assert refused.status_code == 403
    assert "origin https://evil.example is not in CODEC_SERVER_ORIGINS" in refused.json()["error"]
    assert "Access-Control-Allow-Origin" not in refused.headers


async def test_outside_the_allow_list_only_a_token_decodes(serve: Serve) -> None:
    base = await serve(codec_server_allow_ips="10.8.0.0/16")
    body = {"payloads": [json_payload("x")]}
    refused = await post(f"{base}/decode", body, Origin=UI)
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "forbidden: not from CODEC_SERVER_ALLOW_IPS and no valid bearer token"
    }
    assert refused.headers["Access-Control-Allow-Origin"] == UI, "the UI can read why"
    wrong = await post(f"{base}/decode", body, Authorization=f"Bearer {TOKEN}x")
    assert wrong.status_code == 403
    assert (await post(f"{base}/decode", body, Authorization=f"Bearer {TOKEN}")).is_success
    assert (await post(f"{base}/encode", body, Authorization=f"bearer {TOKEN}")).is_success


async def test_allow_list_none_serves_token_holders_only(serve: Serve) -> None:
    base = await serve(codec_server_allow_ips="none")
    assert (await post(f"{base}/decode", {"payloads": []})).status_code == 403


async def test_bad_requests_get_clear_answers(serve: Serve) -> None:
    base = await serve()
    other = await post(f"{base}/decode", {"payloads": []}, **{"X-Namespace": "billing"})
    assert other.status_code == 403 and "namespace 'default'" in other.json()["error"]
    async with httpx.AsyncClient(timeout=10) as http:
        text = await http.post(
            f"{base}/decode", content=b"{}", headers={"Content-Type": "text/plain"}
        )
        assert text.status_code == 415
        garbage = await http.post(
            f"{base}/decode", content=b"[1, 2", headers={"Content-Type": "application/json"}
        )
        assert garbage.status_code == 400 and "Payloads JSON" in garbage.json()["error"]
        assert (await http.get(f"{base}/health")).json() == {"status": "ok"}


async def test_a_payload_of_an_unknown_key_is_refused_by_key_id(serve: Serve) -> None:
    base = await serve()
    other = PayloadKeys.parse(key_entry("retired-2023", bytes(32)), source="X")
    [sealed] = await EncryptionCodec(other).encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')]
    )
    body = {
        "payloads": [
            {"metadata": {k: b64(v) for k, v in sealed.metadata.items()}, "data": b64(sealed.data)}
        ]
    }
    answer = await post(f"{base}/decode", body)
    assert answer.status_code == 422
    assert "key id 'retired-2023', which is not configured" in answer.json()["error"]


# --- Temporal's own CLI, decoding a stored call through the codec server -------------------


@pytest.fixture(scope="module")
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    async with temporal_dev_server() as env:  # clients encrypt with the test key
        yield env


async def temporal_show(
    env: WorkflowEnvironment, workflow_id: str, *codec: str, check: bool = True
) -> str:
    process = await asyncio.create_subprocess_exec(
        str(temporal_binary()),
        "workflow",
        "show",
        "--workflow-id",
        workflow_id,
        "--address",
        env.client.service_client.config.target_host,
        "--output",
        "json",
        *codec,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0 or not check, err.decode()
    return out.decode() + err.decode()


def start_input(shown: str) -> dict[str, Any]:
    """The first payload of the start event in `temporal workflow show --output json`."""
    started = json.loads(shown)["events"][0]["workflowExecutionStartedEventAttributes"]
    payload: dict[str, Any] = started["input"]["payloads"][0]
    return payload


async def test_the_temporal_cli_decodes_through_it_with_a_token(
    serve: Serve, temporal: WorkflowEnvironment
) -> None:
    base = await serve(codec_server_allow_ips="none")
    workflow_id = f"call-{uuid.uuid4()}"
    # No worker is needed: the start event alone holds the encrypted input.
    await temporal.client.start_workflow(
        "CallWorkflow", CALLER, id=workflow_id, task_queue=f"nobody-{uuid.uuid4().hex[:6]}"
    )
    try:
        stored = start_input(await temporal_show(temporal, workflow_id))
        assert base64.b64decode(stored["metadata"]["encoding"]) == ENCODING
        decoded = start_input(
            await temporal_show(
                temporal, workflow_id, "--codec-endpoint", base, "--codec-auth", f"Bearer {TOKEN}"
            )
        )
        assert base64.b64decode(decoded["metadata"]["encoding"]) == b"json/plain"
        assert json.loads(base64.b64decode(decoded["data"])) == CALLER
        # Without the token the CLI gives up after its retries, showing nothing decoded.
        refused = await temporal_show(temporal, workflow_id, "--codec-endpoint", base, check=False)
        assert "79161234567" not in refused and b64(b"+79161234567")[:12] not in refused
    finally:
        await temporal.client.get_workflow_handle(workflow_id).terminate("test over")

"""The codec server: Temporal's remote codec protocol, so the Web UI can show decrypted calls.

`POST …/decode` and `POST …/encode` take and return a `Payloads` message as protobuf JSON
(`{"payloads": [{"metadata": {…}, "data": "<base64>"}]}`); only the last part of the path
counts, so the server can sit under any prefix. The UI sends `X-Namespace`; a browser sends
a CORS preflight first, and the UI's "include credentials" option needs
`Access-Control-Allow-Credentials`. Who may use it is `core.codec_access`: an allowed
address or a bearer token, and an allowed Origin for browsers. Everyone else gets 403, and
their UI shows the payloads as stored: ciphertext.

Nothing a payload holds is logged: refusals are logged with the peer address and the reason.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from core.codec_access import AccessRules, parse_allow_list, parse_tokens
from core.payload_codec import EncryptionCodec, PayloadDecryptionError
from core.settings import Settings

log = structlog.get_logger("codec-server")

# The UI sends the payloads of one event (or one page of a list) per request; a single
# payload may be 2 MB in Temporal, so a few of them fit.
MAX_BODY_BYTES = 8 * 1024 * 1024
ALLOW_HEADERS = "Content-Type, X-Namespace, Authorization, Authorization-Extras"
OPERATIONS = ("encode", "decode")


@dataclass(frozen=True)
class CodecService:
    codec: EncryptionCodec
    rules: AccessRules
    namespace: str

    @classmethod
    def from_settings(cls, settings: Settings, codec: EncryptionCodec) -> CodecService:
        token_text = settings.codec_server_tokens
        rules = AccessRules(
            networks=parse_allow_list(settings.codec_server_allow_ips),
            tokens=parse_tokens(token_text.get_secret_value() if token_text else None),
            origins=settings.effective_codec_server_origins,
        )
        return cls(codec, rules, settings.temporal_namespace)


def build_app(service: CodecService) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_get("/health", _health)
    app.router.add_route("OPTIONS", "/{tail:.*}", _preflight(service))
    app.router.add_post("/{tail:.*}", _convert(service))
    return app


def _operation(request: web.Request) -> str | None:
    last = request.path.rstrip("/").rsplit("/", 1)[-1]
    return last if last in OPERATIONS else None


def _cors(service: CodecService, origin: str | None) -> dict[str, str]:
    if origin is None or not service.rules.origin_allowed(origin):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


def _error(status: int, message: str, headers: dict[str, str]) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _preflight(service: CodecService) -> Handler:
    async def preflight(request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if _operation(request) is None:
            return _error(404, "only …/encode and …/decode are served", {})
        if origin is None or not service.rules.origin_allowed(origin):
            log.warning("preflight refused", peer=request.remote, origin=origin)
            return web.Response(status=403)
        headers = _cors(service, origin) | {
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": "600",
        }
        # Chromium asks before a page reaches a more private address (Private Network Access).
        if request.headers.get("Access-Control-Request-Private-Network") == "true":
            headers["Access-Control-Allow-Private-Network"] = "true"
        return web.Response(status=204, headers=headers)

    return preflight


def _convert(service: CodecService) -> Handler:
    async def convert(request: web.Request) -> web.StreamResponse:
        operation = _operation(request)
        if operation is None:
            return _error(404, "only …/encode and …/decode are served", {})
        origin = request.headers.get("Origin")
        cors = _cors(service, origin)
        verdict = service.rules.decide(
            peer=request.remote, origin=origin, authorization=request.headers.get("Authorization")
        )
        if not verdict.allowed:
            log.warning(
                "codec request refused",
                peer=request.remote,
                operation=operation,
                reason=verdict.reason,
            )
            return _error(403, f"forbidden: {verdict.reason}", cors)
        namespace = request.headers.get("X-Namespace")
        if namespace and namespace != service.namespace:
            return _error(
                403, f"this codec server holds the keys of namespace {service.namespace!r}", cors
            )
        if request.content_type != "application/json":
            return _error(415, "send Content-Type: application/json", cors)
        try:
            body = await request.text()
            payloads = json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError):
            return _error(400, 'the body is not Payloads JSON: {"payloads": [...]}', cors)
        try:
            if operation == "encode":
                converted = await service.codec.encode(payloads.payloads)
            else:
                converted = await service.codec.decode(payloads.payloads)
        except PayloadDecryptionError as exc:
            log.warning("cannot decode", peer=request.remote, error=str(exc))
            return _error(422, str(exc), cors)
        log.debug("codec request", operation=operation, payloads=len(converted), by=verdict.reason)
        return web.Response(
            text=json_format.MessageToJson(Payloads(payloads=converted), indent=None),
            content_type="application/json",
            headers=cors,
        )

    return convert


async def serve(service: CodecService, host: str, port: int, stop: asyncio.Event) -> None:
    runner = web.AppRunner(build_app(service), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        rules = service.rules
        log.info(
            "codec server listening",
            address=f"{host}:{port}",
            key=service.codec.current_key_id,
            origins=list(rules.origins),
            allow_ips=[str(n) for n in rules.networks],
            tokens=len(rules.tokens),
        )
        await stop.wait()
    finally:
        await runner.cleanup()

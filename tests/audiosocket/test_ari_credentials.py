"""ARI credentials (docs/security.md): sent only as the Authorization header, never in a URL,
a log line or an error message — whether Asterisk takes them, refuses them, or is away."""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid

import pytest

from audiosocket.ari import AriClient, AriError, EventsConnected
from audiosocket.simulator.fake_ari import FakeAri
from tests.support.servers import free_port

USER = "voiceorder-edge"
PASSWORD = f"s3cret-{uuid.uuid4().hex}"


async def _no_media(host: str, port: int, audiosocket_id: uuid.UUID, media_format: str) -> None:
    """REST and events only: no AudioSocket leg behind externalMedia."""


def leaked(text: str) -> bool:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return PASSWORD in text or basic in text


async def test_ari_credentials_appear_in_no_log_line_and_no_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    async with FakeAri(user=USER, password=PASSWORD, media_connector=_no_media) as ari:
        async with AriClient(ari.base_url, USER, PASSWORD, "voiceorder") as good:
            await good.create_bridge()
            async with asyncio.timeout(10):
                async for event in good.events():
                    assert isinstance(event, EventsConnected)
                    break
        async with AriClient(ari.base_url, USER, PASSWORD + "x", "voiceorder") as wrong:
            with pytest.raises(AriError) as refused:
                await wrong.create_bridge()
            errors.append(str(refused.value))
            with pytest.raises(AriError) as refused:
                async with asyncio.timeout(10):
                    async for _ in wrong.events():
                        pass
            errors.append(str(refused.value))
    async with AriClient(
        f"http://127.0.0.1:{free_port()}/ari", USER, PASSWORD, "voiceorder"
    ) as away:
        with pytest.raises(AriError) as unreachable:
            await away.answer("1.1")
        errors.append(str(unreachable.value))

    assert [e for e in errors if leaked(e)] == []
    assert not leaked(caplog.text), "a log line carries the ARI password"
    assert "ARI events connected" in caplog.text  # the lines were there to look at

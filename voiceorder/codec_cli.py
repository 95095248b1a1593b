"""`voiceorder codec-server` and `voiceorder payload-keys`: the keys of Temporal payloads.

`payload-keys new` prints a fresh `id:base64key` entry for PAYLOAD_KEYS; `payload-keys show`
says which keys this process would use (ids only). See docs/privacy.md.
"""

from __future__ import annotations

import asyncio

import click

from core.logging import configure_logging
from core.payload_codec import EncryptionCodec
from core.payload_keys import PayloadKeysError, dated_key_id, key_entry, new_key
from core.payload_keys_config import payload_keys_for
from core.service_cli import stop_on_signals
from core.settings import get_settings
from voiceorder.codec_server import CodecService, serve


@click.command("codec-server")
def codec_server_command() -> None:
    """Serve /encode and /decode for the Temporal Web UI on CODEC_SERVER_HOST:CODEC_SERVER_PORT."""
    settings = get_settings()
    configure_logging(settings)
    keys = payload_keys_for(settings)
    if keys is None:
        raise click.ClickException(
            "the codec server needs payload keys: set PAYLOAD_KEYS or PAYLOAD_KEYS_FILE "
            "(`voiceorder up` makes a local key in DATA_DIR)"
        )
    service = CodecService.from_settings(settings, EncryptionCodec(keys))

    async def main() -> None:
        await serve(
            service, settings.codec_server_host, settings.codec_server_port, stop_on_signals()
        )

    try:
        asyncio.run(main())
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {settings.codec_server_host}:{settings.codec_server_port} "
            f"(CODEC_SERVER_HOST/CODEC_SERVER_PORT): {exc.strerror or exc}"
        ) from None


@click.group("payload-keys")
def payload_keys_group() -> None:
    """Keys that encrypt what the calls store in Temporal."""


@payload_keys_group.command("new")
@click.option("--id", "key_id", help="Key id (default: key-<today>, e.g. key-20250301).")
def new_command(key_id: str | None) -> None:
    """Print a new random AES-256 key as `id:base64key` (add it to PAYLOAD_KEYS)."""
    try:
        click.echo(key_entry(key_id or dated_key_id("key"), new_key()))
    except PayloadKeysError as exc:
        raise click.ClickException(f"--id: {exc}") from None


@payload_keys_group.command("show")
def show_command() -> None:
    """Which keys this configuration has (ids only) and which one encrypts new payloads."""
    keys = payload_keys_for(get_settings())
    if keys is None:
        click.echo("no payload keys: payloads are written unencrypted")
        return
    click.echo(f"keys from {keys.source}:")
    for key_id in keys.keys:
        mark = "  ← encrypts new payloads" if key_id == keys.current else ""
        click.echo(f"  {key_id}{mark}")

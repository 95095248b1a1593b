"""`voiceorder` command line: the local stack, single services and engineer tools."""

from __future__ import annotations

from typing import Any

import click

from audiosocket.cli import edge_command
from audiosocket.simulator.cli import call_command
from bench.cli import bench_group
from core.payload_codec import PayloadDecryptionError
from core.settings import ConfigurationError
from store_api.cli import store_api_group
from voiceorder.chat import chat_command
from voiceorder.codec_cli import codec_server_command, payload_keys_group
from voiceorder.history import history_group
from voiceorder.ops import ops_group
from voiceorder.stack.up import up_command
from workers.cli import worker_command


class _Commands(click.Group):
    """Turns configuration mistakes (settings, payload keys) into one readable line instead
    of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigurationError as exc:
            raise click.ClickException(str(exc)) from None
        except PayloadDecryptionError as exc:
            raise click.ClickException(
                f"cannot decrypt what Temporal holds: {exc} (PAYLOAD_KEYS, PAYLOAD_KEYS_FILE)"
            ) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """voiceorder — a Russian phone ordering agent on Temporal."""


main.add_command(up_command)
main.add_command(store_api_group)
main.add_command(worker_command)
main.add_command(chat_command)
main.add_command(call_command)
main.add_command(edge_command)
main.add_command(history_group)
main.add_command(bench_group)
main.add_command(ops_group)
main.add_command(codec_server_command)
main.add_command(payload_keys_group)

if __name__ == "__main__":
    main()

"""`voiceorder` command line: the local stack, single services and engineer tools."""

from __future__ import annotations

import click

from store_api.cli import store_api_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """voiceorder — a Russian phone ordering agent on Temporal."""


main.add_command(store_api_group)

if __name__ == "__main__":
    main()

"""`voiceorder` command line: the local stack, single services and engineer tools."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """voiceorder — a Russian phone ordering agent on Temporal."""


if __name__ == "__main__":
    main()

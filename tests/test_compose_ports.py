"""The compose stack publishes nothing unauthenticated beyond the host by default
(docs/security.md): Temporal's gRPC and Web UI, the Store API and the edge's AudioSocket port
are published on loopback, the edge's only through a variable that defaults to it."""

from __future__ import annotations

import re
from pathlib import Path

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.yml"
LOOPBACK = re.compile(r"^(127\.0\.0\.1|\$\{[A-Z_]+:-127\.0\.0\.1\}):\d+:\d+$")


def published_ports(text: str) -> list[str]:
    """The entries of every `ports:` list (the file's own short syntax, one per line)."""
    found: list[str] = []
    indent: int | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        depth = len(line) - len(line.lstrip())
        if indent is not None and depth > indent and stripped.startswith("- "):
            found.append(stripped[2:].split(" #")[0].strip().strip("\"'"))
            continue
        indent = depth if stripped == "ports:" else None
    return found


def test_the_parser_reads_the_short_syntax() -> None:
    text = 'x:\n  ports:\n    # why\n    - "127.0.0.1:1:1"\n    - 2:2\n  other:\n    - "3:3"\n'
    assert published_ports(text) == ["127.0.0.1:1:1", "2:2"]


def test_every_published_port_is_on_loopback_unless_configured() -> None:
    ports = published_ports(COMPOSE.read_text("utf-8"))
    assert len(ports) >= 4, ports  # Temporal gRPC and UI, the Store API, the edge
    assert [p for p in ports if not LOOPBACK.match(p)] == []

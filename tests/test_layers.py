"""The layers at run time (docs/architecture.md): what a process loads when it imports the
workflow or the edge. The import-linter contracts (pyproject.toml, `./dev test`) check the
code's imports; this checks what actually ends up in `sys.modules`, dependencies included."""

from __future__ import annotations

import json
import subprocess
import sys

from workers.worker import PASS_THROUGH

IO_CLIENTS = ("openai", "httpx", "asyncpg", "aiohttp", "purgatory", "structlog")


def loaded_after(module: str) -> set[str]:
    """Top-level and dotted names in sys.modules after importing `module` in a fresh process."""
    script = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    return set(json.loads(out))


def test_the_workflow_loads_no_io_client_and_no_activity_implementation() -> None:
    loaded = loaded_after("workflows.call")
    assert not {m for m in loaded if m.split(".")[0] in IO_CLIENTS}
    ours = {m for m in loaded if m.startswith("activities.")}
    assert ours and all(m.startswith("activities.interfaces") for m in ours), ours
    assert not {m for m in loaded if m.startswith(("store_api.client", "store_api.server"))}


def test_the_edge_starts_without_the_worker_the_activities_or_the_store_api() -> None:
    loaded = loaded_after("audiosocket.edge")
    for part in ("workers", "activities", "store_api", "guided", "asyncpg", "workflows.call"):
        assert not {m for m in loaded if m == part or m.startswith(part + ".")}, part


def test_the_sandbox_passes_through_no_io_client() -> None:
    assert not set(PASS_THROUGH) & set(IO_CLIENTS)
    assert "voiceorder" not in PASS_THROUGH  # the application is above the workflow

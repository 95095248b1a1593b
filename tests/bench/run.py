"""Run a `voiceorder bench …` command as a user would, for the tiny-size benchmark tests."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any


async def run_bench(name: str, *args: str, output: Path) -> tuple[str, dict[str, Any]]:
    """`voiceorder bench <name> <args> --output <output>` in its own process; asserts it
    succeeded and returns what it printed and the JSON it wrote."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceorder",
        "bench",
        name,
        *args,
        "--output",
        str(output),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    printed, _ = await process.communicate()
    text = printed.decode(errors="replace")
    assert process.returncode == 0, text
    written = await asyncio.to_thread(output.read_text, encoding="utf-8")
    return text, json.loads(written)

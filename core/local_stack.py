"""The addresses a running `voiceorder up` chose, for processes started beside it by hand.

`up` decides a few things no other process can know — above all the embedded PostgreSQL's
URL — and writes them to `DATA_DIR/stack.json` while it runs (removed when it stops). A
command started beside it with the same DATA_DIR (`voiceorder worker` to add capacity, `edge`,
`chat`, `ops`, …) takes those values for every variable it was not given itself, so
`./dev worker` next to `./dev up` just works. The file names the `up` process; a file left by
an `up` that was killed is ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

STACK_FILE = "stack.json"


@dataclass(frozen=True)
class RunningStack:
    pid: int
    # Environment variable → value, as `up` hands them to its own children.
    settings: dict[str, str]


def stack_file(data_dir: Path) -> Path:
    return data_dir / STACK_FILE


def write_stack_file(data_dir: Path, settings: dict[str, str], *, pid: int | None = None) -> Path:
    """Publish `settings` for processes started beside this `up` (readable by us only: a
    DATABASE_URL may carry a password)."""
    path = stack_file(data_dir)
    body = json.dumps({"pid": pid or os.getpid(), "settings": settings}, indent=2)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(body + "\n")
    temporary.replace(path)  # readers never see half a file
    return path


def remove_stack_file(data_dir: Path) -> None:
    stack_file(data_dir).unlink(missing_ok=True)


def running_stack(data_dir: Path) -> RunningStack | None:
    """What the `up` running on `data_dir` published; None if none runs there."""
    try:
        data = json.loads(stack_file(data_dir).read_text(encoding="utf-8"))
        pid = int(data["pid"])
        settings = {str(k): str(v) for k, v in dict(data["settings"]).items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid):
        return None  # left behind by an `up` that was killed
    return RunningStack(pid, settings)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists; it belongs to someone else
    return True

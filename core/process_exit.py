"""Leaving short-lived Temporal client processes without the exit-time crash.

The Temporal SDK's Rust runtime keeps threads that can abort the interpreter while it
finalises (sdk-python#300: "PyGILState_Release … must be current"). A CLI command that used
a client flushes its output and leaves with `os._exit`, skipping finalisation — there is
nothing left to clean up by then.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def exit_now(code: int = 0) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

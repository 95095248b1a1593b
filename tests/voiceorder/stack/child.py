"""A stand-in service for supervisor tests: says hello, marks itself ready, waits for a signal.

python child.py NAME READY_FILE [--ignore-term] [--exit-after SECONDS CODE]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("ready_file", type=Path)
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--exit-after", nargs=2, type=float, metavar=("SECONDS", "CODE"))
    args = parser.parse_args()

    def on_term(signum: int, frame: FrameType | None) -> None:
        print(f"bye from {args.name}", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, signal.SIG_IGN if args.ignore_term else on_term)
    print(f"hello from {args.name} pid={os.getpid()}", flush=True)
    args.ready_file.write_text(str(os.getpid()))
    if args.exit_after:
        seconds, code = args.exit_after
        time.sleep(seconds)
        print(f"{args.name} gives up", flush=True)
        sys.exit(int(code))
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()

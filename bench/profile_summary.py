"""Where a sampled process spent its time: the heaviest frames of a py-spy raw profile.

`voiceorder bench calls --profile` samples the worker with `py-spy record --format raw`
(one line per distinct stack: `frame;frame;… count`). This reads such a file and ranks
frames by the share of samples they appear in (inclusive) and sit on top of (self).
Line numbers are dropped, so a function counts once however many lines of it were hit.

    python -m bench.profile_summary bench/results/calls_profile/llm-100.txt
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r":\d+\)$")
# Where an idle thread waits: py-spy cannot always tell waiting from working.
IDLE = ("EpollSelector.select", "_worker (concurrent/futures/thread.py)")


@dataclass(frozen=True)
class Summary:
    samples: int
    inclusive: list[tuple[str, float]]  # (frame, % of samples), heaviest first
    self_time: list[tuple[str, float]]


def summarise(path: Path, top: int = 25) -> Summary:
    inclusive: Counter[str] = Counter()
    on_top: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
        total += n
        for frame in dict.fromkeys(frames):  # once per stack, in stack order
            inclusive[frame] += n
        on_top[frames[-1]] += n

    def ranked(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(frame, round(100 * n / total, 1)) for frame, n in counter.most_common(top)]

    return Summary(total, ranked(inclusive), ranked(on_top)) if total else Summary(0, [], [])


def main(argv: list[str]) -> None:
    for name in argv:
        found = summarise(Path(name))
        print(f"{name}: {found.samples} samples (idle waits in {', '.join(IDLE)})")
        for title, rows in (("inclusive", found.inclusive), ("self", found.self_time)):
            print(f"  {title}:")
            for frame, share in rows:
                print(f"    {share:5.1f}%  {frame}")


if __name__ == "__main__":
    main(sys.argv[1:])

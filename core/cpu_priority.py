"""Which processes give the CPU to the calls' audio when a box is full.

An edge's calls need the CPU within a few milliseconds, every 20 ms, or callers hear the gap;
the worker, Temporal, PostgreSQL and the Store API only answer turns, where a few
milliseconds more go unnoticed. When many turns end at once on a small box they all want
every core: at 100 calls on the 2-core development box the edge then waited for a core long
enough for 70–200 gaps over 60 ms in the bot's audio per run, and none with the rest at this
niceness (docs/benchmarks.md#edge-pacing). `voiceorder up` starts everything but the edges
this much nicer; `./dev bench edge-pacing` does the same.
"""

from __future__ import annotations

from typing import Final

BACKGROUND_NICE: Final = 10

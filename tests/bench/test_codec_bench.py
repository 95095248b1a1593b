"""`voiceorder bench codec` at a tiny size: it reads a recorded call — plaintext or encrypted
with the test key — and round-trips every payload. No timing is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.codec import DEFAULT_HISTORY, markdown, run
from tests.workflows.history import HISTORIES

RECORDINGS = {
    "plain": DEFAULT_HISTORY,
    "encrypted": HISTORIES / "privacy_guided_order_by_chat.json",
}


@pytest.mark.parametrize("kind", sorted(RECORDINGS))
async def test_bench_codec_round_trips_a_recorded_call(kind: str) -> None:
    history: Path = RECORDINGS[kind]
    result = await run(3, history)
    recorded = result["recorded_call"]
    assert recorded["payloads"] > recorded["turns"] >= 2
    assert recorded["ciphertext_overhead_bytes_per_payload"] > 28, "nonce, tag and key id"
    assert result["heavy_turn"]["payload_bytes_p50"] > 4096
    assert "| **both** |" in markdown(result)

"""The payload codec's cost per caller turn: AES-GCM over what a real call writes to Temporal.

The payloads come from a recorded call history (tests/histories/, by default the LLM-led
courier order S4): every payload a whole call wrote — workflow input, update arguments and
replies, activity and local-activity inputs and results, memo, summaries — decrypted to
plaintext first if the recording is encrypted. One round encrypts all of them with a fresh
key, as the worker, the edge and the CLI do when they write, then decrypts them, as the
worker does when it replays and the codec server does for the Web UI. The cost per turn is
the round's time divided by the call's turns (greeting and caller updates).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory

from core.history_payloads import decode_in_place, payloads_in
from core.payload_codec import EncryptionCodec, is_encrypted
from core.payload_keys import PayloadKeys, key_entry, new_key
from workflows.models import CallUpdate

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "bench" / "results"
DEFAULT_HISTORY = PROJECT_ROOT / "tests" / "histories" / "s4_courier_order.json"
TURN_UPDATES = {
    CallUpdate.GREET,
    CallUpdate.CALLER_SAID,
    CallUpdate.CALLER_PRESSED,
    CallUpdate.CALLER_SILENT,
}


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _stats_us(samples_s: list[float], turns: int) -> dict[str, float]:
    """Per-turn microseconds of per-call samples."""
    ordered = sorted(s * 1e6 / turns for s in samples_s)
    return {
        "p50_us": round(statistics.median(ordered), 1),
        "p95_us": round(_percentile(ordered, 0.95), 1),
        "max_us": round(ordered[-1], 1),
    }


def read_history(path: Path) -> History:
    history = WorkflowHistory.from_json(path.stem, path.read_text("utf-8"))
    return History(events=history.events)


def heavy_turn(payloads: int = 6, size: int = 4096) -> list[Payload]:
    """A turn at the large end: `payloads` JSON payloads of `size` bytes of Russian text
    (a long search result, the agent's prompt and answer, the reply)."""
    text = "Гречка ядрица «Мистраль», 900 г, 112 ₽; доставка на Тверскую, 7. "
    made = []
    for n in range(payloads):
        body = json.dumps({"n": n, "text": (text * (size // len(text.encode()) + 1))})
        data = body.encode()[:size]
        made.append(Payload(metadata={"encoding": b"json/plain"}, data=data))
    return made


async def call_payloads(path: Path) -> tuple[list[Payload], int]:
    """The plaintext payloads of a recorded call, and how many turns it had."""
    message = read_history(path)
    if any(is_encrypted(p) for p in payloads_in(message)):
        sys.path.insert(0, str(PROJECT_ROOT))  # benchmarks run from a checkout
        from tests.support.payload_keys import TEST_PAYLOAD_KEYS

        await decode_in_place(message, EncryptionCodec(TEST_PAYLOAD_KEYS))
    turns = sum(
        1
        for event in message.events
        if event.HasField("workflow_execution_update_accepted_event_attributes")
        and event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        in TURN_UPDATES
    )
    return list(payloads_in(message)), max(turns, 1)


async def run(rounds: int, history: Path = DEFAULT_HISTORY) -> dict[str, Any]:
    payloads, turns = await call_payloads(history)
    recorded = await measure(payloads, turns, rounds)
    recorded["history"] = (
        str(history.relative_to(PROJECT_ROOT))
        if history.is_relative_to(PROJECT_ROOT)
        else str(history)
    )
    heavy = await measure(heavy_turn(), 1, rounds)
    heavy["history"] = "synthetic: 6 payloads of 4 KB"
    return {"recorded_call": recorded, "heavy_turn": heavy}


async def measure(payloads: list[Payload], turns: int, rounds: int) -> dict[str, Any]:
    codec = EncryptionCodec(PayloadKeys.parse(key_entry("bench", new_key()), source="bench"))
    for _ in range(max(3, rounds // 10)):  # warm-up: allocator, AES tables, imports
        await codec.decode(await codec.encode(payloads))
    encode_s, decode_s = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        sealed = await codec.encode(payloads)
        encoded = time.perf_counter()
        opened = await codec.decode(sealed)
        decode_s.append(time.perf_counter() - encoded)
        encode_s.append(encoded - started)
        assert opened == payloads
    sizes = sorted(len(p.SerializeToString()) for p in payloads)
    total = sum(sizes)
    overhead = sum(len(p.SerializeToString()) for p in sealed) - total
    both = [e + d for e, d in zip(encode_s, decode_s, strict=True)]
    return {
        "rounds": rounds,
        "turns": turns,
        "payloads": len(payloads),
        "payloads_per_turn": round(len(payloads) / turns, 1),
        "bytes_per_turn": round(total / turns),
        "payload_bytes_p50": sizes[len(sizes) // 2],
        "payload_bytes_max": sizes[-1],
        "ciphertext_overhead_bytes_per_payload": round(overhead / len(payloads), 1),
        "encrypt_per_turn": _stats_us(encode_s, turns),
        "decrypt_per_turn": _stats_us(decode_s, turns),
        "both_per_turn": _stats_us(both, turns),
        "mb_per_s": round(2 * total / statistics.median(both) / 1e6, 1),
    }


def markdown(result: dict[str, Any]) -> str:
    return "\n\n".join(_table(result[part]) for part in ("recorded_call", "heavy_turn"))


def _table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['history']}: {result['payloads']} payloads over {result['turns']} turns "
        f"({result['payloads_per_turn']} payloads, {result['bytes_per_turn']} bytes per turn; "
        f"payload p50 {result['payload_bytes_p50']} B, max {result['payload_bytes_max']} B; "
        f"+{result['ciphertext_overhead_bytes_per_payload']} B each encrypted); "
        f"{result['rounds']} rounds",
        "",
        "| per turn | p50 µs | p95 µs | max µs |",
        "|---|---|---|---|",
    ]
    for name, key in (
        ("encrypt", "encrypt_per_turn"),
        ("decrypt", "decrypt_per_turn"),
        ("**both**", "both_per_turn"),
    ):
        s = result[key]
        lines.append(f"| {name} | {s['p50_us']} | {s['p95_us']} | {s['max_us']} |")
    lines.append(f"\nthroughput (encrypt + decrypt): {result['mb_per_s']} MB/s")
    return "\n".join(lines)


def save(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "codec.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return path

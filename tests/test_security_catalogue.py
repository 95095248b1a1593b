"""docs/security.md cannot drift from the suite: every test it names exists, and every
reliability and security bar of quality.md (R1–R6, SEC1–SEC6) has its row with a proof."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "docs" / "security.md"
_NAMED = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
_ROW = re.compile(r"^\| (R\d|SEC\d|T\d+) \|(.*)$", re.MULTILINE)


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_test_the_catalogue_names_exists() -> None:
    named = _NAMED.findall(CATALOGUE.read_text("utf-8"))
    assert len(named) >= 60, "the catalogue names its proofs as `file::test`"
    missing = [
        f"{file}::{test}"
        for file, test in named
        if not (ROOT / file).is_file() or test not in defined_tests(ROOT / file)
    ]
    assert missing == []


def test_every_bar_of_quality_md_has_a_row_with_a_proof() -> None:
    rows = dict(_ROW.findall(CATALOGUE.read_text("utf-8")))
    bars = [f"R{n}" for n in range(1, 7)] + [f"SEC{n}" for n in range(1, 7)]
    assert [bar for bar in bars if bar not in rows] == []
    unproved = [bar for bar in bars if bar != "SEC6" and not _NAMED.search(rows[bar])]
    assert unproved == []  # SEC6's proofs are in its own table, one row per limit


def test_each_sec6_limit_is_proved_at_its_boundary() -> None:
    text = CATALOGUE.read_text("utf-8")
    table = text[text.index("### SEC6 limits") : text.index("## Further threats")]
    limits = [line for line in table.splitlines() if line.startswith("| ") and "`tests/" in line]
    assert len(limits) == 5  # utterance, tool calls per turn, body, items, quantity

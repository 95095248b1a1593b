"""The profile summary ranks frames of a py-spy raw profile by the samples they are in."""

from __future__ import annotations

from pathlib import Path

from bench.profile_summary import summarise

RAW = """\
main (app.py:1);loop (app.py:9);turn (work.py:20) 6
main (app.py:1);loop (app.py:9);turn (work.py:31);encode (json.py:4) 3
main (app.py:1);loop (app.py:12) 1
"""


def test_frames_are_ranked_by_their_share_of_samples(tmp_path: Path) -> None:
    raw = tmp_path / "worker.txt"
    raw.write_text(RAW, encoding="utf-8")
    found = summarise(raw, top=3)
    assert found.samples == 10
    # Lines of one function count once: `turn` is in 9 samples, not 6 + 3 twice over.
    assert found.inclusive == [
        ("main (app.py)", 100.0),
        ("loop (app.py)", 100.0),
        ("turn (work.py)", 90.0),
    ]
    assert found.self_time == [
        ("turn (work.py)", 60.0),
        ("encode (json.py)", 30.0),
        ("loop (app.py)", 10.0),
    ]


def test_an_empty_profile_has_no_frames(tmp_path: Path) -> None:
    raw = tmp_path / "empty.txt"
    raw.write_text("", encoding="utf-8")
    assert summarise(raw).samples == 0 and summarise(raw).inclusive == []

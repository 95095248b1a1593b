"""Relative links in README.md and docs/ lead to a file that exists, and to a heading in it.

Anchors follow GitHub's rule: the heading's text in lower case, punctuation dropped, spaces
turned into hyphens, and `-1`, `-2` … after repeats. Code blocks and inline code are not
links; `http(s):` and `mailto:` targets are not checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", ROOT / "deploy" / "README.md", *ROOT.glob("docs/*.md")])

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def prose(text: str) -> str:
    """The text without fenced code blocks (whose `#` lines are not headings)."""
    return _FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's Markdown text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link → its text
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in _HEADING.findall(prose(page.read_text("utf-8"))):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(page: Path) -> list[str]:
    text = _INLINE_CODE.sub("", prose(page.read_text("utf-8")))
    return [target for target in _LINK.findall(text) if not _EXTERNAL.match(target)]


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in links(page):
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no such heading in {destination.name}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    assert broken_links(page) == []


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {
        (ROOT / target.partition("#")[0]).resolve()
        for target in links(ROOT / "README.md")
        if target.partition("#")[0]
    }
    assert set(ROOT.glob("docs/*.md")) - linked == set()


def test_slug_follows_github() -> None:
    assert slug("The `AGENT` setting") == "the-agent-setting"
    assert slug("B1: turn overhead") == "b1-turn-overhead"
    assert slug("The simulator (`voiceorder call`)") == "the-simulator-voiceorder-call"
    assert slug("Dialplan path (fallback, 8 kHz)") == "dialplan-path-fallback-8-khz"
    assert slug("[Guide](x.md), **bold**") == "guide-bold"


def test_broken_links_are_reported(tmp_path: Path) -> None:
    page = tmp_path / "a.md"
    page.write_text(
        "# Title\n\n## Title\n\n```\n# not a heading\n[not a link](x.md)\n```\n\n"
        "[ok](#title) [repeat](#title-1) [bad](#nope) [gone](b.md) `[code](c.md)` "
        "[web](https://example.com/x.md) [self](a.md#title)\n"
    )
    assert anchors(page) == {"title", "title-1"}
    assert broken_links(page) == ["#nope: no such heading in a.md", "b.md: no such file"]

"""The README stays a front page, and the docs point at files that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]

# [text](target) in Markdown, the target up to its closing parenthesis or a title.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
# A code span or word naming a path inside the collector package.
PACKAGE_PATH = re.compile(r"\bcollector/[\w./-]*\w")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def relative_links(page: Path) -> list[str]:
    """Link targets of ``page`` inside this repository (``file``, ``file#anchor``, ``#anchor``)."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return [target for target in LINK.findall(text)
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I)]


def anchors(page: Path) -> set[str]:
    """The heading anchors GitHub makes for a Markdown page."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
            for title in re.findall(r"^#+ (.+)$", text, re.M)}


def test_readme_is_a_front_page() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300, f"README.md has {len(lines)} lines; the reference belongs in docs/"


def test_the_reference_pages_exist() -> None:
    names = {page.name for page in DOCS}
    assert {"API.md", "TRACKER.md", "DASHBOARDS.md", "MAPPING.md", "OPERATIONS.md",
            "PERFORMANCE.md", "ARCHITECTURE.md"} <= names


def test_every_collector_path_in_the_architecture_page_exists() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = sorted(set(PACKAGE_PATH.findall(text)))
    assert len(named) > 50, "the feature table names the modules"
    missing = [path for path in named if not (ROOT / path).exists()]
    assert not missing, f"docs/ARCHITECTURE.md names paths that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_points_to_a_file(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists() or (anchor and file.suffix == ".md"
                                 and anchor not in anchors(file)):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)} links to missing files or headings: {broken}"

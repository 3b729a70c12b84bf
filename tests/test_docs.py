"""The product's documents stay short and their links resolve (issue 28).

README.md is a newcomer's page (at most 300 lines, the generated results included) and
docs/design.md the design as it is now (at most 250 lines); the dated record belongs in
research/design-log.md. Every relative markdown link in README.md and docs/*.md must name a file
that exists, and a link with an anchor must name a heading of that file (as GitHub renders it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out = set()
    for line in text.splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        s = slug(m.group(1))
        n = seen.get(s, 0)
        out.add(s if n == 0 else f"{s}-{n}")
        seen[s] = n + 1
    return out


def links(path: Path) -> list[str]:
    text = INLINE_CODE.sub("", FENCE.sub("", path.read_text(encoding="utf-8")))
    return [t for t in LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def test_slug_matches_github():
    assert slug("4. check_size: 500 against 2,000 check pairs (L1-H64, D = 10k)") == \
        "4-check_size-500-against-2000-check-pairs-l1-h64-d--10k"
    assert slug("The projection's scale at the start (pilot, 2026-12-01)") == \
        "the-projections-scale-at-the-start-pilot-2026-12-01"
    assert slug("`make plan`: the estimate for this machine") == "make-plan-the-estimate-for-this-machine"


def test_readme_is_short():
    n = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert n <= 300, f"README.md has {n} lines; at most 300 (move detail to docs/)"


def test_design_doc_is_short():
    n = len((ROOT / "docs" / "design.md").read_text(encoding="utf-8").splitlines())
    assert n <= 250, f"docs/design.md has {n} lines; at most 250 (history goes to research/design-log.md)"


def test_readme_keeps_the_generated_section():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count("<!-- report:cpu:start -->") == 1 and text.count("<!-- report:cpu:end -->") == 1
    assert text.index("<!-- report:cpu:start -->") < text.index("<!-- report:cpu:end -->")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc):
    broken = []
    for target in links(doc):
        file_part, _, anchor = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        if not dest.exists():
            broken.append(f"{target}: no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading with anchor #{anchor} in {dest.relative_to(ROOT)}")
    assert not broken, f"{doc.relative_to(ROOT)}: broken links:\n" + "\n".join(broken)

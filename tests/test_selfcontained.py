"""The repository explains itself: every regulation the code cites resolves in docs/regulations.md.

Scans the tracked files (`git ls-files`) for citations of the seed regulations, by full id
(`000_d7818c12e4aa5d4b`) or short id (`000_…`), with the article that follows when there is
one (`000_… 八(八)`, `001_… 第一篇(十)4`, `002_… 领导值班制度 二`), and checks that
docs/regulations.md lists the document under both ids and the article in that document's
section.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGULATIONS = ROOT / "docs" / "regulations.md"
SEEDS = {
    "000": "000_d7818c12e4aa5d4b",
    "001": "001_cb60fd17e648c454",
    "002": "002_1c43274b2048c468",
    "003": "003_fc486b7e164530f7",
    "004": "004_74f23d5d95790ca2",
}
_NUM = "[一二三四五六七八九十]+"
_ARTICLE = (
    rf"第{_NUM}篇(?:\s*(?:\({_NUM}\)(?:{_NUM})?\d*|六制办理|\d+(?![\d.,%])))?"
    rf"|领导值班制度(?:\s*{_NUM})?"
    rf"|{_NUM}(?:\({_NUM}\))?\d*"
)
CITATION = re.compile(rf"\b(00\d)_(?:…|[0-9a-f]{{16}})(?:\.txt)?`?[ \t]*(?:({_ARTICLE}))?")


def tracked_texts() -> dict[str, str]:
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    out = {}
    for raw in names:
        name = raw.decode()
        path = ROOT / name
        if not name or not path.is_file() or path == REGULATIONS:
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue  # binary
        out[name] = data.decode("utf-8", errors="replace")
    return out


def citations(texts: dict[str, str]) -> set[tuple[str, str, str]]:
    """(document number, article or "", file) for every citation."""
    found = set()
    for name, text in texts.items():
        for m in CITATION.finditer(text):
            found.add((m.group(1), re.sub(r"\s+", " ", m.group(2) or ""), name))
    return found


def sections(page: str) -> dict[str, str]:
    """Document number → its section of docs/regulations.md (from its `## ` heading on)."""
    parts = re.split(r"^## ", page, flags=re.M)
    return {p[1:4]: p for p in parts[1:] if re.match(r"`00\d_…`", p)}


def test_the_scan_finds_the_citations_it_must() -> None:
    found = citations({"x.py": "see `000_… 八(八)` and 001_cb60fd17e648c454.txt 第一篇(十)4: x"})

    assert found == {("000", "八(八)", "x.py"), ("001", "第一篇(十)4", "x.py")}


def test_every_seed_the_code_cites_is_indexed_with_its_articles() -> None:
    page = REGULATIONS.read_text(encoding="utf-8")
    by_doc = sections(page)
    cited = citations(tracked_texts())
    assert {doc for doc, _, _ in cited} == set(SEEDS)  # the scan sees all five

    missing = []
    for doc, article, name in sorted(cited):
        if doc not in SEEDS or SEEDS[doc] not in page or f"`{doc}_…`" not in page:
            missing.append(f"{name}: document {doc}")
        elif article and article not in by_doc.get(doc, ""):
            missing.append(f"{name}: {doc}_… {article}")
    assert missing == [], "cited but not in docs/regulations.md:\n" + "\n".join(missing)

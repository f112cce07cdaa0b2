"""The repository explains itself: every reference a reader meets resolves inside it.

Two scans of the files `git ls-files` lists (tracked, plus new ones not ignored), binary files
skipped:
- citations of the seed regulations, by full id (`000_d7818c12e4aa5d4b`) or short id
  (`000_…`), with the article that follows when there is one (`000_… 八(八)`,
  `001_… 第一篇(十)4`, `002_… 领导值班制度 二`): docs/regulations.md must list the document
  under both ids and the article in that document's section;
- references to what is not in the repository: the workspace's notes (the contract, domain and
  style pages by their upper-case file names, or their folder one level up) and numbered items
  of the issue tracker. The in-repo pages are docs/contract.md, docs/regulations.md (with its
  numbers from practice elsewhere) and docs/architecture.md; a design reason is stated, not
  numbered.
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


# Outside the repository: the workspace's three notes by file name, their folder, and numbered
# issues (the word with a number, "issues" with the first of several, or a hash with one or two
# digits as changelogs write them; not a colour like #000 nor an entity like &#39;).
FOREIGN = re.compile(
    r"\b(?:CONTRACT|DOMAIN|STYLE)\.md\b"
    r"|(?:\.\.|/work)/shared\b|\bshared/"
    r"|\b[Ii]ssues?[ \t]*(?:#|n[o°]\.?[ \t]*)?\d+"
    r"|(?<![&\w#/])#\d{1,2}\b"
)


def tracked_texts() -> dict[str, str]:
    """Path → text of every tracked or new (not ignored) file that is not binary."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    out = {}
    for raw in names:
        name = raw.decode()
        path = ROOT / name
        if not name or not path.is_file():
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
    texts = tracked_texts()
    texts.pop(REGULATIONS.relative_to(ROOT).as_posix(), None)
    cited = citations(texts)
    assert {doc for doc, _, _ in cited} == set(SEEDS)  # the scan sees all five

    missing = []
    for doc, article, name in sorted(cited):
        if doc not in SEEDS or SEEDS[doc] not in page or f"`{doc}_…`" not in page:
            missing.append(f"{name}: document {doc}")
        elif article and article not in by_doc.get(doc, ""):
            missing.append(f"{name}: {doc}_… {article}")
    assert missing == [], "cited but not in docs/regulations.md:\n" + "\n".join(missing)


def foreign_references(texts: dict[str, str]) -> list[str]:
    """`file:line: text` for each reference to something outside the repository."""
    found = []
    for name, text in sorted(texts.items()):
        for m in FOREIGN.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found.append(f"{name}:{line}: {m.group(0)}")
    return found


def test_the_foreign_scan_finds_what_it_must_and_no_colour() -> None:
    # Spelled through placeholders so that this file itself stays clean.
    w = {
        "c": "CONTRACT",
        "d": "DOMAIN",
        "s": "STYLE",
        "sh": "shared",
        "i": "issue",
        "I": "Issue",
        "h": "#",
    }
    lines = [
        "see {c}.md, {d}.md and {s}.md",
        "in ../{sh}/x, /work/{sh} and {sh}/seeds",
        "{i} 3; {I}s 4 and 5; {i} {h}12; fixed ({h}7).",
        "color: {h}000; {h}c0392b; &{h}39; docs/contract.md; {i}d 3 times",
    ]
    text = "\n".join(line.format(**w) for line in lines)

    found = foreign_references({"x.md": text})

    expected = ["{c}.md", "{d}.md", "{s}.md", "../{sh}", "/work/{sh}", "{sh}/"]
    expected += ["{i} 3", "{I}s 4", "{i} {h}12", "{h}7"]
    assert [f.split(": ", 1)[1] for f in found] == [e.format(**w) for e in expected]
    assert found[-1].startswith("x.md:3: ")


def test_no_file_refers_outside_the_repository() -> None:
    found = foreign_references(tracked_texts())

    assert found == [], (
        "refers to what is not in the repository (use docs/contract.md, docs/regulations.md, "
        "docs/architecture.md, or say what is meant):\n" + "\n".join(found)
    )

"""The docs say what the code does: pages generated from the code stay equal to it."""

from __future__ import annotations

from pathlib import Path

from monitor.configdoc import render

ROOT = Path(__file__).resolve().parent.parent


def test_configuration_reference_matches_the_models() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert page == render(), "regenerate: python -m monitor.configdoc > docs/configuration.md"

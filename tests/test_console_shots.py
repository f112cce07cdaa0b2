"""tests/console_shots.py still shoots every console page: each at 1366 and 390 px is a
non-empty PNG, with no JavaScript error or failed load on the page and nothing past the right
edge at 390 px."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chromium import INSTALL_HINT, find_chromium
from tests.console_shots import COVERED, pages, shoot

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(find_chromium() is None, reason=f"no headless Chromium: {INSTALL_HINT}")
def test_every_console_page_renders(tmp_path: Path) -> None:
    shots = shoot(tmp_path / "shots", tmp_path)
    names = {p.name for p in pages("K-X")}
    expected = {f"console-{n}{s}.png" for n in names for s in ("", "-390")}
    assert {s.file.name for s in shots} == expected
    assert set(COVERED) <= expected
    for s in shots:
        raw = s.file.read_bytes()
        assert raw.startswith(PNG) and len(raw) > 5000, s.file.name
        assert s.errors == [], (s.file.name, s.errors)
        if s.file.name.endswith("-390.png"):
            assert s.width <= 390 and s.wider == [], (s.file.name, s.width, s.wider)

"""Print an HTML page to PDF with headless Chromium (`--print-to-pdf`), when one is installed.

The report's and the daily sheet's pages are made for A4 (`@page` in monitor/reports/monthly.py
and daysheet.py) and the report's charts are
pictures in the page, so the browser's print is the PDF: the same layout as the HTML, CJK
text from the system's fonts (Debian `fonts-noto-cjk`). Chromium is found as `$CHROMIUM`,
`chromium`, `chromium-browser` or `google-chrome`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from alerts.errors import HallwatchError

NAMES = ("chromium", "chromium-browser", "google-chrome")
INSTALL_HINT = "apt-get install chromium fonts-noto-cjk"


class PdfError(HallwatchError):
    """No browser to print with, or it failed."""


def find_browser() -> str | None:
    env = os.environ.get("CHROMIUM")
    if env:
        return env
    return next((p for p in map(shutil.which, NAMES) if p), None)


def print_pdf(html: Path, pdf: Path, timeout: float = 120.0) -> None:
    exe = find_browser()
    if exe is None:
        raise PdfError(f"no Chromium to print the PDF with ({INSTALL_HINT})")
    with tempfile.TemporaryDirectory(prefix="hallwatch-pdf-") as profile:
        args = [
            exe,
            "--headless=new",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf.resolve()}",
            html.resolve().as_uri(),
        ]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            done = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PdfError(f"{exe}: {exc}") from exc
    if done.returncode != 0 or not pdf.is_file() or pdf.read_bytes()[:5] != b"%PDF-":
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise PdfError(f"{exe} did not print {pdf} (exit {done.returncode}): {' '.join(tail)}")


def html_to_pdf(page: str, timeout: float = 120.0) -> bytes:
    """`page` (a self-contained HTML document) printed to PDF bytes, through a scratch folder."""
    with tempfile.TemporaryDirectory(prefix="hallwatch-print-") as tmp:
        html, pdf = Path(tmp) / "page.html", Path(tmp) / "page.pdf"
        html.write_text(page, encoding="utf-8")
        print_pdf(html, pdf, timeout)
        return pdf.read_bytes()

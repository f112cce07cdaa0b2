"""The monthly report as an XLSX workbook, written with XlsxWriter. No journal, no clock.

One sheet per table: numbers stored as numbers with a number format (rates as percentages,
averages to two places), the header row frozen with an autofilter, each column as wide as its
longest text (CJK counted double). Charts: the trend and the cards per rule as Excel charts on
their sheets (the on-time axis from 0 to 100 %), and the report's pictures on a last sheet 图表.
Strings are inline (constant-memory mode) and stripped of control characters, the document's
date fixed: the same month gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.reports.daysheet import width
from monitor.reports.names import clean
from monitor.reports.tables import Cell, Num, Table, text_of

_FORMATS = {"pct": "0.00%", "2dp": "0.00", "1dp": "0.0"}
_MAX_WIDTH = 60
_EPOCH = datetime(2026, 1, 1)  # the workbook's stated creation date: fixed for equal bytes
_ROW_PX = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartSpec:
    """An Excel chart drawn from a sheet's columns: `kind` line or bar, values in `column`."""

    sheet: str
    kind: str  # "line" | "bar"
    title: str
    column: int
    percent: bool = False


def _sheet_name(name: str) -> str:
    bad = set("[]:*?/\\")
    return "".join(ch for ch in clean(name) if ch not in bad)[:31] or "表"


def _widths(table: Table) -> list[int]:
    head, body = table
    out = []
    for i, h in enumerate(head):
        longest = max([width(h), *(width(text_of(r[i])) for r in body if i < len(r))])
        out.append(min(_MAX_WIDTH, max(6, longest + 2)))
    return out


def _write_table(wb: Any, ws: Any, table: Table, styles: dict[str, Any]) -> None:
    head, body = table
    for i, w in enumerate(_widths(table)):
        ws.set_column(i, i, w)
    ws.write_row(0, 0, [clean(h) for h in head], styles["head"])
    for r, row in enumerate(body, start=1):
        for c, value in enumerate(row):
            _write(ws, r, c, value, styles)
    ws.freeze_panes(1, min(2, len(head) - 1) if body else 0)
    ws.autofilter(0, 0, max(1, len(body)), len(head) - 1)


def _write(ws: Any, r: int, c: int, value: Cell, styles: dict[str, Any]) -> None:
    if value is None:  # no figure: an empty cell, which sums and charts skip
        return
    if isinstance(value, Num):
        ws.write_number(r, c, value.value, styles[value.fmt])
    elif isinstance(value, bool):
        ws.write_string(r, c, text_of(value))
    elif isinstance(value, int | float):
        ws.write_number(r, c, value, styles["int" if isinstance(value, int) else "2dp"])
    else:
        ws.write_string(r, c, clean(value))


def _chart(wb: Any, ws: Any, spec: ChartSpec, rows: int, cols: int) -> None:
    chart = wb.add_chart({"type": spec.kind})
    name = _sheet_name(spec.sheet)
    chart.add_series(
        {
            "name": clean(spec.title),
            "categories": [name, 1, 0, max(1, rows), 0],
            "values": [name, 1, spec.column, max(1, rows), spec.column],
        }
    )
    chart.set_title({"name": clean(spec.title)})
    chart.set_legend({"none": True})
    axis = {"min": 0, "max": 1, "num_format": "0%"} if spec.percent else {"min": 0}
    (chart.set_x_axis if spec.kind == "bar" else chart.set_y_axis)(axis)
    chart.set_size({"width": 720, "height": 320 if spec.kind == "line" else 60 + 22 * rows})
    ws.insert_chart(1, cols + 1, chart)


def xlsx(
    sheets: Iterable[tuple[str, Table]],
    pictures: Sequence[tuple[str, bytes]] = (),
    charts: Sequence[ChartSpec] = (),
) -> bytes:
    """The workbook: a sheet per (name, table), Excel charts on their sheets, the pictures
    (title, PNG) stacked on a last sheet 图表."""
    import xlsxwriter  # the daemon never writes a workbook: only the report loads it

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "strings_to_numbers": False})
    wb.set_properties({"created": _EPOCH})
    styles = {
        "head": wb.add_format({"bold": True, "bg_color": "#EEEEEE", "border": 1}),
        "int": wb.add_format({"num_format": "0"}),
        **{k: wb.add_format({"num_format": v}) for k, v in _FORMATS.items()},
    }
    for name, table in sheets:
        ws = wb.add_worksheet(_sheet_name(name))
        _write_table(wb, ws, table, styles)
        for spec in charts:
            if spec.sheet == name:
                _chart(wb, ws, spec, len(table[1]), len(table[0]))
    if pictures:
        ws = wb.add_worksheet("图表")
        ws.write_string(0, 0, "图表见下", styles["head"])
        row = 2
        for title, png in pictures:
            ws.insert_image(row, 0, f"{clean(title)}.png", {"image_data": io.BytesIO(png)})
            row += -(-_png_height(png) // _ROW_PX) + 2
    wb.close()
    return buf.getvalue()


def _png_height(png: bytes) -> int:
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return int.from_bytes(png[20:24], "big")

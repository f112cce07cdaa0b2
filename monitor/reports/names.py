"""What the hall's papers call things: officers, departments, windows and clocks by the names
the configuration gives them, never by their codes. Pure.

An officer sits at the window whose A post he holds, else the first window he covers as B;
sheets list officers in the configuration's window order, then those without a window.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from alerts.basis import DEFAULT as DEFAULT_BASES
from alerts.basis import Bases
from alerts.config import HallConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class HallNames:
    staff: Mapping[str, str] = field(default_factory=dict)  # id → 姓名
    staff_department: Mapping[str, str] = field(default_factory=dict)  # staff id → dept id
    departments: Mapping[str, str] = field(default_factory=dict)  # id → 部门名称
    windows: Mapping[str, str] = field(default_factory=dict)  # id → 窗口名称, config order
    seat: Mapping[str, str] = field(default_factory=dict)  # staff id → his window id
    clocks: Mapping[str, str] = field(default_factory=dict)  # id → where it hangs
    bases: Bases = DEFAULT_BASES  # each rule's 依据 in the hall's regulations

    @classmethod
    def of(cls, cfg: HallConfig) -> HallNames:
        seat: dict[str, str] = {}
        for w in cfg.windows:
            seat.setdefault(w.a_post, w.id)
        for w in cfg.windows:
            for b in w.b_posts:
                seat.setdefault(b, w.id)
        return cls(
            staff={s.id: s.name for s in cfg.staff},
            staff_department={s.id: s.department for s in cfg.staff},
            departments={d.id: d.name for d in cfg.departments},
            windows={w.id: w.name for w in cfg.windows},
            seat=seat,
            clocks={c.id: c.location for c in cfg.clocks},
            bases=Bases.of(cfg.basis),
        )

    def person(self, staff: str) -> str:
        return self.staff.get(staff, staff)

    def department(self, dept: str) -> str:
        return self.departments.get(dept, dept)

    def department_of(self, staff: str) -> str:
        dept = self.staff_department.get(staff)
        return self.department(dept) if dept else ""

    def window(self, window: str) -> str:
        return self.windows.get(window, window)

    def window_of(self, staff: str) -> str:
        seat = self.seat.get(staff)
        return self.window(seat) if seat else "—"

    def clock(self, clock: str) -> str:
        where = self.clocks.get(clock)
        return f"{clock}（{where}）" if where else clock

    def window_order(self, staff: str) -> tuple[int, str]:
        """Sort key: the officer's window in configuration order, then by staff id."""
        order = {w: i for i, w in enumerate(self.windows)}
        seat = self.seat.get(staff)
        return (order.get(seat, len(order)) if seat else len(order), staff)


_KEEP = frozenset("\t\n")


def clean(text: str) -> str:
    """`text` without control characters (C0, C1, DEL, lone surrogates, U+FFFE/FFFF): a name
    read from a message can hold them, and XML (a workbook, a page) cannot."""
    return "".join(ch for ch in text if ch in _KEEP or not _bad(ch))


def _bad(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat in ("Cc", "Cs") or ch in ("\ufffe", "\uffff")

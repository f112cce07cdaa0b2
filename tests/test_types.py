"""The kinds are types (docs/architecture.md "Types and errors"): roles, make-ups, heap kinds and
walk marks, card qualifiers, the contract's getters, and one exception tree that alerts/errors.py
draws."""

from __future__ import annotations

import ast
import builtins
import inspect
import re
import typing
from datetime import date
from pathlib import Path

import pytest

import alerts.errors
from alerts.cards import Wake, WatchKind, watch_key
from alerts.cases import WalkMark
from alerts.config import parse_config
from alerts.contract import Accepted, Limits, _Fields, decode, decode_journaled, makeup_of
from alerts.errors import ConfigError
from alerts.events import Makeup, Punch, Verify
from alerts.ids import StaffId, qualifier
from alerts.people import Check
from alerts.roles import Role, StaffRole
from tests.hall import HALL, T0, example, punch, topic

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("alerts", "hallkit", "devices", "monitor")

# --- roles -----------------------------------------------------------------------------------


def test_console_roles_share_the_staff_roles_values_where_they_overlap() -> None:
    shared = {r.value for r in Role} & {s.value for s in StaffRole}
    assert shared == {"leader", "supervisor"}
    assert (
        Role(StaffRole.LEADER) is Role.LEADER and StaffRole(Role.SUPERVISOR) is StaffRole.SUPERVISOR
    )
    assert [s for s in StaffRole if s.keeps_hours] == [StaffRole.OFFICER]


def test_the_configuration_holds_roles_as_enums_and_names_the_allowed_ones() -> None:
    cfg = example()
    assert all(isinstance(s.role, StaffRole) for s in cfg.staff)
    assert all(isinstance(u.role, Role) and u.account.role is u.role for u in cfg.users)
    doc = cfg.model_dump(mode="json")
    assert {s["role"] for s in doc["staff"]} <= {"officer", "leader", "supervisor"}
    doc["staff"][0]["role"] = "boss"
    with pytest.raises(ConfigError) as err:
        parse_config(doc)
    assert err.value.problems == [
        "staff[0].role: Input should be 'officer', 'leader' or 'supervisor'"
    ]


# --- make-ups --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "makeup"),
    [
        ("makeup:S100", Makeup(approved_by=StaffId("S100"))),
        ("makeup: S100 ", Makeup(approved_by=StaffId("S100"))),
        ("makeup:", Makeup(approved_by=None)),  # claims one, names nobody: refused later
        ("makeup:  ", Makeup(approved_by=None)),
        ("Makeup:S100", None),
        ("check_in", None),
        (None, None),
    ],
)
def test_a_make_up_is_decoded_from_the_state_once(state: str | None, makeup: Makeup) -> None:
    assert makeup_of(state) == makeup


def test_the_contract_decodes_the_make_up_and_keeps_the_wire_text() -> None:
    wire = punch(verify="temporary", state="makeup:S100")
    t = topic("clock", "CLK-EAST", "punch")
    d = decode(t, wire, T0, HALL, example().directory(), Limits())
    assert isinstance(d, Accepted) and isinstance(d.event, Punch)
    assert d.event.verify is Verify.TEMPORARY and d.event.state == "makeup:S100"
    assert d.event.makeup == Makeup(approved_by=StaffId("S100"))
    assert decode_journaled(t, wire, HALL, d.event.ts) == d.event
    plain = decode(t, punch(), T0, HALL, example().directory(), Limits())
    assert isinstance(plain, Accepted) and isinstance(plain.event, Punch)
    assert plain.event.makeup is None


# --- heap kinds, walk marks ------------------------------------------------------------------


def test_heap_kinds_and_walk_marks_keep_their_order_at_one_instant() -> None:
    """The order the bare ints had (cards: watch, year, case, card; a clock's walk: resume,
    extend, pause) and the checkpoints' former strings had (duty, quota, sheets)."""
    assert sorted(Wake) == [Wake.WATCH, Wake.YEAR, Wake.CASE, Wake.CARD]
    assert [int(w) for w in Wake] == [0, 1, 2, 3]
    assert sorted(WalkMark) == [WalkMark.RESUME, WalkMark.EXTEND, WalkMark.PAUSE]
    assert [int(m) for m in WalkMark] == [0, 1, 2]
    assert sorted(Check) == [Check.DUTY, Check.HOLIDAY, Check.QUOTA, Check.SHEETS]
    keys = [(c, d) for c in Check for d in (date(2026, 11, 3), date(2026, 11, 20))]
    for a in keys:
        for b in keys:
            assert (a < b) == (f"{a[0]}:{a[1].isoformat()}" < f"{b[0]}:{b[1].isoformat()}")


# --- card qualifiers and watch keys ----------------------------------------------------------

DAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("parts", "text"),
    [
        ((DAY, "am", "in"), "2026-11-20/am/in"),  # an attendance session's check-in
        ((DAY, "pm"), "2026-11-20/pm"),  # a duty half-day, an absent half-day
        (("gaj", "会签"), "gaj/会签"),  # a case step of a department
        ((None, "会签"), "会签"),  # a step without a department
        ((), ""),  # the rule has one condition per subject
    ],
)
def test_one_constructor_gives_the_qualifiers_the_hand_built_ones_gave(
    parts: tuple[str | date | None, ...], text: str
) -> None:
    assert qualifier(*parts) == text


@pytest.mark.parametrize(
    ("kind", "parts", "key"),
    [
        (WatchKind.WINDOW, ("W03",), "window:W03"),
        (WatchKind.ATTENDANCE, ("S001", DAY), "attendance:S001:2026-11-20"),
        (WatchKind.DUTY, (DAY, "am", "L001"), "duty:2026-11-20:am:L001"),
        (WatchKind.QUOTA, (date(2026, 11, 16), "L001"), "quota:2026-11-16:L001"),
        (WatchKind.COMPLAINT, ("TS-1",), "complaint:TS-1"),
        (WatchKind.COMPLAINT, ("TS-1", "founded"), "complaint:TS-1:founded"),
        (WatchKind.REVIEW, ("C1",), "review:C1"),
    ],
)
def test_watch_keys_are_the_ones_card_ids_always_hashed(
    kind: WatchKind, parts: tuple[str | date, ...], key: str
) -> None:
    assert watch_key(kind, *parts) == key


# --- the contract's getters ------------------------------------------------------------------


def test_the_contract_getters_are_typed_and_take_no_required_flag() -> None:
    getters = [
        (name, fn)
        for name, fn in inspect.getmembers(_Fields, inspect.isfunction)
        if not name.startswith("_")
    ]
    assert {n for n, _ in getters} >= {"required_text", "optional_text", "required_time"}
    for name, fn in getters:
        assert "required" not in inspect.signature(fn).parameters, name
        hints = typing.get_type_hints(fn)
        assert hints["return"] is not typing.Any, name


# --- one exception tree ----------------------------------------------------------------------


def _exception_classes() -> dict[str, list[str]]:
    """Every exception class defined in the packages: name -> the names of its bases."""
    classes: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    bases = [ast.unparse(b).rpartition(".")[2] for b in node.bases]
                    classes[node.name] = bases
    builtin = {n for n, v in vars(builtins).items() if isinstance(v, type)}
    builtin = {n for n in builtin if issubclass(getattr(builtins, n), BaseException)}
    out: dict[str, list[str]] = {}
    grew = True
    while grew:
        grew = False
        for name, bases in classes.items():
            if name not in out and any(b in builtin or b in out for b in bases):
                out[name] = bases
                grew = True
    return out


def _rooted(name: str, classes: dict[str, list[str]]) -> bool:
    return name == "HallwatchError" or any(
        b in classes and _rooted(b, classes) for b in classes[name]
    )


def test_every_exception_of_the_project_derives_from_hallwatch_error() -> None:
    classes = _exception_classes()
    assert len(classes) >= 15
    assert [n for n in classes if not _rooted(n, classes)] == []


def test_the_tree_in_the_docstring_is_the_tree_in_the_code() -> None:
    classes = _exception_classes()
    doc = alerts.errors.__doc__ or ""
    drawn: dict[str, str] = {}
    parents = ["HallwatchError"]
    for line in doc.splitlines():
        m = re.match(r"^    ((?:│   |    )*)[├└]── (\w+)", line)
        if m is None:
            continue
        depth, name = len(m.group(1)) // 4, m.group(2)
        drawn[name] = parents[depth]
        parents[depth + 1 :] = [name]
    public = {n for n in classes if not n.startswith("_") and n != "HallwatchError"}
    assert set(drawn) == public
    for name, parent in drawn.items():
        assert parent in classes[name], (name, parent)

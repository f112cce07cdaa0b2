"""The item catalogue (事项清单): a case event names its item and nothing more; the case's kind
and limits are the catalogue's; an item without a legal limit says so (`000_… 四(三)`: where no
law sets a limit, act promptly), and so does a promised case given none; an event that carries
its own limits (`000_… 四(一)`) runs exactly as before, catalogue or not."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from alerts import contract
from alerts.cases import Entry, _assess, assess
from alerts.config import HallConfig, parse_config
from alerts.contract import Accepted, Limits, Rejected, RejectReason, decode, decode_journaled
from alerts.errors import ConfigError
from alerts.events import CaseAction, CaseEvent, CaseKind, Recorded
from alerts.ids import CaseId, EventId, StaffId, WindowId
from alerts.items import LEGAL_ZH, CaseItem, LegalLimit, catalogue
from alerts.rules import Policy, RuleId
from alerts.supervision import Supervision, policy
from monitor.web.cardpage import case_timeline
from monitor.web.console import Names
from tests.case_builders import CAL, at
from tests.hall import HALL, T0, body, example, topic

CFG = example()
DIRECTORY = CFG.directory()
ITEMS = catalogue(CFG.items)
T = topic("case", "C1", "event")
ITEM_ONLY = {"case": "C1", "action": "accepted", "item": "SCJG-001",
             "ts": "2026-11-23T08:20:00+08:00", "window": "W01", "staff": "S001"}  # fmt: skip


def _decode(payload: bytes) -> Accepted | Rejected:
    return decode(T, payload, T0, HALL, DIRECTORY, Limits())


def test_an_acceptance_naming_its_item_alone_is_accepted_on_both_paths_and_in_replay() -> None:
    payload = body(**ITEM_ONLY)
    got = _decode(payload)
    assert isinstance(got, Accepted)
    assert isinstance(got.event, CaseEvent)
    assert (got.event.item, got.event.kind, got.event.promised_days) == ("SCJG-001", None, None)
    ref = contract.decode_reference(T, payload, T0, HALL, DIRECTORY, Limits())
    assert ref == got
    assert decode_journaled(T, payload, HALL, got.event.ts) == got.event
    received = body(**{**ITEM_ONLY, "action": "received"})
    assert isinstance(_decode(received), Accepted)


def test_an_unknown_item_is_refused_only_when_the_event_leans_on_it() -> None:
    leaning = _decode(body(**{**ITEM_ONLY, "item": "NOPE-9"}))
    assert isinstance(leaning, Rejected) and leaning.reason is RejectReason.UNKNOWN_ITEM
    assert leaning.reason.label_zh == "事项清单中没有该事项"
    own = {**ITEM_ONLY, "item": "NOPE-9", "kind": "promised", "promised_days": 3}
    assert isinstance(_decode(body(**own)), Accepted)
    refusal = {"case": "C1", "action": "returned", "item": "NOPE-9", "reason_code": 3,
               "reason": "材料不全", "ts": "2026-11-23T08:30:00+08:00"}  # fmt: skip
    assert isinstance(_decode(body(**refusal)), Accepted)
    no_kind = {k: v for k, v in ITEM_ONLY.items() if k != "item"}
    missing = _decode(body(**no_kind))
    assert isinstance(missing, Rejected) and missing.reason is RejectReason.MISSING_FIELD


# --- the clocks -----------------------------------------------------------------------------


def _entry(ev: CaseEvent, n: int = 1) -> Entry:
    return Entry(ev.ts, n, EventId(f"e{n}"), ev)


def _accepted(**kw: Any) -> CaseEvent:
    fields: dict[str, Any] = {
        "case": CaseId("C1"),
        "action": CaseAction.ACCEPTED,
        "ts": at(2026, 11, 23, 9, 0),
        "window": WindowId("W01"),
        "staff": StaffId("S001"),
    }
    return CaseEvent(**{**fields, **kw})


POLICY = Policy(items=ITEMS)


def test_the_catalogue_gives_the_kind_and_both_limits() -> None:
    """SCJG-001: promised 1, legal 15 working days (the example hall's catalogue)."""
    a = assess(CaseId("C1"), [_entry(_accepted(item="SCJG-001"))], CAL, POLICY)
    assert (a.kind, a.promised_days, a.item, a.legal) == (
        CaseKind.PROMISED, 1, "SCJG-001", LegalLimit.GIVEN,
    )  # fmt: skip
    rules = {c.rule: c.start for c in a.conditions}
    assert rules[RuleId.PROMISED_OVERDUE] == at(2026, 11, 24, 17, 30)
    assert rules[RuleId.LEGAL_OVERDUE] == CAL.add_working_days(at(2026, 11, 23, 9, 0), 15).at
    without = assess(CaseId("C1"), [_entry(_accepted(item="SCJG-001"))], CAL, Policy())
    assert without.conditions == () and without.kind is None  # no catalogue: no clock


def test_an_item_without_a_legal_limit_says_so_and_runs_no_legal_clock() -> None:
    a = assess(CaseId("C1"), [_entry(_accepted(item="ZWB-001"))], CAL, POLICY)
    assert a.legal is LegalLimit.NONE_BY_LAW
    assert {c.rule for c in a.conditions} == {RuleId.PROMISED_WARNING, RuleId.PROMISED_OVERDUE}


def test_a_promised_case_given_no_legal_limit_says_it_is_missing() -> None:
    ev = _accepted(kind=CaseKind.PROMISED, promised_days=5)
    assert assess(CaseId("C1"), [_entry(ev)], CAL, POLICY).legal is LegalLimit.MISSING
    assert assess(CaseId("C1"), [_entry(ev)], CAL, Policy()).legal is LegalLimit.MISSING


@pytest.mark.parametrize("item", [None, "SCJG-001", "NOPE-9"])
def test_an_event_with_its_own_limits_runs_as_before_whatever_its_item(item: str | None) -> None:
    ev = _accepted(kind=CaseKind.PROMISED, promised_days=5, legal_days=20)
    before = assess(CaseId("C1"), [_entry(ev)], CAL, Policy())
    now = assess(CaseId("C1"), [_entry(CaseEvent(**{**_fields(ev), "item": item}))], CAL, POLICY)
    assert now.conditions == before.conditions and now.due == before.due
    assert now.promised_days == 5


def _fields(ev: CaseEvent) -> dict[str, Any]:
    return {s: getattr(ev, s) for s in ev.__slots__}


@pytest.mark.parametrize("item", ["SCJG-001", "ZJJ-001", "MZJ-001", "ZWB-001"])
def test_the_short_path_agrees_with_the_general_one_for_items(item: str) -> None:
    entries = [_entry(_accepted(item=item))]
    filled = [Entry(e.ts, e.seq, e.event_id, e.event) for e in entries]
    quick = assess(CaseId("C1"), filled, CAL, POLICY)
    from alerts.cases import _items_filled

    assert quick == _assess(CaseId("C1"), _items_filled(entries, POLICY), CAL, POLICY)


# --- what users see, and the configuration ----------------------------------------------------


def test_the_card_page_timeline_names_the_item_and_its_legal_limit() -> None:
    sup = Supervision(CFG)
    t = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    for n, item in enumerate(("ZWB-001", "SCJG-001"), start=1):
        ev = _accepted(case=CaseId(f"C{n}"), item=item, ts=t)
        sup.apply(Recorded(n, EventId(f"e{n}"), t, ev))
    names, zone = Names.of(CFG), CFG.hall.zone
    none = case_timeline(sup, "C1", names, zone)[0]["detail_zh"]
    assert none == "事项 ZWB-001 企业投资项目帮办代办；" + (
        "无法定时限（法律、法规、规章未规定时限，按高效便民原则及时办理）；承诺 3 个工作日"
    )
    given = case_timeline(sup, "C2", names, zone)[0]["detail_zh"]
    assert given == "事项 SCJG-001 企业设立登记；承诺 1 个工作日；法定 15 个工作日"
    bare = _accepted(case=CaseId("C3"), kind=CaseKind.PROMISED, promised_days=2, ts=t)
    sup.apply(Recorded(3, EventId("e3"), t, bare))
    missing = case_timeline(sup, "C3", names, zone)[0]["detail_zh"]
    assert missing == f"{LEGAL_ZH[LegalLimit.MISSING]}；承诺 2 个工作日"
    assert LEGAL_ZH[LegalLimit.MISSING].startswith("未给出法定时限")
    assert policy(CFG).items == ITEMS


def _with_items(items: list[dict[str, Any]]) -> HallConfig:
    data = CFG.model_dump(mode="json", exclude_none=True)
    data["items"] = items
    return parse_config(data)


def test_the_catalogue_is_checked() -> None:
    good = {"code": "X-1", "name": "某事项", "kind": "promised", "promised_days": 2,
            "legal_days": "none", "department": "scjg"}  # fmt: skip
    assert _with_items([good]).items[0].item() == CaseItem(
        code="X-1", name="某事项", kind=CaseKind.PROMISED, promised_days=2, legal_days=None,
        department="scjg",
    )  # fmt: skip
    with pytest.raises(ConfigError, match="appears 2 times"):
        _with_items([good, good])
    with pytest.raises(ConfigError, match="unknown department"):
        _with_items([{**good, "department": "nowhere"}])
    with pytest.raises(ConfigError, match="needs promised_days"):
        _with_items([{k: v for k, v in good.items() if k != "promised_days"}])
    with pytest.raises(ConfigError, match="legal_days"):
        _with_items([{k: v for k, v in good.items() if k != "legal_days"}])
    with pytest.raises(ConfigError, match="legal_days"):
        _with_items([{**good, "legal_days": "unknown"}])

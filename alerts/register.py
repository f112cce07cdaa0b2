"""The negative-filing register (否定报备情况登记表): every refusal with the officer's name, post
and phone, the case, its reasons and their kind, the applicant, and the leader's review. Pure.

What the register holds is the seeds' (`000_… 六(三)`): the officer (name, post, phone), the
case and why it was refused, the applicant (unit, name, phone); the six kinds of reasons are
`000_… 六(二)`; the review and its deadlines `000_… 六(五)` (the thresholds are `Policy`'s, the
same the cards run on). A refusal is a `returned` at the window or a `completed` refused; each
case files its first. Who may review is the cards' rule: a leader, never the case's officer
(`Policy.leaders`; a review by anyone else counts as none, as `case.refusal.review_unqualified`
says).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Final

from alerts.cases import Entry, entry_order
from alerts.config import HallConfig
from alerts.events import Applicant, CaseAction, Outcome, ReviewVerdict
from alerts.ids import CaseId, EventId, StaffId, WindowId
from alerts.rules import Policy
from alerts.workdays import WorkCalendar

# 000_… 六(二): the six kinds of reasons a refusal may have.
REASON_ZH: Final = {
    1: "不符合有关法律、法规和规范性文件，确实不能办理",
    2: "属于保密事项，不能公开办理",
    3: "附送的证件资料或办理手续不完整",
    4: "不符合办理程序或违反操作规程",
    5: "超期或不到办理时间",
    6: "其他不能办理的事项",
}


class Standing(StrEnum):
    """Where a filing's review stands at `now`."""

    PENDING = "pending"
    REVIEW_LATE = "review_late"
    UPHELD = "upheld"
    TO_CORRECT = "to_correct"
    CORRECTION_LATE = "correction_late"
    CORRECTED = "corrected"


STANDING_ZH: Final = {
    Standing.PENDING: "待审核",
    Standing.REVIEW_LATE: "逾期未审核",
    Standing.UPHELD: "审核维持",
    Standing.TO_CORRECT: "审核认定违规，待纠正",
    Standing.CORRECTION_LATE: "认定违规，逾期未纠正",
    Standing.CORRECTED: "已纠正并告知申请人",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Filing:
    case: CaseId
    refused_at: datetime
    how: CaseAction  # RETURNED (退件) or COMPLETED (不予批准)
    window: WindowId | None
    staff: StaffId | None
    item: str | None
    reason: str | None
    reason_code: int | None
    applicant: Applicant | None
    review_due: datetime
    reviewed_at: datetime | None
    verdict: ReviewVerdict | None
    reviewer: StaffId | None
    correction_due: datetime | None
    corrected_at: datetime | None
    standing: Standing
    evidence: tuple[EventId, ...]


def _refusal(e: Entry) -> bool:
    ev = e.event
    return ev.action is CaseAction.RETURNED or (
        ev.action is CaseAction.COMPLETED and ev.outcome is Outcome.REFUSED
    )


def _first(entries: Iterable[Entry], after: datetime) -> Entry | None:
    found = [e for e in entries if e.ts >= after]
    return min(found, key=entry_order) if found else None


def _qualified(e: Entry, officer: StaffId | None, leaders: frozenset[StaffId] | None) -> bool:
    who = e.event.reviewer
    return leaders is None or (who is not None and who != officer and who in leaders)


def filing(
    case: CaseId, entries: Sequence[Entry], cal: WorkCalendar, policy: Policy, now: datetime
) -> Filing | None:
    """The case's filing, or None when it was never refused."""
    ordered = sorted(entries, key=entry_order)
    refused = next((e for e in ordered if _refusal(e)), None)
    if refused is None:
        return None
    ev = refused.event
    officer = next((e.event.staff for e in ordered if e.event.staff), None)
    window = next((e.event.window for e in ordered if e.event.window), None)
    reviews = [
        e
        for e in ordered
        if e.event.action is CaseAction.REFUSAL_REVIEWED and _qualified(e, officer, policy.leaders)
    ]
    review = _first(reviews, refused.ts)
    review_due = cal.add_working_days(refused.ts, policy.refusal_review_days).at
    fix_due = fixed = None
    if review is not None and review.event.verdict is ReviewVerdict.UNLAWFUL:
        fix_due = cal.add_working_days(review.ts, policy.correction_days).at
        fixes = [e for e in ordered if e.event.action is CaseAction.CORRECTED]
        fixed = _first(fixes, review.ts)
    used = [x for x in (refused, review, fixed) if x is not None]
    return Filing(
        case=case,
        refused_at=refused.ts,
        how=ev.action,
        window=window,
        staff=ev.staff or officer,
        item=next((e.event.item for e in ordered if e.event.item), None),
        reason=(ev.reason or "").strip() or None,
        reason_code=ev.reason_code,
        applicant=next((e.event.applicant for e in ordered if e.event.applicant), None),
        review_due=review_due,
        reviewed_at=review.ts if review else None,
        verdict=review.event.verdict if review else None,
        reviewer=review.event.reviewer if review else None,
        correction_due=fix_due,
        corrected_at=fixed.ts if fixed else None,
        standing=_standing(now, review, review_due, fix_due, fixed),
        evidence=tuple(x.event_id for x in used),
    )


def _standing(
    now: datetime,
    review: Entry | None,
    review_due: datetime,
    fix_due: datetime | None,
    fixed: Entry | None,
) -> Standing:
    if review is None or review.ts > now:
        return Standing.REVIEW_LATE if now > review_due else Standing.PENDING
    if review.event.verdict is not ReviewVerdict.UNLAWFUL:
        return Standing.UPHELD
    if fixed is not None and fixed.ts <= now:
        return Standing.CORRECTED
    assert fix_due is not None
    return Standing.CORRECTION_LATE if now > fix_due else Standing.TO_CORRECT


def register(
    cases: Mapping[CaseId, Sequence[Entry]], cal: WorkCalendar, policy: Policy, now: datetime
) -> list[Filing]:
    """Every refused case's filing, the latest refusal first."""
    out = []
    for case, entries in cases.items():
        if any(_refusal(e) for e in entries):
            f = filing(case, entries, cal, policy, now)
            if f is not None:
                out.append(f)
    out.sort(key=lambda f: (f.refused_at, f.case), reverse=True)
    return out


# --- the register as a table, in Chinese, with names --------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    post: str
    phone: str


COLUMNS: Final = (
    "序号",
    "办件编号",
    "事项",
    "否定时间",
    "方式",
    "窗口",
    "经办人",
    "职务",
    "联系电话",
    "否定原因",
    "原因类别",
    "申请人单位",
    "申请人",
    "申请人电话",
    "审核期限",
    "审核结果",
    "审核人",
    "审核时间",
    "纠正期限",
    "纠正时间",
)
HOW_ZH: Final = {CaseAction.RETURNED: "窗口退件", CaseAction.COMPLETED: "审批不予批准"}
VERDICT_ZH: Final = {ReviewVerdict.UPHELD: "依法否定", ReviewVerdict.UNLAWFUL: "违规否定"}
Row = list[str | int | None]


@dataclass(frozen=True, slots=True)
class Directory:
    """Names for the register: people with their post and phone, windows, items."""

    people: Mapping[str, Person]
    windows: Mapping[str, str]
    items: Mapping[str, str]
    zone: tzinfo

    @classmethod
    def of(cls, cfg: HallConfig) -> Directory:
        people = {s.id: Person(s.name, s.post, s.phone or s.mobile or "") for s in cfg.staff}
        windows = {w.id: w.name for w in cfg.windows}
        return cls(people, windows, {i.code: i.name for i in cfg.items}, cfg.hall.zone)

    def person(self, sid: str | None) -> Person | None:
        return None if sid is None else self.people.get(sid, Person(sid, "", ""))


def _t(t: datetime | None, zone: tzinfo) -> str:
    return "" if t is None else t.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def row(n: int, f: Filing, d: Directory) -> Row:
    officer, reviewer = d.person(f.staff), d.person(f.reviewer)
    code = f"{f.reason_code} {REASON_ZH.get(f.reason_code, '')}" if f.reason_code else "未填"
    window = f"{f.window} {d.windows.get(f.window, '')}".strip() if f.window else ""
    item = f"{f.item} {d.items.get(f.item, '')}".strip() if f.item else ""
    a = f.applicant
    review = STANDING_ZH[f.standing]
    if f.verdict is not None:
        review = f"{VERDICT_ZH[f.verdict]}（{review}）"
    z = d.zone
    return [
        n,
        f.case,
        item,
        _t(f.refused_at, z),
        HOW_ZH.get(f.how, ""),
        window,
        officer.name if officer else "",
        officer.post if officer else "",
        officer.phone if officer else "",
        f.reason or "未说明理由",
        code,
        (a.unit if a else None) or "",
        (a.name if a else None) or "",
        (a.phone if a else None) or "",
        _t(f.review_due, z),
        review,
        reviewer.name if reviewer else "",
        _t(f.reviewed_at, z),
        _t(f.correction_due, z),
        _t(f.corrected_at, z),
    ]


def table(filings: Sequence[Filing], d: Directory, start: int = 1) -> tuple[list[str], list[Row]]:
    return list(COLUMNS), [row(start + i, f, d) for i, f in enumerate(filings)]

"""The hall's item catalogue (事项清单): item code → kind, promised days, legal days, department.
Pure.

A window's case system then sends a case event with its `item` alone (docs/contract.md): the
case's kind and limits are the catalogue's. What the event carries itself wins, so an event
with its own limits works exactly as before. An item says its legal limit outright: a number
of working days, or "none" where no law, regulation or rule sets one (000_… 四(三): act
promptly), so a case never silently lacks one. `LegalLimit` on the case's assessment says which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import Field, model_validator

from alerts.events import CaseAction, CaseEvent, CaseKind
from alerts.model import ConfigModel

NO_LIMIT: Final = "none"
_CODE = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
# Kinds a promised limit runs for (alerts/cases.py): an item of these kinds must give one.
PROMISED_KINDS: Final = frozenset(
    {CaseKind.PROMISED, CaseKind.JOINT, CaseKind.REPORTED, CaseKind.SUPPLEMENT}
)


class LegalLimit(StrEnum):
    """Where a case's legal limit (法定时限) stands."""

    GIVEN = "given"  # a number of working days, from the event or the item
    NONE_BY_LAW = "none_by_law"  # the item says no law sets one (000_… 四(三))
    MISSING = "missing"  # a promised kind, and neither the event nor a catalogued item gives one
    NOT_APPLICABLE = "not_applicable"  # immediate, special, returned: no legal clock runs


LEGAL_ZH: Final = {
    LegalLimit.GIVEN: "法定时限",
    LegalLimit.NONE_BY_LAW: "无法定时限（法律、法规、规章未规定时限，按高效便民原则及时办理）",
    LegalLimit.MISSING: "未给出法定时限（办件事件未带法定时限，事项清单也没有该事项）",
    LegalLimit.NOT_APPLICABLE: "不适用",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseItem:
    code: str
    name: str
    kind: CaseKind
    promised_days: int | None
    legal_days: int | None  # None: no legal limit (the catalogue said "none")
    department: str


class ItemConfig(ConfigModel):
    code: _CODE = Field(description="Item code (事项编码) the case events carry as `item`.")
    name: str = Field(min_length=1, description="Item name (事项名称), e.g. 企业设立登记.")
    kind: CaseKind = Field(description="Case kind of the item: promised, joint, immediate, ...")
    promised_days: int | None = Field(
        None, ge=0, le=3650, description="Promised limit (承诺时限), working days."
    )
    legal_days: int | Literal["none"] = Field(
        description='Legal limit (法定时限), working days, or "none" where no law sets one.'
    )
    department: str = Field(min_length=1, description="Department id that handles it.")

    @model_validator(mode="after")
    def _limits(self) -> ItemConfig:
        if self.kind in PROMISED_KINDS and self.promised_days is None:
            raise ValueError(f"a {self.kind} item needs promised_days")
        if isinstance(self.legal_days, int) and not 0 <= self.legal_days <= 3650:
            raise ValueError("legal_days must be 0 to 3650 working days or 'none'")
        return self

    def item(self) -> CaseItem:
        legal = None if self.legal_days == NO_LIMIT else int(self.legal_days)
        return CaseItem(
            code=self.code,
            name=self.name,
            kind=self.kind,
            promised_days=self.promised_days,
            legal_days=legal,
            department=self.department,
        )


def catalogue(items: list[ItemConfig]) -> dict[str, CaseItem]:
    return {i.code: i.item() for i in items}


def filled(ev: CaseEvent, items: Mapping[str, CaseItem]) -> CaseEvent:
    """The event with what its item gives and it leaves out: the kind, and on acceptance the
    limits. An event's own values win; an unknown item changes nothing."""
    it = items.get(ev.item) if ev.item is not None else None
    if it is None:
        return ev
    if ev.action is not CaseAction.ACCEPTED:
        return ev if ev.kind is not None else replace(ev, kind=it.kind)
    return replace(
        ev,
        kind=ev.kind or it.kind,
        promised_days=ev.promised_days if ev.promised_days is not None else it.promised_days,
        legal_days=ev.legal_days if ev.legal_days is not None else it.legal_days,
    )


def legal_limit(accepted: CaseEvent | None, items: Mapping[str, CaseItem]) -> LegalLimit:
    """Where the legal limit of a case accepted by `accepted` (already `filled`) stands."""
    if accepted is None or accepted.kind not in PROMISED_KINDS:
        return LegalLimit.NOT_APPLICABLE
    if accepted.legal_days is not None:
        return LegalLimit.GIVEN
    it = items.get(accepted.item) if accepted.item is not None else None
    return LegalLimit.NONE_BY_LAW if it is not None else LegalLimit.MISSING

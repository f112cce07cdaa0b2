"""Identifier types: what a string means is in its type; and the parts of a card's id."""

from __future__ import annotations

from datetime import date
from typing import NewType

HallId = NewType("HallId", str)
WindowId = NewType("WindowId", str)
StaffId = NewType("StaffId", str)
DeviceId = NewType("DeviceId", str)
CaseId = NewType("CaseId", str)
CardId = NewType("CardId", str)
ComplaintId = NewType("ComplaintId", str)
EventId = NewType("EventId", str)
DepartmentId = NewType("DepartmentId", str)


def qualifier(*parts: str | date | None) -> str:
    """Which step, session or half-day of its subject a card is for: the parts joined by "/",
    dates in ISO form, absent parts left out (`qualifier(day, "am", "in")` is
    ``2026-11-20/am/in``). A card's id hashes it (alerts/cards.py `card_id`): the same facts
    must always give the same text."""
    return "/".join(p.isoformat() if isinstance(p, date) else p for p in parts if p)

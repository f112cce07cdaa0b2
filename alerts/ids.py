"""Identifier types: what a string means is in its type."""

from __future__ import annotations

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

"""Who someone is in the hall (`StaffRole`, `[[staff]].role`) and at the console (`Role`,
`[[users]].role`).

The two overlap: a leader on duty and the supervisor are staff members who also log in as
such. Their console roles take the staff roles' values (`Role(StaffRole.LEADER) is Role.LEADER`),
and a supervisor user must be a staff member with that staff role (alerts/config.py).
"""

from __future__ import annotations

from enum import StrEnum


class StaffRole(StrEnum):
    OFFICER = "officer"  # works at a window: punches in and out, holds posts
    LEADER = "leader"  # 值班领导: on the duty rota, no attendance sheet
    SUPERVISOR = "supervisor"  # 效能投诉中心: decides cards, no attendance sheet

    @property
    def keeps_hours(self) -> bool:
        """Has a daily attendance sheet (alerts/people.py): only a window officer."""
        return self is StaffRole.OFFICER


class Role(StrEnum):
    DISPLAY = "display"
    LEADER = StaffRole.LEADER.value
    SUPERVISOR = StaffRole.SUPERVISOR.value
    ADMIN = "admin"

    @property
    def label_zh(self) -> str:
        return _ROLE_ZH[self]


_ROLE_ZH = {
    Role.DISPLAY: "显示屏",
    Role.LEADER: "值班领导",
    Role.SUPERVISOR: "效能督查员",
    Role.ADMIN: "系统管理员",
}

"""Console accounts as values: accounts (roles in alerts/roles.py), the hash format.

Checking that a configured scrypt hash is well-formed is pure; hashing and verifying
passwords (CPU-bound, random salts) are the shell's (monitor/web/auth.py).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from alerts.errors import HallwatchError
from alerts.ids import StaffId
from alerts.roles import Role

SCRYPT_LN = 15  # N = 2**15, r = 8: 32 MiB and about 0.1 s per check on the 2-core VM
SCRYPT_R = 8
SCRYPT_P = 1
_LN_RANGE = range(10, 21)  # a configured hash outside this is refused (too weak / a DoS)
_HASH = re.compile(
    r"^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,88})\$([A-Za-z0-9+/]{43,88})$"
)
# The example configuration's users (passwords demo-<role>, README): refused off loopback.
DEMO_HASHES = frozenset(
    {
        "$scrypt$ln=15,r=8,p=1$QQwDefu5LFvhGX5rr7NNNA$harTvIXSgg8J5bL3ASD1qmEp1/KwFZS/rEp3SKL5BLs",
        "$scrypt$ln=15,r=8,p=1$dz1eRBmrLPxfTpNY0F6ZPA$HH203EQzv2e1mo5ErBwsFUWLyARDae2PVOcVWfPaWUk",
        "$scrypt$ln=15,r=8,p=1$HLNhQw0/iHxDk51+OI09BA$EOrzQ25Z8JC+vkjlWLl0WZkIvlM/In81TU1F/Ph6TAw",
        "$scrypt$ln=15,r=8,p=1$oo6ntNLyaSm85HQR1J9HUg$q0wOmO9/V5pfGN0fVvEycu2gKTWasZW0PfTob8sDdwI",
    }
)


class HashError(HallwatchError, ValueError):
    """A configured password hash is not one this program can check (a ValueError, so a
    pydantic validator reports it with its key path)."""


@dataclass(frozen=True, slots=True)
class Scrypt:
    ln: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def parse_hash(encoded: str) -> Scrypt:
    m = _HASH.match(encoded)
    if m is None:
        raise HashError("not a scrypt hash $scrypt$ln=..,r=..,p=..$salt$hash (hallwatch passwd)")
    ln, r, p = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if ln not in _LN_RANGE or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise HashError(f"scrypt parameters ln={ln}, r={r}, p={p} out of range (ln 10-20)")
    return Scrypt(ln, r, p, unb64(m.group(4)), unb64(m.group(5)))


def check_hash(encoded: str) -> str:
    """A validator: the string must be a hash `verify_password` can check."""
    parse_hash(encoded)
    return encoded


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """A console user as configured (`[[users]]`)."""

    name: str
    role: Role
    password_hash: str
    staff: StaffId | None = None


__all__ = [
    "DEMO_HASHES",
    "SCRYPT_LN",
    "SCRYPT_P",
    "SCRYPT_R",
    "Account",
    "HashError",
    "Role",  # alerts/roles.py: the console role, kept importable from here
    "Scrypt",
    "b64",
    "check_hash",
    "parse_hash",
    "unb64",
]

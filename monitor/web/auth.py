"""Who may use the console: password hashes, roles, sessions, login throttling, CSRF. Pure.

- Passwords are stored as scrypt hashes (RFC 7914) in the PHC string format
  `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (salt and hash in unpadded base64); `hallwatch
  passwd` prints one. Verifying costs the same for an unknown user as for a known one.
- A role grants a fixed set of permissions (`GRANTS`); the API checks a permission, never a
  role name.
- Logins are throttled per address and per address and user name (`login_keys`, `Throttle`),
  each attempt counted before its check, and at most a few checks run at once (`LoginGate`).
- Sessions live in memory (a restart logs everyone out): a random token in an HttpOnly,
  SameSite=Strict cookie, stored only as its SHA-256; it ends after its lifetime, after idle
  time, at logout, or when its user's entry in the configuration changes.
- Every state-changing request of a session must carry the session's CSRF token in a header
  (a cross-site form cannot set one) and, if the browser names an Origin, a known origin.

Every function that depends on time takes `now`.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import secrets
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from alerts.accounts import SCRYPT_LN, SCRYPT_P, SCRYPT_R, Account, Role, Scrypt, b64, parse_hash
from alerts.ids import StaffId

COOKIE = "hallwatch_session"
CSRF_HEADER = "X-CSRF-Token"

MAX_PASSWORD = 1024  # characters; longer input is refused before any hashing


class Permission(StrEnum):
    READ_DISPLAY = "read_display"
    READ_CARDS = "read_cards"
    DECIDE_CARDS = "decide_cards"
    READ_COMPLAINTS = "read_complaints"
    READ_ATTENDANCE = "read_attendance"
    READ_REPORT = "read_report"
    READ_AUDIT = "read_audit"
    CONFIGURE = "configure"


_READ = {
    Permission.READ_DISPLAY,
    Permission.READ_CARDS,
    Permission.READ_COMPLAINTS,
    Permission.READ_ATTENDANCE,
    Permission.READ_REPORT,
}
GRANTS: Mapping[Role, frozenset[Permission]] = {
    Role.DISPLAY: frozenset({Permission.READ_DISPLAY}),
    Role.LEADER: frozenset(_READ),
    Role.SUPERVISOR: frozenset({*_READ, Permission.DECIDE_CARDS, Permission.READ_AUDIT}),
    Role.ADMIN: frozenset({Permission.READ_DISPLAY, Permission.READ_AUDIT, Permission.CONFIGURE}),
}


# --- password hashes ------------------------------------------------------------------------


def _scrypt(password: str, s: Scrypt) -> bytes:
    n = 1 << s.ln
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),  # a lone surrogate from JSON: no match
        salt=s.salt,
        n=n,
        r=s.r,
        p=s.p,
        maxmem=256 * n * s.r,
        dklen=len(s.digest),
    )


def hash_password(password: str, *, ln: int = SCRYPT_LN, salt: bytes | None = None) -> str:
    if not password:
        raise ValueError("empty password")
    params = Scrypt(ln, SCRYPT_R, SCRYPT_P, salt or secrets.token_bytes(16), b"\0" * 32)
    digest = _scrypt(password, params)
    return f"$scrypt$ln={ln},r={SCRYPT_R},p={SCRYPT_P}${b64(params.salt)}${b64(digest)}"


@functools.cache
def _dummy() -> str:
    """Checked when the user is unknown, so that a wrong name costs what a wrong password does."""
    return hash_password("-", salt=b"hallwatch-dummy!")


def verify_password(password: str, encoded: str | None) -> bool:
    if len(password) > MAX_PASSWORD:
        return False
    params = parse_hash(encoded or _dummy())
    ok = hmac.compare_digest(_scrypt(password, params), params.digest)
    return ok and encoded is not None


# --- accounts and sessions ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    user: str
    role: Role
    staff: StaffId | None
    csrf: str
    created: datetime
    seen: datetime
    expires: datetime  # the absolute end; idle time may end it earlier
    client: str
    fingerprint: str  # of the account entry it was opened for: a changed entry ends it

    def may(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]


def account_fingerprint(a: Account) -> str:
    text = f"{a.name}\0{a.role}\0{a.password_hash}\0{a.staff or ''}"
    return hashlib.sha256(text.encode()).hexdigest()


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    """Open sessions by token hash. Thread-safe; at most `limit` (the oldest go first)."""

    def __init__(self, lifetime: timedelta, idle: timedelta, limit: int = 1000) -> None:
        self.lifetime = lifetime
        self.idle = idle
        self._limit = limit
        self._by_key: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, account: Account, client: str, now: datetime) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(
            user=account.name,
            role=account.role,
            staff=account.staff,
            csrf=secrets.token_urlsafe(24),
            created=now,
            seen=now,
            expires=now + self.lifetime,
            client=client,
            fingerprint=account_fingerprint(account),
        )
        with self._lock:
            while len(self._by_key) >= self._limit:
                oldest = min(self._by_key, key=lambda k: self._by_key[k].seen)
                del self._by_key[oldest]
            self._by_key[_key(token)] = session
        return token, session

    def get(
        self, token: str | None, accounts: Mapping[str, Account], now: datetime
    ) -> Session | None:
        """The live session of `token` (its idle clock restarts), else None (and it ends)."""
        if not token:
            return None
        key = _key(token)
        with self._lock:
            s = self._by_key.get(key)
            if s is None:
                return None
            account = accounts.get(s.user)
            alive = (
                now < s.expires
                and now - s.seen < self.idle
                and account is not None
                and account_fingerprint(account) == s.fingerprint
            )
            if not alive:
                del self._by_key[key]
                return None
            s = self._by_key[key] = replace(s, seen=max(now, s.seen))
            return s

    def close(self, token: str | None) -> bool:
        with self._lock:
            return self._by_key.pop(_key(token or ""), None) is not None

    def count(self) -> int:
        with self._lock:
            return len(self._by_key)


def session_cookie(token: str, max_age_s: int, *, secure: bool) -> str:
    attrs = [f"{COOKIE}={token}", "Path=/", f"Max-Age={max_age_s}", "HttpOnly", "SameSite=Strict"]
    if secure:
        attrs.append("Secure")
    return "; ".join(attrs)


def clear_cookie(*, secure: bool) -> str:
    return session_cookie("", 0, secure=secure)


# --- login throttling -----------------------------------------------------------------------


def login_keys(client: str, name: str) -> tuple[str, str]:
    """What a login attempt counts against: its address, and its address with the user name.

    Not the name alone: then anyone could keep a supervisor locked out with a few wrong
    passwords every quarter of an hour. Guessing one name from many addresses is bounded by
    each address's own budget and by `LoginGate`'s few checks at a time."""
    return f"ip:{client}", f"user:{client}\0{name[:64]}"


class Throttle:
    """Login attempts per key: after `attempts` within `window`, the key is refused until
    `lockout` has passed since the last one.

    `attempt` counts an attempt before its password is checked (and refuses it once the key
    is spent), atomically, so that parallel attempts cannot all pass a check made before any
    of them was counted; `cancel` takes back one that was never checked (the gate was busy),
    `succeeded` forgets the keys' attempts."""

    def __init__(
        self, attempts: int, window: timedelta, lockout: timedelta, limit: int = 10_000
    ) -> None:
        self.attempts = attempts
        self.window = window
        self.lockout = lockout
        self._limit = limit
        self._tries: dict[str, list[datetime]] = {}
        self._lock = threading.Lock()

    def blocked_until(self, keys: Sequence[str], now: datetime) -> datetime | None:
        with self._lock:
            return self._until(keys, now)

    def attempt(self, keys: Sequence[str], now: datetime) -> datetime | None:
        """Count an attempt on every key; or, if one is locked, the lockout's end (uncounted)."""
        with self._lock:
            until = self._until(keys, now)
            if until is None:
                self._count(keys, now)
            return until

    def failed(self, keys: Sequence[str], now: datetime) -> None:
        """Count an attempt that was not counted by `attempt`."""
        with self._lock:
            self._count(keys, now)

    def cancel(self, keys: Sequence[str], now: datetime) -> None:
        with self._lock:
            for key in keys:
                tries = self._tries.get(key, [])
                if now in tries:
                    tries.remove(now)

    def succeeded(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._tries.pop(key, None)

    def _recent(self, key: str, now: datetime) -> list[datetime]:
        return [t for t in self._tries.get(key, []) if now - t < self.window]

    def _until(self, keys: Sequence[str], now: datetime) -> datetime | None:
        until = None
        for key in keys:
            recent = self._recent(key, now)
            if len(recent) >= self.attempts:
                end = max(recent) + self.lockout
                if end > now and (until is None or end > until):
                    until = end
        return until

    def _count(self, keys: Sequence[str], now: datetime) -> None:
        if len(self._tries) >= self._limit:  # a flood of addresses: drop what has expired
            self._tries = {k: r for k in self._tries if (r := self._recent(k, now))}
            if len(self._tries) >= self._limit:
                self._tries.clear()  # forget rather than grow
        for key in keys:
            self._tries[key] = [*self._recent(key, now), now][-self.attempts :]


class LoginGate:
    """At most `concurrency` password checks at once (each scrypt check holds 32 MiB for about
    0.1 s); a login beyond it is turned away at once (503), so memory stays bounded however
    many arrive together."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)
        self.turned_away = 0

    def verify(self, password: str, encoded: str | None) -> bool | None:
        """`verify_password`, or None when every slot is busy."""
        if not self._slots.acquire(blocking=False):
            self.turned_away += 1
            return None
        try:
            return verify_password(password, encoded)
        finally:
            self._slots.release()


# --- where a request comes from, and whether it may change anything ---------------------------


def client_address(peer: str, forwarded_for: str | None, trusted: Collection[str]) -> str:
    """The peer, or behind trusted proxies the nearest untrusted address they name."""
    if peer not in trusted or not forwarded_for:
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage from the client's side of the proxy
    return peer


class CsrfVerdict(StrEnum):
    OK = "ok"
    NO_TOKEN = "no_token"
    BAD_TOKEN = "bad_token"
    FOREIGN_ORIGIN = "foreign_origin"

    @property
    def label_zh(self) -> str:
        return _CSRF_ZH[self]


_CSRF_ZH = {
    CsrfVerdict.OK: "通过",
    CsrfVerdict.NO_TOKEN: "请求缺少防伪令牌，请刷新页面后重试",
    CsrfVerdict.BAD_TOKEN: "防伪令牌无效，请刷新页面后重试",
    CsrfVerdict.FOREIGN_ORIGIN: "请求来自其他网站，已拒绝",
}


def origin_ok(origin: str | None, host: str | None, extra: Collection[str]) -> bool:
    """No Origin (a same-origin GET, an old client) passes; else it must be this host's."""
    if origin is None:
        return True
    allowed = set(extra)
    if host:
        allowed |= {f"http://{host}", f"https://{host}"}
    return origin.rstrip("/") in allowed


def check_csrf(
    session: Session,
    token: str | None,
    origin: str | None,
    host: str | None,
    extra: Collection[str],
) -> CsrfVerdict:
    if not origin_ok(origin, host, extra):
        return CsrfVerdict.FOREIGN_ORIGIN
    if not token:
        return CsrfVerdict.NO_TOKEN
    if not hmac.compare_digest(token.encode(), session.csrf.encode()):
        return CsrfVerdict.BAD_TOKEN
    return CsrfVerdict.OK

"""Console access, pure parts: password hashes, roles, sessions and their expiry, throttling,
where a request comes from, CSRF; the [[users]] checks; `hallwatch passwd`."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from alerts.accounts import DEMO_HASHES, Account, HashError, Role, check_hash
from alerts.config import parse_config
from alerts.errors import ConfigError
from alerts.ids import StaffId
from hallkit.config import read_toml
from hallkit.exits import EXIT_CONFIG
from monitor.web.auth import (
    GRANTS,
    CsrfVerdict,
    LoginGate,
    Permission,
    Sessions,
    Throttle,
    check_csrf,
    client_address,
    hash_password,
    login_keys,
    session_cookie,
    verify_password,
)
from tests.hall import example

T0 = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
FAST = 10  # ln for hashes made in tests: the scrypt cost is not under test here


def account(name: str = "qian", role: Role = Role.SUPERVISOR, pw: str = "h") -> Account:
    return Account(name=name, role=role, password_hash=pw, staff=StaffId("D001"))


# --- hashes ----------------------------------------------------------------------------------


def test_hash_round_trip_and_wrong_password() -> None:
    encoded = hash_password("correct horse", ln=FAST)
    assert encoded.startswith("$scrypt$ln=10,r=8,p=1$")
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct horsE", encoded)
    assert not verify_password("correct horse", None)  # unknown user: same work, never true
    assert hash_password("x", ln=FAST) != hash_password("x", ln=FAST)  # salted


def test_demo_passwords_are_what_the_readme_says() -> None:
    users = {u.name: u for u in example().users}
    assert {u.password_hash for u in users.values()} == DEMO_HASHES
    for name in ("leader", "supervisor", "admin", "display"):
        assert verify_password(f"demo-{name}", users[name].password_hash)
        assert users[name].role == name


@pytest.mark.parametrize(
    "bad",
    [
        "demo-leader",  # a password where a hash belongs
        "$pbkdf2-sha256$29000$abc$def",
        "$scrypt$ln=4,r=8,p=1$QQwDefu5LFvhGX5rr7NNNA$harTvIXSgg8J5bL3ASD1qmEp1/KwFZS/rEp3SKL5BLs",
        "$scrypt$ln=30,r=8,p=1$QQwDefu5LFvhGX5rr7NNNA$harTvIXSgg8J5bL3ASD1qmEp1/KwFZS/rEp3SKL5BLs",
    ],
)
def test_unusable_hashes_are_refused(bad: str) -> None:
    with pytest.raises(HashError):
        check_hash(bad)


def test_overlong_password_is_refused_before_hashing() -> None:
    assert not verify_password("x" * 5000, hash_password("x", ln=FAST))


def test_a_lone_surrogate_in_a_password_is_a_wrong_password_not_an_error() -> None:
    assert not verify_password("\ud800", hash_password("x", ln=FAST))


# --- roles -------------------------------------------------------------------------------------


def test_role_grants() -> None:
    assert GRANTS[Role.DISPLAY] == {Permission.READ_DISPLAY}
    assert Permission.DECIDE_CARDS in GRANTS[Role.SUPERVISOR]
    assert Permission.DECIDE_CARDS not in GRANTS[Role.LEADER]
    assert Permission.READ_ATTENDANCE in GRANTS[Role.LEADER]
    assert Permission.DECIDE_CARDS not in GRANTS[Role.ADMIN]
    assert Permission.CONFIGURE in GRANTS[Role.ADMIN]
    assert all(Permission.CONFIGURE not in GRANTS[r] for r in Role if r is not Role.ADMIN)
    assert all(Permission.READ_DISPLAY in g for g in GRANTS.values())


# --- sessions -----------------------------------------------------------------------------------


def test_session_ends_after_idle_time_and_lifetime() -> None:
    store = Sessions(lifetime=timedelta(hours=8), idle=timedelta(minutes=30))
    a = account()
    accounts = {a.name: a}
    token, s = store.open(a, "127.0.0.1", T0)
    assert s.expires == T0 + timedelta(hours=8)
    now = T0
    for _ in range(23):  # used every 20 minutes: idle never reached, lifetime is
        now += timedelta(minutes=20)
        assert store.get(token, accounts, now) is not None
    assert store.get(token, accounts, T0 + timedelta(hours=8)) is None
    assert store.get(token, accounts, T0) is None  # ended for good, not only at that instant

    token, _ = store.open(a, "127.0.0.1", T0)
    assert store.get(token, accounts, T0 + timedelta(minutes=29)) is not None
    assert store.get(token, accounts, T0 + timedelta(minutes=59)) is None  # 30 idle minutes


def test_session_ends_when_the_account_changes_or_goes() -> None:
    store = Sessions(lifetime=timedelta(hours=8), idle=timedelta(minutes=30))
    a = account()
    token, _ = store.open(a, "127.0.0.1", T0)
    demoted = Account(name=a.name, role=Role.LEADER, password_hash=a.password_hash)
    assert store.get(token, {a.name: demoted}, T0) is None
    token, _ = store.open(a, "127.0.0.1", T0)
    assert store.get(token, {}, T0) is None
    token, _ = store.open(a, "127.0.0.1", T0)
    assert store.close(token) and store.get(token, {a.name: a}, T0) is None
    assert store.get("made-up", {a.name: a}, T0) is None
    assert store.get(None, {a.name: a}, T0) is None


def test_sessions_are_bounded() -> None:
    store = Sessions(lifetime=timedelta(hours=8), idle=timedelta(minutes=30), limit=3)
    a = account()
    tokens = [store.open(a, "x", T0 + timedelta(seconds=i))[0] for i in range(5)]
    assert store.count() == 3
    assert store.get(tokens[0], {a.name: a}, T0) is None
    assert store.get(tokens[4], {a.name: a}, T0 + timedelta(seconds=5)) is not None


def test_cookie_attributes() -> None:
    cookie = session_cookie("tok", 600, secure=False)
    assert cookie == "hallwatch_session=tok; Path=/; Max-Age=600; HttpOnly; SameSite=Strict"
    assert session_cookie("tok", 600, secure=True).endswith("; Secure")


# --- throttling ----------------------------------------------------------------------------------


def test_throttle_locks_out_after_attempts_and_forgets_after_lockout() -> None:
    t = Throttle(attempts=5, window=timedelta(minutes=15), lockout=timedelta(minutes=15))
    keys = ("ip:10.0.0.9", "user:qian")
    for i in range(4):
        t.failed(keys, T0 + timedelta(minutes=i))
        assert t.blocked_until(keys, T0 + timedelta(minutes=i)) is None
    t.failed(keys, T0 + timedelta(minutes=4))
    assert t.blocked_until(keys, T0 + timedelta(minutes=5)) == T0 + timedelta(minutes=19)
    assert t.blocked_until(("user:qian",), T0 + timedelta(minutes=5)) is not None
    assert t.blocked_until(("ip:10.0.0.8",), T0 + timedelta(minutes=5)) is None
    assert t.blocked_until(keys, T0 + timedelta(minutes=19)) is None
    t.succeeded(keys)
    assert t.blocked_until(keys, T0 + timedelta(minutes=5)) is None


def test_throttle_counts_failures_within_the_window_only() -> None:
    t = Throttle(attempts=3, window=timedelta(minutes=10), lockout=timedelta(minutes=10))
    for i in range(6):  # one failure every 6 minutes: never 3 within 10
        t.failed(("k",), T0 + timedelta(minutes=6 * i))
        assert t.blocked_until(("k",), T0 + timedelta(minutes=6 * i)) is None


def test_parallel_attempts_are_counted_before_any_is_checked() -> None:
    t = Throttle(attempts=5, window=timedelta(minutes=15), lockout=timedelta(minutes=15))
    keys = login_keys("10.0.0.9", "qian")
    start = threading.Barrier(20)
    results: list[datetime | None] = []

    def one() -> None:
        start.wait()
        results.append(t.attempt(keys, T0))

    threads = [threading.Thread(target=one) for _ in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert results.count(None) == 5  # 5 may be checked; 15 are refused before any check ends
    assert set(results) - {None} == {T0 + timedelta(minutes=15)}


def test_a_cancelled_attempt_is_given_back() -> None:
    t = Throttle(attempts=2, window=timedelta(minutes=15), lockout=timedelta(minutes=15))
    keys = login_keys("10.0.0.9", "qian")
    assert t.attempt(keys, T0) is None
    t.cancel(keys, T0)  # never checked (the gate was busy)
    assert t.attempt(keys, T0) is None
    assert t.attempt(keys, T0) is None
    assert t.attempt(keys, T0) is not None


def test_a_stranger_cannot_lock_a_user_out_from_elsewhere() -> None:
    t = Throttle(attempts=5, window=timedelta(minutes=15), lockout=timedelta(minutes=15))
    for _ in range(50):
        t.attempt(login_keys("203.0.113.66", "qian"), T0)
    assert t.attempt(login_keys("203.0.113.66", "qian"), T0) is not None
    assert t.attempt(login_keys("203.0.113.66", "zhao"), T0) is not None  # that address is spent
    assert t.attempt(login_keys("192.168.1.20", "qian"), T0) is None  # the user, at her desk


def test_the_login_gate_turns_away_checks_beyond_its_slots() -> None:
    gate = LoginGate(2)
    encoded = hash_password("x")  # the real cost (ln 15): checks overlap
    start = threading.Barrier(6)
    results: list[bool | None] = []

    def one() -> None:
        start.wait()
        results.append(gate.verify("x", encoded))

    threads = [threading.Thread(target=one) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert len(results) == 6 and set(results) == {True, None}
    assert results.count(True) >= 2 and gate.turned_away == results.count(None)


# --- where from, CSRF ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "xff", "trusted", "client"),
    [
        ("10.0.0.5", "1.2.3.4", [], "10.0.0.5"),  # no trusted proxy: the header is a lie
        ("127.0.0.1", "192.168.1.20", ["127.0.0.1"], "192.168.1.20"),
        ("127.0.0.1", "6.6.6.6, 192.168.1.20", ["127.0.0.1"], "192.168.1.20"),  # nearest
        ("127.0.0.1", "192.168.1.20, 10.0.0.2", ["127.0.0.1", "10.0.0.2"], "192.168.1.20"),
        ("127.0.0.1", "not-an-ip", ["127.0.0.1"], "127.0.0.1"),
        ("127.0.0.1", None, ["127.0.0.1"], "127.0.0.1"),
    ],
)
def test_client_address(peer: str, xff: str | None, trusted: list[str], client: str) -> None:
    assert client_address(peer, xff, trusted) == client


def test_csrf_verdicts() -> None:
    store = Sessions(lifetime=timedelta(hours=8), idle=timedelta(minutes=30))
    _, s = store.open(account(), "127.0.0.1", T0)
    host = "127.0.0.1:8470"
    assert check_csrf(s, s.csrf, None, host, []) is CsrfVerdict.OK
    assert check_csrf(s, s.csrf, "http://127.0.0.1:8470", host, []) is CsrfVerdict.OK
    assert check_csrf(s, None, None, host, []) is CsrfVerdict.NO_TOKEN
    assert check_csrf(s, "guess", None, host, []) is CsrfVerdict.BAD_TOKEN
    assert check_csrf(s, s.csrf, "https://evil.example", host, []) is CsrfVerdict.FOREIGN_ORIGIN
    proxy = ["https://jiancha.example.gov.cn"]
    assert check_csrf(s, s.csrf, "https://jiancha.example.gov.cn", host, proxy) is CsrfVerdict.OK


# --- configuration ------------------------------------------------------------------------------


def _with_users(**web: object) -> dict[str, object]:
    from hallkit.config import example_config_path

    data = read_toml(example_config_path())
    data["web"] = {**data["web"], **web}
    return data


def test_users_are_checked_against_staff_and_roles() -> None:
    data = _with_users()
    users = data["users"]
    assert isinstance(users, list)
    users[1] = {**users[1], "staff": "S001"}  # an officer cannot be the supervisor user
    users.append({**users[0], "staff": "NOBODY"})
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    text = "\n".join(err.value.problems)
    assert "users[1].staff: a supervisor user must be a staff member with role supervisor" in text
    assert "users: id 'leader' appears 2 times" in text
    assert "users[4].staff: unknown staff 'NOBODY'" in text


def test_demo_passwords_are_refused_off_loopback() -> None:
    parse_config(_with_users(listen="::1"))
    with pytest.raises(ConfigError) as err:
        parse_config(_with_users(listen="0.0.0.0"))
    assert len(err.value.problems) == 4
    assert "demo password, refused while web.listen (0.0.0.0)" in err.value.problems[0]


def test_bad_hash_and_proxy_are_config_errors() -> None:
    data = _with_users(trusted_proxies=["proxy.local"])
    users = data["users"]
    assert isinstance(users, list)
    users[0] = {**users[0], "password_hash": "demo-leader"}
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    keys = sorted(p.split(":")[0] for p in err.value.problems)
    assert keys == ["users[0].password_hash", "web.trusted_proxies"]


# --- hallwatch passwd ---------------------------------------------------------------------------


def _passwd(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "passwd", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_passwd_prints_a_users_entry_that_checks() -> None:
    done = _passwd("a long secret\n", "--user", "qian", "--role", "supervisor", "--staff", "D001")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:4] == ["[[users]]", 'name = "qian"', 'role = "supervisor"', 'staff = "D001"']
    encoded = lines[4].split(" = ", 1)[1].strip('"')
    assert verify_password("a long secret", encoded)
    assert "a long secret" not in done.stdout + done.stderr


def test_passwd_refuses_short_passwords() -> None:
    done = _passwd("short\n")
    assert done.returncode == EXIT_CONFIG and "8 to 1024" in done.stderr and done.stdout == ""

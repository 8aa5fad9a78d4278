"""UserService, SessionService and AuditLog on a real database (migrated by Alembic; SQLite,
or PostgreSQL with `--db postgresql`)."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_center.clock import Clock
from contact_center.devtools.local_postgres import LocalPostgres
from contact_center.operators.models import Operator
from contact_center.settings import load_settings
from contact_center.storage import migrate
from contact_center.storage.database import create_engine, session_factory
from contact_center.users.audit import AuditFilter
from contact_center.users.exceptions import (
    AccountDisabled,
    AuthenticationFailed,
    CsrfRejected,
    DuplicateLogin,
    InvalidLogin,
    LoginThrottled,
    SessionInvalid,
    UnknownOperatorCode,
    UnknownUser,
    WeakPassword,
)
from contact_center.users.passwords import Passwords
from contact_center.users.services import LastAdmin, Users, build_users, check_csrf

PASSWORD = "верный-пароль-1"
HERE = "192.0.2.10"


def fast_hasher(time_cost: int = 1) -> PasswordHasher:
    """Argon2id with tiny costs: the tests check behaviour, not strength."""
    return PasswordHasher(time_cost=time_cost, memory_cost=8, parallelism=1)


class StepClock(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.instant = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.instant

    def step(self, **delta: float) -> None:
        self.instant += timedelta(**delta)


@dataclass
class Env:
    users: Users
    clock: StepClock
    engine: AsyncEngine
    url: str

    def file_bytes(self) -> bytes:
        """The SQLite database file and its write-ahead log, as they lie on disk."""
        db = Path(self.url.removeprefix("sqlite+aiosqlite:///"))
        wal = Path(f"{db}-wal")
        return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    async def rows(self, sql: str) -> list[tuple[object, ...]]:
        async with self.engine.connect() as conn:
            return [tuple(r) for r in await conn.execute(text(sql))]


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> str:
    """A migrated template: a SQLite file to copy, or a PostgreSQL database to clone."""
    if request.config.getoption("--db") == "postgresql":
        server: LocalPostgres = request.getfixturevalue("postgres")
        url = server.create_database("users_template")
        migrate.upgrade(url)
        return url
    path = tmp_path_factory.mktemp("users") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return str(path)


def _copy(migrated: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if migrated.startswith("postgresql"):
        server: LocalPostgres = request.getfixturevalue("postgres")
        return server.create_database(f"users_{next(_copies)}", template="users_template")
    db = tmp_path / "users.db"
    shutil.copyfile(migrated, db)
    return f"sqlite+aiosqlite:///{db}"


_copies = itertools.count(1)


async def _env(url: str, clock: StepClock, hasher: PasswordHasher) -> tuple[Users, AsyncEngine]:
    engine = create_engine(url)
    users = build_users(
        load_settings({}), session_factory(engine), clock, passwords=Passwords(hasher)
    )
    return users, engine


@pytest.fixture
async def env(migrated: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    db = _copy(migrated, tmp_path, request)
    clock = StepClock()
    users, engine = await _env(db, clock, fast_hasher())
    try:
        yield Env(users, clock, engine, db)
    finally:
        await engine.dispose()


async def _add(env: Env, login: str = "ivanov", role: str = "supervisor") -> None:
    await env.users.users.add(login, role, PASSWORD, actor="cli:root")


# ------------------------------------------------------------------------------ accounts
async def test_a_user_is_added_with_an_argon2id_hash_and_listed(env: Env) -> None:
    user = await env.users.users.add("Ivanov", "supervisor", PASSWORD, actor="cli:root")
    assert (user.login, user.role, user.disabled) == ("ivanov", "supervisor", False)
    [(stored,)] = await env.rows("SELECT password_hash FROM users")
    assert isinstance(stored, str) and stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert [u.login for u in await env.users.users.list()] == ["ivanov"]


async def test_a_duplicate_login_is_refused_whatever_its_case(env: Env) -> None:
    await _add(env)
    with pytest.raises(DuplicateLogin, match="пользователь ivanov уже есть"):
        await env.users.users.add("IVANOV", "operator", PASSWORD, actor="cli:root")
    assert len(await env.users.users.list()) == 1


async def test_bad_input_stores_nothing(env: Env) -> None:
    with pytest.raises(InvalidLogin):
        await env.users.users.add("i", "operator", PASSWORD, actor="cli:root")
    with pytest.raises(WeakPassword, match="не меньше 8"):
        await env.users.users.add("ivanov", "operator", "short", actor="cli:root")
    with pytest.raises(UnknownOperatorCode, match="оператора с кодом 999 нет"):
        await env.users.users.add("ivanov", "operator", PASSWORD, actor="x", operator_code="999")
    assert await env.users.users.list() == []
    assert await env.rows("SELECT count(*) FROM audit_log") == [(0,)]


async def test_an_operator_user_is_linked_to_an_operator_desk(env: Env) -> None:
    async with session_factory(env.engine).begin() as db:
        db.add(Operator(code="101", interface="PJSIP/op101", name="Оператор"))
    user = await env.users.users.add(
        "op101", "operator", PASSWORD, actor="cli:root", operator_code="101"
    )
    assert user.operator_code == "101"
    unlinked = await env.users.users.set_operator("op101", None, actor="admin")
    assert unlinked.operator_code is None


async def test_unknown_users_are_named(env: Env) -> None:
    with pytest.raises(UnknownUser, match="пользователя nobody нет"):
        await env.users.users.disable("nobody", actor="cli:root")


async def test_the_last_enabled_admin_cannot_be_disabled_or_demoted(env: Env) -> None:
    await _add(env, "boss", "admin")
    with pytest.raises(LastAdmin):
        await env.users.users.disable("boss", actor="boss")
    with pytest.raises(LastAdmin):
        await env.users.users.set_role("boss", "supervisor", actor="boss")
    await _add(env, "boss2", "admin")
    assert (await env.users.users.disable("boss", actor="boss2")).disabled


# ----------------------------------------------------------------------- logins, sessions
async def test_login_gives_a_session_that_resolves_to_the_user_and_role(env: Env) -> None:
    await _add(env)
    issued = await env.users.users.authenticate("Ivanov", PASSWORD, HERE)
    assert issued.user.login == "ivanov"
    info = await env.users.sessions.resolve(issued.session_id)
    assert (info.login, info.role, info.csrf) == ("ivanov", "supervisor", issued.csrf)
    check_csrf(info, issued.csrf)
    with pytest.raises(CsrfRejected):
        check_csrf(info, issued.csrf[:-1] + "x")
    with pytest.raises(CsrfRejected):
        check_csrf(info, None)


async def test_the_database_holds_no_usable_session_token(env: Env) -> None:
    await _add(env)
    issued = await env.users.users.authenticate("ivanov", PASSWORD, HERE)
    # SQLite: the bytes on disk; PostgreSQL: what the table gives anyone who reads it
    raw = (
        env.file_bytes()
        if env.url.startswith("sqlite")
        else repr(await env.rows("SELECT * FROM user_sessions")).encode()
    )
    assert issued.session_id.encode() not in raw
    assert issued.csrf.encode() not in raw
    [(stored,)] = await env.rows("SELECT token_hash FROM user_sessions")
    with pytest.raises(SessionInvalid):
        await env.users.sessions.resolve(str(stored))


async def test_a_wrong_password_or_login_gets_one_message(env: Env) -> None:
    await _add(env)
    with pytest.raises(AuthenticationFailed, match="неверный логин или пароль"):
        await env.users.users.authenticate("ivanov", "не тот пароль", HERE)
    with pytest.raises(AuthenticationFailed, match="неверный логин или пароль"):
        await env.users.users.authenticate("petrov", PASSWORD, HERE)
    with pytest.raises(AuthenticationFailed):
        await env.users.users.authenticate("x", PASSWORD, HERE)


async def test_five_failures_for_a_login_refuse_the_sixth_without_checking_it(env: Env) -> None:
    await _add(env)
    for i in range(5):
        with pytest.raises(AuthenticationFailed):
            await env.users.users.authenticate("ivanov", "wrong", f"198.51.100.{i}")
        env.clock.step(seconds=5)
    # from yet another address and with the right password: still refused
    with pytest.raises(LoginThrottled, match="повторите через 35 с") as refused:
        await env.users.users.authenticate("ivanov", PASSWORD, "203.0.113.1")
    assert refused.value.retry_after == 35
    assert refused.value.retry_at == env.clock.instant + timedelta(seconds=35)
    env.clock.step(seconds=35)
    issued = await env.users.users.authenticate("ivanov", PASSWORD, "203.0.113.1")
    assert issued.user.login == "ivanov"


async def test_five_failures_from_an_address_refuse_it_for_any_login(env: Env) -> None:
    await _add(env, "ivanov")
    await _add(env, "petrov")
    for login in ("a1a", "b2b", "c3c", "d4d", "petrov"):
        with pytest.raises(AuthenticationFailed):
            await env.users.users.authenticate(login, "wrong", HERE)
    with pytest.raises(LoginThrottled):
        await env.users.users.authenticate("ivanov", PASSWORD, HERE)
    # another address is not concerned
    await env.users.users.authenticate("ivanov", PASSWORD, "192.0.2.99")


async def test_the_throttle_holds_across_processes_sharing_the_database(env: Env) -> None:
    await _add(env)
    other, engine = await _env(env.url, env.clock, fast_hasher())
    try:
        for service in (env.users, other) * 2 + (env.users,):
            with pytest.raises(AuthenticationFailed):
                await service.users.authenticate("ivanov", "wrong", HERE)
        with pytest.raises(LoginThrottled):
            await other.users.authenticate("ivanov", PASSWORD, "192.0.2.99")
    finally:
        await engine.dispose()


async def test_a_throttled_attempt_is_not_counted(env: Env) -> None:
    await _add(env)
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            await env.users.users.authenticate("ivanov", "wrong", HERE)
    for _ in range(3):
        with pytest.raises(LoginThrottled):
            await env.users.users.authenticate("ivanov", "wrong", HERE)
    assert await env.rows("SELECT count(*) FROM login_failures WHERE kind = 'login'") == [(5,)]


async def test_failed_logins_are_audited_without_the_typed_text(env: Env) -> None:
    await _add(env)
    with pytest.raises(AuthenticationFailed):
        await env.users.users.authenticate("ivanov", "wrong-secret", HERE)
    with pytest.raises(AuthenticationFailed):
        # a password typed into the login field
        await env.users.users.authenticate("Secret.Pass", "", HERE)
    failed = await env.users.audit.list(AuditFilter(action="auth.login_failed"))
    assert [(r.actor, r.object_id) for r in failed] == [("?", "?"), ("ivanov", "ivanov")]
    dump = repr(await env.rows("SELECT * FROM audit_log")) + repr(
        await env.rows("SELECT * FROM login_failures")
    )
    assert "wrong-secret" not in dump and "secret.pass" not in dump.lower()


async def test_a_session_ends_after_the_idle_time(env: Env) -> None:
    await _add(env)
    issued = await env.users.users.authenticate("ivanov", PASSWORD, HERE)
    env.clock.step(minutes=29)
    await env.users.sessions.resolve(issued.session_id)  # activity moves the idle limit
    env.clock.step(minutes=29)
    await env.users.sessions.resolve(issued.session_id)
    env.clock.step(minutes=30)
    with pytest.raises(SessionInvalid, match="сеанс истёк"):
        await env.users.sessions.resolve(issued.session_id)
    assert await env.rows("SELECT count(*) FROM user_sessions") == [(0,)]


async def test_a_session_ends_after_its_lifetime_however_busy(env: Env) -> None:
    await _add(env)
    issued = await env.users.users.authenticate("ivanov", PASSWORD, HERE)
    assert issued.expires_at == env.clock.instant + timedelta(hours=12)
    for _ in range(12 * 4 - 1):
        env.clock.step(minutes=15)
        await env.users.sessions.resolve(issued.session_id)
    env.clock.step(minutes=15)
    with pytest.raises(SessionInvalid):
        await env.users.sessions.resolve(issued.session_id)


async def test_resolve_writes_last_seen_at_most_once_a_minute(env: Env) -> None:
    await _add(env)
    issued = await env.users.users.authenticate("ivanov", PASSWORD, HERE)
    [(first,)] = await env.rows("SELECT last_seen_at FROM user_sessions")
    env.clock.step(seconds=30)
    await env.users.sessions.resolve(issued.session_id)
    assert await env.rows("SELECT last_seen_at FROM user_sessions") == [(first,)]
    env.clock.step(seconds=31)
    info = await env.users.sessions.resolve(issued.session_id)
    assert info.last_seen_at == env.clock.instant
    assert await env.rows("SELECT last_seen_at FROM user_sessions") != [(first,)]


async def test_logout_ends_the_session_and_is_audited(env: Env) -> None:
    await _add(env)
    issued = await env.users.users.authenticate("ivanov", PASSWORD, HERE)
    assert await env.users.sessions.logout(issued.session_id)
    assert not await env.users.sessions.logout(issued.session_id)
    with pytest.raises(SessionInvalid):
        await env.users.sessions.resolve(issued.session_id)
    actions = [r.action for r in await env.users.audit.list(AuditFilter(actor="ivanov"))]
    assert actions == ["auth.logout", "auth.login"]


async def test_disabling_ends_every_session_and_refuses_logins(env: Env) -> None:
    await _add(env)
    a = await env.users.users.authenticate("ivanov", PASSWORD, HERE)
    b = await env.users.users.authenticate("ivanov", PASSWORD, "192.0.2.11")
    await env.users.users.disable("ivanov", actor="boss")
    for issued in (a, b):
        with pytest.raises(SessionInvalid):
            await env.users.sessions.resolve(issued.session_id)
    with pytest.raises(AccountDisabled, match="учётная запись отключена"):
        await env.users.users.authenticate("ivanov", PASSWORD, HERE)
    with pytest.raises(AuthenticationFailed):
        # a disabled account with a wrong password tells nothing more than any wrong password
        await env.users.users.authenticate("ivanov", "wrong", HERE)
    await env.users.users.enable("ivanov", actor="boss")
    await env.users.users.authenticate("ivanov", PASSWORD, HERE)


async def test_passwd_keeps_only_the_session_that_changed_it(env: Env) -> None:
    await _add(env)
    mine = await env.users.users.authenticate("ivanov", PASSWORD, HERE)
    other = await env.users.users.authenticate("ivanov", PASSWORD, "192.0.2.11")
    await env.users.users.passwd(
        "ivanov", "новый-пароль-2", actor="ivanov", keep_session=mine.session_id
    )
    await env.users.sessions.resolve(mine.session_id)
    with pytest.raises(SessionInvalid):
        await env.users.sessions.resolve(other.session_id)
    with pytest.raises(AuthenticationFailed):
        await env.users.users.authenticate("ivanov", PASSWORD, HERE)
    await env.users.users.authenticate("ivanov", "новый-пароль-2", HERE)


async def test_passwd_from_the_cli_ends_all_sessions_and_checks_the_policy(env: Env) -> None:
    await _add(env)
    issued = await env.users.users.authenticate("ivanov", PASSWORD, HERE)
    with pytest.raises(WeakPassword):
        await env.users.users.passwd("ivanov", "1234", actor="cli:root")
    await env.users.sessions.resolve(issued.session_id)
    await env.users.users.passwd("ivanov", "новый-пароль-2", actor="cli:root")
    with pytest.raises(SessionInvalid):
        await env.users.sessions.resolve(issued.session_id)


async def test_a_hash_made_with_old_parameters_is_replaced_at_login(env: Env) -> None:
    await _add(env)  # time_cost=1
    [(old,)] = await env.rows("SELECT password_hash FROM users")
    assert isinstance(old, str) and ",t=1," in old
    stronger, engine = await _env(env.url, env.clock, fast_hasher(time_cost=2))
    try:
        await stronger.users.authenticate("ivanov", PASSWORD, HERE)
        [(new,)] = await env.rows("SELECT password_hash FROM users")
        assert isinstance(new, str) and ",t=2," in new
        await stronger.users.authenticate("ivanov", PASSWORD, HERE)
    finally:
        await engine.dispose()
    logins = await env.users.audit.list(AuditFilter(action="auth.login"))
    # the first login rehashed, the second found nothing to redo
    assert [r.details["rehashed"] for r in logins] == [False, True]


async def test_hashing_leaves_the_event_loop_free(env: Env) -> None:
    """With the real parameters (~50 ms of CPU a hash) other coroutines keep running."""
    passwords = Passwords()
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.002)

    task = asyncio.create_task(ticker())
    try:
        stored = await passwords.hash(PASSWORD)
        assert await passwords.verify(stored, PASSWORD)
    finally:
        stop.set()
        await task
    assert ticks >= 5


async def test_expire_deletes_dead_sessions_and_old_failures(env: Env) -> None:
    await _add(env)
    issued = await env.users.users.authenticate("ivanov", PASSWORD, HERE)
    with pytest.raises(AuthenticationFailed):
        await env.users.users.authenticate("ivanov", "wrong", HERE)
    assert await env.users.users.expire() == 0
    env.clock.step(minutes=31)
    assert await env.users.users.expire() == 3  # the session, the two failure rows
    with pytest.raises(SessionInvalid):
        await env.users.sessions.resolve(issued.session_id)


# ------------------------------------------------------------------------------------ audit
async def test_user_management_is_audited_with_actor_and_object(env: Env) -> None:
    await _add(env)
    await env.users.users.disable("ivanov", actor="cli:root")
    await env.users.users.enable("ivanov", actor="boss")
    await env.users.users.passwd("ivanov", "новый-пароль-2", actor="boss")
    records = await env.users.audit.list()
    assert [(r.actor, r.action, r.object_type, r.object_id) for r in records] == [
        ("boss", "user.passwd", "user", "ivanov"),
        ("boss", "user.enable", "user", "ivanov"),
        ("cli:root", "user.disable", "user", "ivanov"),
        ("cli:root", "user.add", "user", "ivanov"),
    ]
    assert all(r.at == env.clock.instant for r in records)
    dump = repr(await env.rows("SELECT * FROM audit_log"))
    assert PASSWORD not in dump and "новый-пароль-2" not in dump


async def test_the_audit_log_records_masked_details_and_filters(env: Env) -> None:
    audit = env.users.audit
    await audit.record(
        "boss", "campaign.start", "campaign", 7, {"name": "Долги", "phone": "+79131234567"}
    )
    await audit.record("boss", "campaign.pause", "campaign", 7)
    await audit.record("sv", "outage.add", "outage", "3", {"password": "oops"})
    [entry] = await audit.list(AuditFilter(object_type="outage"))
    assert entry.details == {"password": "***"}
    campaign = await audit.list(AuditFilter(action="campaign.", object_id="7"))
    assert [r.action for r in campaign] == ["campaign.pause", "campaign.start"]
    assert campaign[1].details["phone"] == "+7********67"
    assert [r.actor for r in await audit.list(AuditFilter(actor="sv"))] == ["sv"]
    first_page = await audit.list(AuditFilter(limit=2))
    rest = await audit.list(AuditFilter(before_id=first_page[-1].id))
    assert [r.action for r in first_page + rest] == [
        "outage.add",
        "campaign.pause",
        "campaign.start",
    ]
    later = env.clock.instant + timedelta(seconds=1)
    assert await audit.list(AuditFilter(since=later)) == []

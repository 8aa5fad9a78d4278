"""Users, logins and sessions of the web console.

`UserService` manages accounts (every change is audited in its own transaction) and logs
people in; `SessionService` resolves a cookie's token to a user on each request. The web
edge checks `allowed(role, permission)` (contact_center.users.roles) and `check_csrf` on
every state-changing request.

The throttle (at most 5 failed logins a minute per login and per address) keeps its
failures in the database, not in memory, so several processes behind one proxy agree and
a restart does not reset it. Two concurrent guesses may both pass the check before either
is recorded; that lets at most a few extra attempts through, which is acceptable for a
per-minute limit and saves a lock on every login.
"""

from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.clock import Clock
from contact_center.operators.models import Operator
from contact_center.settings import Settings
from contact_center.storage.database import affected_rows
from contact_center.users.audit import AuditLog
from contact_center.users.credentials import check_password, normalize_login
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
    UserError,
)
from contact_center.users.models import LoginFailure, User, UserSession
from contact_center.users.passwords import Passwords
from contact_center.users.roles import ROLE_RU, Role, parse_role
from contact_center.users.throttle import (
    BY_ADDRESS,
    BY_LOGIN,
    ThrottlePolicy,
    address_key,
    login_key,
    retry_after_seconds,
)
from contact_center.users.tokens import (
    SessionPolicy,
    csrf_matches,
    csrf_token_for,
    new_session_token,
    token_hash,
)

log = logging.getLogger(__name__)


class LastAdmin(UserError):
    error_id = "user-last-admin"
    field = "login"


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    login: str
    role: Role
    disabled: bool
    operator_code: str | None
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A new session: `session_id` goes into the cookie (and nowhere else), `csrf` into the
    pages and the X-CSRF-Token header. `expires_at` is the absolute end (max lifetime)."""

    session_id: str
    csrf: str
    user: UserInfo
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """The user behind a valid session, as `SessionService.resolve` found them."""

    user: UserInfo
    csrf: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime

    @property
    def role(self) -> Role:
        return self.user.role

    @property
    def login(self) -> str:
        return self.user.login


def check_csrf(session: SessionInfo, token: str | None) -> None:
    """Raise CsrfRejected unless `token` is this session's CSRF token (constant time)."""
    if not csrf_matches(session.csrf, token):
        raise CsrfRejected("запрос отклонён: нет или неверен токен CSRF, обновите страницу")


def _info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        login=user.login,
        role=Role(user.role),
        disabled=user.disabled,
        operator_code=user.operator_code,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


# ------------------------------------------------------------------------------ sessions
class SessionService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        policy: SessionPolicy | None = None,
        *,
        audit: AuditLog | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.policy = policy or SessionPolicy()
        self._audit = audit

    async def open_in(
        self, db: AsyncSession, user: User, address: str, now: datetime
    ) -> IssuedSession:
        """Create a session for `user` inside `db`'s transaction (UserService.authenticate)."""
        token = new_session_token()
        db.add(
            UserSession(
                token_hash=token_hash(token),
                user_id=user.id,
                created_at=now,
                last_seen_at=now,
                address=address[:64],
            )
        )
        await db.flush()
        return IssuedSession(
            session_id=token,
            csrf=csrf_token_for(token),
            user=_info(user),
            expires_at=now + self.policy.max_age,
        )

    async def resolve(self, session_id: str | None) -> SessionInfo:
        """The user of a live session; SessionInvalid for none, an unknown or expired one,
        or one whose user was disabled. Refreshes last_seen_at (at most once a minute)."""
        if not session_id:
            raise SessionInvalid("войдите в систему")
        now = self._clock.now()
        async with self._sessions() as db:
            found = (
                await db.execute(
                    select(UserSession, User)
                    .join(User, User.id == UserSession.user_id)
                    .where(UserSession.token_hash == token_hash(session_id))
                )
            ).first()
            if found is None:
                raise SessionInvalid("сеанс не найден или завершён: войдите снова")
            row, user = found
            if user.disabled or self.policy.expired(row.created_at, row.last_seen_at, now):
                await db.execute(delete(UserSession).where(UserSession.id == row.id))
                await db.commit()
                raise SessionInvalid("сеанс истёк: войдите снова")
            last_seen = row.last_seen_at
            if self.policy.needs_touch(last_seen, now):
                await db.execute(
                    update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now)
                )
                await db.commit()
                last_seen = now
            return SessionInfo(
                user=_info(user),
                csrf=csrf_token_for(session_id),
                created_at=row.created_at,
                last_seen_at=last_seen,
                expires_at=self.policy.expires_at(row.created_at, last_seen),
            )

    async def logout(self, session_id: str | None) -> bool:
        """End a session; False if there was none (logging out twice is no error)."""
        if not session_id:
            return False
        async with self._sessions.begin() as db:
            found = (
                await db.execute(
                    select(UserSession.id, User.login)
                    .join(User, User.id == UserSession.user_id)
                    .where(UserSession.token_hash == token_hash(session_id))
                )
            ).first()
            if found is None:
                return False
            session_pk, login = found
            await db.execute(delete(UserSession).where(UserSession.id == session_pk))
            if self._audit is not None:
                self._audit.add(db, login, "auth.logout", "user", login)
        return True

    async def revoke_in(self, db: AsyncSession, user_id: int, *, keep: str | None = None) -> int:
        """End every session of a user but `keep` (a session token), in `db`'s transaction."""
        query = delete(UserSession).where(UserSession.user_id == user_id)
        if keep:
            query = query.where(UserSession.token_hash != token_hash(keep))
        return affected_rows(await db.execute(query))

    async def count_for(self, user_id: int) -> int:
        """Sessions of a user not yet deleted (expired ones count until `expire` runs)."""
        async with self._sessions() as db:
            count = await db.scalar(
                select(func.count()).select_from(UserSession).where(UserSession.user_id == user_id)
            )
        return int(count or 0)

    async def expire(self) -> int:
        """Delete sessions past their idle or absolute limit; returns how many."""
        now = self._clock.now()
        async with self._sessions.begin() as db:
            result = await db.execute(
                delete(UserSession).where(
                    or_(
                        UserSession.last_seen_at <= now - self.policy.idle,
                        UserSession.created_at <= now - self.policy.max_age,
                    )
                )
            )
        return affected_rows(result)


# --------------------------------------------------------------------------------- users
class UserService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        audit: AuditLog,
        web_sessions: SessionService,
        passwords: Passwords | None = None,
        throttle: ThrottlePolicy | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._audit = audit
        self.web_sessions = web_sessions
        self.passwords = passwords or Passwords()
        self.throttle = throttle or ThrottlePolicy()

    # --- accounts -------------------------------------------------------------------

    async def add(
        self,
        login: str,
        role: Role | str,
        password: str,
        *,
        actor: str,
        operator_code: str | None = None,
    ) -> UserInfo:
        """A new enabled user. InvalidLogin, InvalidRole, WeakPassword, DuplicateLogin,
        UnknownOperatorCode say what is wrong (nothing is stored then)."""
        name = normalize_login(login)
        kind = parse_role(role)
        check_password(password, name)
        async with self._sessions() as db:
            if await db.scalar(select(User.id).where(User.login == name)) is not None:
                raise DuplicateLogin(f"пользователь {name} уже есть")
        hashed = await self.passwords.hash(password)
        now = self._clock.now()
        try:
            async with self._sessions.begin() as db:
                code = await self._operator_code(db, operator_code)
                user = User(
                    login=name,
                    role=kind.value,
                    password_hash=hashed,
                    disabled=False,
                    operator_code=code,
                    created_at=now,
                    password_changed_at=now,
                )
                db.add(user)
                await db.flush()
                details: dict[str, Any] = {"role": kind.value}
                if code is not None:
                    details["operator_code"] = code
                self._audit.add(db, actor, "user.add", "user", name, details)
        except IntegrityError:
            # added by someone else between the check and the insert
            raise DuplicateLogin(f"пользователь {name} уже есть") from None
        log.info("user %s added (%s) by %s", name, kind.value, actor)
        return _info(user)

    async def list(self) -> builtins.list[UserInfo]:
        async with self._sessions() as db:
            rows = (await db.scalars(select(User).order_by(User.login))).all()
        return [_info(u) for u in rows]

    async def get(self, login: str) -> UserInfo:
        async with self._sessions() as db:
            return _info(await self._user(db, login))

    async def disable(self, login: str, *, actor: str) -> UserInfo:
        """Disable a user and end all their sessions at once."""
        async with self._sessions.begin() as db:
            user = await self._user(db, login)
            if user.role == Role.ADMIN and not user.disabled:
                await self._keep_an_admin(db, user)
            user.disabled = True
            ended = await self.web_sessions.revoke_in(db, user.id)
            self._audit.add(db, actor, "user.disable", "user", user.login, {"sessions": ended})
        log.info("user %s disabled by %s (%d sessions ended)", user.login, actor, ended)
        return _info(user)

    async def enable(self, login: str, *, actor: str) -> UserInfo:
        async with self._sessions.begin() as db:
            user = await self._user(db, login)
            user.disabled = False
            self._audit.add(db, actor, "user.enable", "user", user.login)
        return _info(user)

    async def passwd(
        self, login: str, password: str, *, actor: str, keep_session: str | None = None
    ) -> UserInfo:
        """Set a new password and end the user's other sessions (all of them, unless
        `keep_session`, the token of the session that made the change, is given)."""
        async with self._sessions() as db:
            name = (await self._user(db, login)).login
        check_password(password, name)
        hashed = await self.passwords.hash(password)
        async with self._sessions.begin() as db:
            user = await self._user(db, name)
            user.password_hash = hashed
            user.password_changed_at = self._clock.now()
            ended = await self.web_sessions.revoke_in(db, user.id, keep=keep_session)
            # a guesser's failures no longer matter once the password changed
            await db.execute(
                delete(LoginFailure).where(
                    LoginFailure.kind == BY_LOGIN, LoginFailure.key == login_key(name)
                )
            )
            self._audit.add(db, actor, "user.passwd", "user", name, {"sessions": ended})
        log.info("password of %s changed by %s (%d sessions ended)", name, actor, ended)
        return _info(user)

    async def set_role(self, login: str, role: Role | str, *, actor: str) -> UserInfo:
        kind = parse_role(role)
        async with self._sessions.begin() as db:
            user = await self._user(db, login)
            before = user.role
            if before == Role.ADMIN and kind != Role.ADMIN and not user.disabled:
                await self._keep_an_admin(db, user)
            user.role = kind.value
            self._audit.add(
                db, actor, "user.role", "user", user.login, {"from": before, "to": kind.value}
            )
        return _info(user)

    async def set_operator(self, login: str, operator_code: str | None, *, actor: str) -> UserInfo:
        """Link the user to an operator's desk (operators.code), or unlink with None."""
        async with self._sessions.begin() as db:
            user = await self._user(db, login)
            user.operator_code = await self._operator_code(db, operator_code)
            self._audit.add(
                db, actor, "user.operator", "user", user.login, {"operator_code": operator_code}
            )
        return _info(user)

    # --- logging in -----------------------------------------------------------------

    async def authenticate(self, login: str, password: str, address: str) -> IssuedSession:
        """Log in: a new session, or LoginThrottled (the password was not checked),
        AuthenticationFailed (wrong login or password, counted) or AccountDisabled.

        `address` is the client's IP address; behind a reverse proxy the web must pass the
        address the proxy reports, or every client shares the proxy's throttle."""
        now = self._clock.now()
        by_login, by_address = login_key(login), address_key(address)
        await self._refuse_if_throttled(by_login, by_address, now)
        try:
            name: str | None = normalize_login(login)
        except InvalidLogin:
            name = None
        user: User | None = None
        if name is not None:
            async with self._sessions() as db:
                user = await db.scalar(select(User).where(User.login == name))
        matches = await self.passwords.verify(user.password_hash if user else None, password)
        if user is None or not matches:
            await self._count_failure(by_login, by_address, user, address)
            raise AuthenticationFailed("неверный логин или пароль")
        if user.disabled:
            raise AccountDisabled("учётная запись отключена: обратитесь к администратору")
        old_hash = user.password_hash
        new_hash = (
            await self.passwords.hash(password) if self.passwords.needs_rehash(old_hash) else None
        )
        async with self._sessions.begin() as db:
            fresh = await db.get(User, user.id)
            # disabled or given a new password while the hash was being checked
            if fresh is None or fresh.disabled or fresh.password_hash != old_hash:
                raise AuthenticationFailed("неверный логин или пароль")
            if new_hash is not None:
                fresh.password_hash = new_hash
            fresh.last_login_at = now
            await db.execute(
                delete(LoginFailure).where(
                    or_(
                        (LoginFailure.kind == BY_LOGIN) & (LoginFailure.key == by_login),
                        LoginFailure.at <= self.throttle.horizon(now),
                    )
                )
            )
            issued = await self.web_sessions.open_in(db, fresh, address, now)
            self._audit.add(
                db,
                fresh.login,
                "auth.login",
                "user",
                fresh.login,
                {"address": address[:64], "rehashed": new_hash is not None},
            )
        return issued

    async def expire(self) -> int:
        """Delete expired sessions and failures older than the throttle window (run it now
        and then, e.g. every few minutes; nothing depends on it for correctness)."""
        ended = await self.web_sessions.expire()
        async with self._sessions.begin() as db:
            result = await db.execute(
                delete(LoginFailure).where(
                    LoginFailure.at <= self.throttle.horizon(self._clock.now())
                )
            )
        return ended + affected_rows(result)

    async def _refuse_if_throttled(self, by_login: str, by_address: str, now: datetime) -> None:
        async with self._sessions() as db:
            rows = (
                await db.execute(
                    select(LoginFailure.kind, LoginFailure.at).where(
                        LoginFailure.at > self.throttle.horizon(now),
                        or_(
                            (LoginFailure.kind == BY_LOGIN) & (LoginFailure.key == by_login),
                            (LoginFailure.kind == BY_ADDRESS) & (LoginFailure.key == by_address),
                        ),
                    )
                )
            ).all()
        waits = [
            at
            for kind in (BY_LOGIN, BY_ADDRESS)
            if (at := self.throttle.retry_at([r.at for r in rows if r.kind == kind], now))
            is not None
        ]
        if waits:
            retry_at = max(waits)
            seconds = retry_after_seconds(retry_at, now)
            raise LoginThrottled(
                f"слишком много неудачных попыток входа: повторите через {seconds} с",
                retry_at=retry_at,
                retry_after=seconds,
            )

    async def _count_failure(
        self, by_login: str, by_address: str, user: User | None, address: str
    ) -> None:
        now = self._clock.now()
        async with self._sessions.begin() as db:
            db.add_all(
                [
                    LoginFailure(kind=BY_LOGIN, key=by_login, at=now),
                    LoginFailure(kind=BY_ADDRESS, key=by_address, at=now),
                ]
            )
            # an unknown login is not written down: it may be a password typed in the
            # wrong field
            who = user.login if user is not None else "?"
            self._audit.add(db, who, "auth.login_failed", "user", who, {"address": address[:64]})

    # --- helpers --------------------------------------------------------------------

    async def _user(self, db: AsyncSession, login: str) -> User:
        name = normalize_login(login)
        user = await db.scalar(select(User).where(User.login == name))
        if user is None:
            raise UnknownUser(f"пользователя {name} нет")
        return user

    async def _operator_code(self, db: AsyncSession, code: str | None) -> str | None:
        if code is None or not code.strip():
            return None
        code = code.strip()
        if await db.scalar(select(Operator.id).where(Operator.code == code)) is None:
            raise UnknownOperatorCode(f"оператора с кодом {code} нет")
        return code

    async def _keep_an_admin(self, db: AsyncSession, user: User) -> None:
        others = await db.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN.value, User.disabled.is_(False), User.id != user.id)
        )
        if not others:
            raise LastAdmin(
                f"{user.login} — последний действующий {ROLE_RU[Role.ADMIN]}: "
                "сначала назначьте другого"
            )


# ------------------------------------------------------------------------------- wiring
@dataclass(frozen=True, slots=True)
class Users:
    """The package's services, built together (the composition root holds one)."""

    users: UserService
    sessions: SessionService
    audit: AuditLog


def build_users(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    passwords: Passwords | None = None,
) -> Users:
    audit = AuditLog(sessions, clock)
    web_sessions = SessionService(
        sessions, clock, SessionPolicy.from_settings(settings), audit=audit
    )
    users = UserService(
        sessions, clock, audit=audit, web_sessions=web_sessions, passwords=passwords
    )
    return Users(users=users, sessions=web_sessions, audit=audit)

"""Users of the web console, their sessions, failed logins (the throttle) and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.storage.base import Base, UtcDateTime, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # normalised: lower-case, 3-32 of [a-z0-9._-] (contact_center.users.credentials)
    login: Mapped[str] = mapped_column(String(32), unique=True)
    # operator | supervisor | admin (contact_center.users.roles.Role)
    role: Mapped[str] = mapped_column(String(16))
    # Argon2id, in the PHC string form argon2-cffi writes (parameters included)
    password_hash: Mapped[str] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # operators.code of the desk this user works at; not a foreign key (the operators table
    # belongs to the hotline branch of migrations), checked when set
    operator_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class UserSession(Base):
    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 (hex) of the cookie's token; the token itself is never stored
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    # the client address at login, for the admin's view of open sessions
    address: Mapped[str] = mapped_column(String(64), default="")


class LoginFailure(Base):
    """One failed login, counted twice: under its login and under its address."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_kind_key_at", "kind", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "login" | "address" (contact_center.users.throttle)
    kind: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # a user's login, or "cli:<unix user>" for the command line
    actor: Mapped[str] = mapped_column(String(64), index=True)
    # dotted verb: "user.add", "campaign.start", "auth.login"
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32), default="")
    object_id: Mapped[str] = mapped_column(String(64), default="")
    # masked (contact_center.users.masking): never a password, phone, e-mail or name
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

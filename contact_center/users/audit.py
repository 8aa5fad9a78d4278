"""The audit log: who did what, when, on which object.

Every supervisor and admin action goes here (the web records them; user management and
logins are recorded by UserService itself, in the same transaction as the change). Details
are masked on the way in (contact_center.users.masking): no passwords, phones, e-mails or
names, whatever the caller passes.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.clock import Clock
from contact_center.users.masking import mask_details
from contact_center.users.models import AuditEntry

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """All given conditions must hold. `action` ending in "." is a prefix ("campaign."
    matches every campaign action); `before_id` pages back from an entry (newest first)."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    limit: int = DEFAULT_LIMIT


class AuditLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def record(
        self,
        actor_login: str,
        action: str,
        object_type: str = "",
        object_id: str | int = "",
        details: dict[str, Any] | None = None,
    ) -> AuditRecord:
        """Write one entry in its own transaction."""
        async with self._sessions.begin() as db:
            entry = self.add(db, actor_login, action, object_type, object_id, details)
            await db.flush()
            return _record(entry)

    def add(
        self,
        db: AsyncSession,
        actor_login: str,
        action: str,
        object_type: str = "",
        object_id: str | int = "",
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Add an entry to `db`'s transaction, so it is kept exactly when the change is."""
        entry = AuditEntry(
            at=self._clock.now(),
            actor=actor_login[:64],
            action=action[:64],
            object_type=object_type[:32],
            object_id=str(object_id)[:64],
            details=mask_details(details),
        )
        db.add(entry)
        return entry

    async def list(self, filters: AuditFilter | None = None) -> builtins.list[AuditRecord]:
        """Entries matching `filters`, newest first."""
        f = filters or AuditFilter()
        query = select(AuditEntry)
        if f.actor is not None:
            query = query.where(AuditEntry.actor == f.actor)
        if f.action is not None:
            if f.action.endswith("."):
                query = query.where(AuditEntry.action.startswith(f.action, autoescape=True))
            else:
                query = query.where(AuditEntry.action == f.action)
        if f.object_type is not None:
            query = query.where(AuditEntry.object_type == f.object_type)
        if f.object_id is not None:
            query = query.where(AuditEntry.object_id == str(f.object_id))
        if f.since is not None:
            query = query.where(AuditEntry.at >= f.since)
        if f.until is not None:
            query = query.where(AuditEntry.at < f.until)
        if f.before_id is not None:
            query = query.where(AuditEntry.id < f.before_id)
        limit = max(1, min(f.limit, MAX_LIMIT))
        query = query.order_by(AuditEntry.id.desc()).limit(limit)
        async with self._sessions() as db:
            rows = (await db.scalars(query)).all()
        return [_record(r) for r in rows]


def _record(entry: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        details=dict(entry.details or {}),
    )

"""Planned and emergency outages as stored: the supervisor's list (CLI import, one by one) and
what a caller on the hotline hears about their address. The rules live in `outages`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.hotline.exceptions import OutageError
from contact_center.hotline.models import Outage
from contact_center.hotline.outages import (
    OutageRecord,
    OutageView,
    parse_affected,
    select_for_caller,
)


class OutageService:
    """The outage list in the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], tz: ZoneInfo) -> None:
        self._sessions = sessions
        self._tz = tz

    async def add(self, record: OutageRecord) -> int:
        parse_affected(record.addresses)
        async with self._sessions() as session, session.begin():
            row = _outage_row(record)
            session.add(row)
            await session.flush()
            return row.id

    async def import_records(self, records: Iterable[OutageRecord], *, replace: bool) -> int:
        """Store validated records in one transaction; `replace` drops the stored ones first
        (the daily list replaces yesterday's)."""
        items = list(records)
        async with self._sessions() as session, session.begin():
            if replace:
                await session.execute(delete(Outage))
            session.add_all(_outage_row(r) for r in items)
        return len(items)

    async def move(self, outage_id: int, starts_at: datetime, ends_at: datetime) -> bool:
        """New times for a registered outage (campaigns warning of it read them out)."""
        if ends_at <= starts_at:
            raise OutageError("конец отключения раньше его начала")
        async with self._sessions() as session, session.begin():
            row = await session.get(Outage, outage_id)
            if row is None:
                return False
            row.starts_at, row.ends_at = starts_at, ends_at
        return True

    async def remove(self, outage_id: int) -> bool:
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(Outage).where(Outage.id == outage_id))
        return bool(getattr(result, "rowcount", 0))

    async def listing(self, now: datetime, *, include_past: bool = False) -> list[Outage]:
        query = select(Outage).order_by(Outage.starts_at, Outage.id)
        if not include_past:
            query = query.where(Outage.ends_at > now)
        async with self._sessions() as session:
            return list((await session.scalars(query)).all())

    async def for_caller(self, address: str | None, now: datetime) -> list[OutageView]:
        rows = await self.listing(now)
        views = [
            OutageView(
                o.kind,
                o.addresses,
                o.starts_at.astimezone(self._tz),
                o.ends_at.astimezone(self._tz),
                o.reason,
            )
            for o in rows
        ]
        return select_for_caller(views, address, now.astimezone(self._tz))


def _outage_row(record: OutageRecord) -> Outage:
    if record.ends_at <= record.starts_at:
        raise OutageError("окончание отключения должно быть позже начала")
    return Outage(
        kind=record.kind,
        addresses=record.addresses,
        starts_at=record.starts_at,
        ends_at=record.ends_at,
        reason=record.reason,
    )

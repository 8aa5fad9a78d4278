"""Appeals (обращения): every hotline call is one, numbered in the journal ("2026-000123-ФЛ");
the queue events and the operator's steps stamp its timings, and the norms report reads them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.customers.models import Customer
from contact_center.hotline.exceptions import AppealNotFound
from contact_center.hotline.models import (
    WRITTEN_SOURCES,
    Appeal,
    AppealSource,
    Appointment,
    Classification,
    JournalCounter,
)
from contact_center.hotline.norms import CallMetrics, Report, build_report
from contact_center.operators.models import Operator, OperatorState

if TYPE_CHECKING:
    from contact_center.hotline.standard_journal import StandardJournal

APPLICANT_DEFAULT = "ФЛ"
# free_operators: a transfer registered this long ago and not in the queue yet is still on
# its way (announced, dialing over the node trunk); a caller in the queue longer than
# WAITING_LIMIT_S is a record its service never closed (the longest queue wait is shorter)
PENDING_TRANSFER_S = 60.0
WAITING_LIMIT_S = 3600.0


def appeal_number(year: int, seq: int, applicant: str = APPLICANT_DEFAULT) -> str:
    """The journal's registration number: "2026-000123-ФЛ"."""
    return f"{year}-{seq:06d}-{applicant}"


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, (end - start).total_seconds()), 3)


@dataclass(frozen=True, slots=True)
class AppealRef:
    id: int
    number: str


class _Refused(Exception):
    """register_if_operator_free: no operator is free (the transaction is rolled back)."""


class AppealService:
    """Appeals (every hotline call) and the journal's numbering; implements the operator
    service's AppealLog."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], tz: ZoneInfo) -> None:
        self._sessions = sessions
        self._tz = tz
        # numbers are handed out one at a time in this process; the UPDATE ... RETURNING keeps
        # them unique across processes too
        self._numbering = asyncio.Lock()

    async def register(
        self,
        *,
        uniqueid: str,
        channel: str,
        caller_number: str,
        customer_id: int | None,
        arrived_at: datetime,
        source: AppealSource = AppealSource.HOTLINE,
        context: Mapping[str, Any] | None = None,
        answered_at: datetime | None = None,
        applicant: str = APPLICANT_DEFAULT,
        kind: str = "call",
        **written: Any,
    ) -> AppealRef:
        """Number and store a new appeal; `written`: the written appeal's columns
        (applicant_name, text, classification...)."""
        ref = await self._register(
            None,
            uniqueid=uniqueid,
            channel=channel,
            caller_number=caller_number,
            customer_id=customer_id,
            arrived_at=arrived_at,
            source=source,
            context=context,
            answered_at=answered_at,
            applicant=applicant,
            kind=kind,
            **written,
        )
        assert ref is not None  # nothing to refuse it
        return ref

    async def register_if_operator_free(
        self,
        *,
        uniqueid: str,
        channel: str,
        caller_number: str,
        customer_id: int | None,
        arrived_at: datetime,
        source: AppealSource,
        context: Mapping[str, Any] | None = None,
        answered_at: datetime | None = None,
    ) -> AppealRef | None:
        """`register` a call on its way to the operators' queue only while `free_operators`
        says one is free; None when none is. The count and the new appeal (which counts as
        a transfer on its way from then on) are one transaction, behind the year's journal
        counter row that `_next_seq` locks: two workers on two nodes that both see the last
        free operator cannot both take them, the second counts the first's appeal."""
        return await self._register(
            lambda session: self._free_operators_in(session, arrived_at),
            uniqueid=uniqueid,
            channel=channel,
            caller_number=caller_number,
            customer_id=customer_id,
            arrived_at=arrived_at,
            source=source,
            context=context,
            answered_at=answered_at,
        )

    async def _register(
        self,
        free: Callable[[AsyncSession], Awaitable[int]] | None,
        *,
        arrived_at: datetime,
        applicant: str = APPLICANT_DEFAULT,
        source: AppealSource = AppealSource.HOTLINE,
        context: Mapping[str, Any] | None = None,
        **columns: Any,
    ) -> AppealRef | None:
        year = arrived_at.astimezone(self._tz).year
        async with self._numbering:
            for _attempt in range(3):
                try:
                    async with self._sessions() as session, session.begin():
                        seq = await self._next_seq(session, year)
                        if free is not None and await free(session) <= 0:
                            raise _Refused
                        appeal = Appeal(
                            number=appeal_number(year, seq, applicant),
                            year=year,
                            seq=seq,
                            applicant=applicant,
                            arrived_at=arrived_at,
                            source=AppealSource(source).value,
                            context=dict(context) if context is not None else None,
                            timeline=[],
                            **columns,
                        )
                        session.add(appeal)
                    return AppealRef(appeal.id, appeal.number)
                except _Refused:
                    return None  # rolled back: the number is not spent
                except IntegrityError:
                    # another process created the year's counter first: count again
                    continue
        raise RuntimeError("could not number the appeal")

    @staticmethod
    async def _next_seq(session: AsyncSession, year: int) -> int:
        result = await session.execute(
            update(JournalCounter)
            .where(JournalCounter.year == year)
            .values(last_seq=JournalCounter.last_seq + 1)
            .returning(JournalCounter.last_seq)
        )
        seq = result.scalar_one_or_none()
        if seq is None:
            session.add(JournalCounter(year=year, last_seq=1))
            await session.flush()
            seq = 1
        return int(seq)

    def standard_journal(self) -> StandardJournal:
        """The journal in the standard's form over the same tables."""
        from contact_center.hotline.standard_journal import StandardJournal

        return StandardJournal(self._sessions, self._tz)

    async def set(self, appeal_id: int, **values: Any) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(update(Appeal).where(Appeal.id == appeal_id).values(**values))

    async def get(self, appeal_id: int) -> Appeal:
        async with self._sessions() as session:
            appeal = await session.get(Appeal, appeal_id)
        if appeal is None:
            raise AppealNotFound(f"обращение {appeal_id} не найдено")
        return appeal

    async def by_uniqueid(self, uniqueid: str) -> Appeal | None:
        async with self._sessions() as session:
            return await session.scalar(select(Appeal).where(Appeal.uniqueid == uniqueid))

    async def free_operators(self, now: datetime) -> int:
        """Operators free to take one more call, as the shared database has them (the
        hotline node's service writes the states; workers on other nodes pace by this):
        available operators, less the callers waiting in the queue, less the transfers
        registered in the last PENDING_TRANSFER_S and not yet in it (on their way over the
        node trunk from any dialer node)."""
        async with self._sessions() as session:
            return await self._free_operators_in(session, now)

    @staticmethod
    async def _free_operators_in(session: AsyncSession, now: datetime) -> int:
        available = await session.scalar(
            select(func.count())
            .select_from(Operator)
            .where(Operator.state == OperatorState.AVAILABLE.value)
        )
        waiting = await session.scalar(
            select(func.count())
            .select_from(Appeal)
            .where(
                Appeal.ended_at.is_(None),
                Appeal.operator_answered_at.is_(None),
                or_(
                    and_(
                        Appeal.queue_entered_at.is_not(None),
                        Appeal.queue_left_at.is_(None),
                        Appeal.arrived_at >= now - timedelta(seconds=WAITING_LIMIT_S),
                    ),
                    and_(
                        Appeal.source == AppealSource.TRANSFER.value,
                        Appeal.queue_entered_at.is_(None),
                        Appeal.arrived_at >= now - timedelta(seconds=PENDING_TRANSFER_S),
                    ),
                ),
            )
        )
        return max(0, int(available or 0) - int(waiting or 0))

    async def operator_interface(self, appeal_id: int) -> str:
        """The queue member interface of the operator who answered the appeal ("" none)."""
        async with self._sessions() as session:
            found = await session.scalar(
                select(Operator.interface)
                .join(Appeal, Appeal.operator_id == Operator.id)
                .where(Appeal.id == appeal_id)
            )
        return found or ""

    async def move_to_channel(self, appeal_id: int, uniqueid: str, channel: str) -> bool:
        """Make the open appeal `appeal_id` the appeal of call `uniqueid` (a transfer that
        crossed to another Asterisk node, where the call has a new channel): the queue events
        and the screen-pop there find it by that channel. False if no open appeal has that id."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(Appeal)
                .where(Appeal.id == appeal_id, Appeal.ended_at.is_(None))
                .values(uniqueid=uniqueid, channel=channel)
            )
        return bool(getattr(result, "rowcount", 0))

    async def by_number(self, number: str) -> Appeal | None:
        async with self._sessions() as session:
            return await session.scalar(select(Appeal).where(Appeal.number == number))

    async def _edit(self, where: Any, change: Callable[[Appeal], None]) -> int | None:
        """Read-modify-write one appeal in a transaction (each caller touches its own columns)."""
        async with self._sessions() as session, session.begin():
            appeal = await session.scalar(select(Appeal).where(where))
            if appeal is None:
                return None
            change(appeal)
            return appeal.id

    # ---------------------------------------------------------------- queue events
    async def queue_joined(self, uniqueid: str, at: datetime, position: int | None) -> int | None:
        def change(a: Appeal) -> None:
            if a.queue_entered_at is None:
                a.queue_entered_at = at
                a.queue_position = position

        return await self._edit(Appeal.uniqueid == uniqueid, change)

    async def operator_answered(
        self, uniqueid: str, operator_id: int | None, at: datetime
    ) -> int | None:
        def change(a: Appeal) -> None:
            a.operator_answered_at = at
            a.operator_id = operator_id
            a.queue_left_at = a.queue_left_at or at
            a.wait_s = _seconds(a.queue_entered_at, at)

        return await self._edit(Appeal.uniqueid == uniqueid, change)

    async def operator_ended(self, uniqueid: str, at: datetime) -> int | None:
        return await self._edit(Appeal.uniqueid == uniqueid, lambda a: _operator_end(a, at))

    async def abandoned(self, uniqueid: str, at: datetime) -> int | None:
        def change(a: Appeal) -> None:
            a.abandoned = True
            a.queue_left_at = at
            a.wait_s = _seconds(a.queue_entered_at, at)

        return await self._edit(Appeal.uniqueid == uniqueid, change)

    async def queue_left(self, uniqueid: str, at: datetime) -> int | None:
        def change(a: Appeal) -> None:
            if a.queue_left_at is None:
                a.queue_left_at = at

        return await self._edit(Appeal.uniqueid == uniqueid, change)

    async def close(
        self,
        appeal_id: int,
        *,
        ended_at: datetime,
        ended_by: str,
        ivr_path: str | None = None,
        timeline: list[Any] | None = None,
        more_timeline: Sequence[list[Any]] = (),
    ) -> bool:
        """Close the appeal: its end, who ended it, the IVR path and the timeline.

        Idempotent: the first close wins (a flow and the reconciliation may both learn the
        end), a later one changes nothing and returns False. Needs only the database, never
        the AMI link, so the appeal closes whatever state the link is in. `timeline`
        replaces the stored one, `more_timeline` is appended (an end learned from events).
        """

        closed = False

        def change(a: Appeal) -> None:
            nonlocal closed
            if a.ended_at is not None:
                return
            closed = True
            a.ended_at = ended_at
            a.ended_by = ended_by
            if ivr_path is not None:
                a.ivr_path = ivr_path
            entries = list(a.timeline or []) if timeline is None else list(timeline)
            # a new list: the JSON column notices a changed value, not an in-place append
            a.timeline = [*entries, *more_timeline]
            if a.queue_entered_at is not None and a.queue_left_at is None:
                # the caller left the queue with the call: no QueueCallerAbandon came (yet)
                a.queue_left_at = ended_at
            if a.operator_answered_at is not None and a.operator_ended_at is None:
                # no AgentComplete (yet, or lost with the link): the conversation lasted
                # at most until the call's end; a later AgentComplete sets its own time
                _operator_end(a, ended_at)

        await self._edit(Appeal.id == appeal_id, change)
        return closed

    async def save_progress(self, appeal_id: int, *, ivr_path: str, timeline: list[Any]) -> None:
        """What a call went through so far, for an appeal still open (its end comes later)."""
        await self.set(appeal_id, ivr_path=ivr_path, timeline=list(timeline))

    async def open_appeals(self) -> list[tuple[int, str]]:
        """(id, Uniqueid) of every hotline appeal not closed yet (for the reconciliation;
        calls from other sources are not the hotline flow's to release or close)."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Appeal.id, Appeal.uniqueid).where(
                    Appeal.ended_at.is_(None), Appeal.source == AppealSource.HOTLINE.value
                )
            )
            return [(int(i), str(u)) for i, u in rows.all()]

    # ---------------------------------------------------------------- operator steps
    async def lookup_done(self, appeal_id: int, at: datetime) -> None:
        def change(a: Appeal) -> None:
            if a.lookup_done_at is None:
                a.lookup_done_at = at
                a.lookup_s = _seconds(a.operator_answered_at, at)

        await self._edit(Appeal.id == appeal_id, change)

    async def info_done(self, appeal_id: int, at: datetime) -> None:
        def change(a: Appeal) -> None:
            a.info_done_at = at
            a.info_s = _seconds(a.lookup_done_at or a.operator_answered_at, at)

        await self._edit(Appeal.id == appeal_id, change)

    async def wrapup_done(
        self,
        appeal_id: int,
        at: datetime,
        *,
        timed_out: bool,
        classification: str | None,
        summary: str | None,
    ) -> None:
        def change(a: Appeal) -> None:
            if a.wrapup_done_at is None:
                a.wrapup_done_at = at
                a.wrapup_timed_out = timed_out
                a.wrapup_s = _seconds(a.operator_ended_at, at)
            _classify(a, classification, summary)

        await self._edit(Appeal.id == appeal_id, change)

    async def classify(
        self, appeal_id: int, classification: str | None, summary: str | None
    ) -> None:
        await self._edit(Appeal.id == appeal_id, lambda a: _classify(a, classification, summary))

    async def book(
        self, appeal_id: int, operator_id: int, day: date, at: time, office: str, note: str
    ) -> int:
        async with self._sessions() as session, session.begin():
            appeal = await session.get(Appeal, appeal_id)
            if appeal is None:
                raise AppealNotFound(f"обращение {appeal_id} не найдено")
            booking = Appointment(
                appeal_id=appeal_id,
                customer_id=appeal.customer_id,
                operator_id=operator_id,
                day=day,
                at=at,
                office=office.strip(),
                note=note.strip(),
            )
            session.add(booking)
            await session.flush()
            return booking.id

    async def appointments(self, appeal_id: int) -> list[Appointment]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Appointment).where(Appointment.appeal_id == appeal_id)
            )
            return list(rows.all())

    async def describe(self, appeal_id: int) -> dict[str, Any]:
        """What the operator's screen shows: the appeal and the customer caller ID found."""
        async with self._sessions() as session:
            appeal = await session.get(Appeal, appeal_id)
            if appeal is None:
                raise AppealNotFound(f"обращение {appeal_id} не найдено")
            customer = (
                await session.get(Customer, appeal.customer_id) if appeal.customer_id else None
            )
        out: dict[str, Any] = {
            "number": appeal.number,
            "caller": appeal.caller_number,
            "arrived_at": appeal.arrived_at.astimezone(self._tz).isoformat(timespec="seconds"),
            "ivr_path": appeal.ivr_path,
            "classification": appeal.classification,
            "summary": appeal.summary,
            "source": appeal.source,
            "context": appeal.context,
            "customer": None,
        }
        if customer is not None:
            out["customer"] = {
                "account": customer.account,
                "name": customer.name,
                "address": customer.address,
                "debt": str(customer.debt) if customer.debt is not None else None,
            }
        return out

    # ---------------------------------------------------------------- the operator's desk
    async def recent_for_customer(
        self, customer_id: int, *, limit: int = 5, exclude: int | None = None
    ) -> list[Appeal]:
        """The customer's latest appeals, newest first (what the screen-pop lists)."""
        query = select(Appeal).where(Appeal.customer_id == customer_id)
        if exclude is not None:
            query = query.where(Appeal.id != exclude)
        async with self._sessions() as session:
            rows = await session.scalars(
                query.order_by(Appeal.arrived_at.desc(), Appeal.id.desc()).limit(limit)
            )
            return list(rows.all())

    async def messages_due(self, day: date, *, limit: int = 200) -> list[Appeal]:
        """Recorded messages (out of hours, no operator in time) due by `day`, oldest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Appeal)
                .where(Appeal.kind == "message", Appeal.due_date <= day)
                .order_by(Appeal.due_date, Appeal.arrived_at, Appeal.id)
                .limit(limit)
            )
            return list(rows.all())

    async def called_back(self, numbers: Sequence[str], since: datetime) -> dict[str, datetime]:
        """Of `numbers`, those an operator reached since `since` (a call-back or an operator's
        own call the customer answered), with the latest such call."""
        if not numbers:
            return {}
        async with self._sessions() as session:
            rows = await session.execute(
                select(Appeal.caller_number, Appeal.arrived_at).where(
                    Appeal.caller_number.in_(list(numbers)),
                    Appeal.source.in_(
                        [AppealSource.CALLBACK.value, AppealSource.OPERATOR_PHONE.value]
                    ),
                    Appeal.arrived_at >= since,
                    Appeal.operator_answered_at.is_not(None),
                )
            )
            out: dict[str, datetime] = {}
            for number, at in rows.all():
                if number not in out or at > out[number]:
                    out[str(number)] = at
            return out

    # ---------------------------------------------------------------- reports
    def _local_range(self, date_from: date, date_to: date) -> tuple[datetime, datetime]:
        start = datetime.combine(date_from, time(0), tzinfo=self._tz)
        end = datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=self._tz)
        return start, end

    async def in_period(self, date_from: date, date_to: date) -> list[Appeal]:
        start, end = self._local_range(date_from, date_to)
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Appeal)
                .where(Appeal.arrived_at >= start, Appeal.arrived_at < end)
                .order_by(Appeal.arrived_at, Appeal.id)
            )
            return list(rows.all())

    async def report(self, date_from: date, date_to: date) -> Report:
        start, end = self._local_range(date_from, date_to)
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(Appeal, Operator.code)
                    .outerjoin(Operator, Operator.id == Appeal.operator_id)
                    .where(
                        Appeal.arrived_at >= start,
                        Appeal.arrived_at < end,
                        # letters and visits have norms of their own (hotline.written)
                        Appeal.source.not_in(WRITTEN_SOURCES),
                    )
                )
            ).all()
        calls = [
            CallMetrics(
                day=a.arrived_at.astimezone(self._tz).date(),
                operator=code,
                queued=a.queue_entered_at is not None,
                answered=a.operator_answered_at is not None,
                abandoned=a.abandoned,
                wait=a.wait_s,
                lookup=a.lookup_s,
                info=a.info_s,
                wrapup=a.wrapup_s,
            )
            for a, code in rows
        ]
        return build_report(calls, date_from, date_to)


def _operator_end(a: Appeal, at: datetime) -> None:
    a.operator_ended_at = at
    a.talk_s = _seconds(a.operator_answered_at, at)
    if a.info_done_at is None and a.operator_answered_at is not None:
        # "info done" not pressed: information was being given until the call ended
        a.info_s = _seconds(a.lookup_done_at or a.operator_answered_at, at)


def _classify(appeal: Appeal, classification: str | None, summary: str | None) -> None:
    if classification is not None:
        appeal.classification = Classification(classification).value
    if summary is not None:
        appeal.summary = summary.strip()


def parse_classification(raw: str) -> str:
    """ "кэ" / "КЭ" -> "КЭ"; raises ValueError naming the classes."""
    for item in Classification:
        if item.value.lower() == raw.strip().lower():
            return item.value
    raise ValueError(f"классификация «{raw}»: одна из {', '.join(c.value for c in Classification)}")

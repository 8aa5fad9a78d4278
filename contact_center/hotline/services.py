"""Hotline services: appeals and their journal, outages, IVR scripts on disk, the calendar file,
the report, and HotlineService, which wires them for the running service."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.calendar import CalendarOverrides, WorkCalendar, parse_overrides
from contact_center.clock import Clock
from contact_center.customers.models import Customer
from contact_center.hotline import ivr as ivr_rules
from contact_center.hotline.exceptions import AppealNotFound, CalendarError, OutageError
from contact_center.hotline.models import (
    Appeal,
    Appointment,
    Classification,
    JournalCounter,
    Outage,
)
from contact_center.hotline.norms import CallMetrics, Report, build_report
from contact_center.hotline.outages import (
    OutageRecord,
    OutageView,
    parse_affected,
    select_for_caller,
)
from contact_center.operators.models import Operator
from contact_center.operators.services import OperatorService, QueueControl
from contact_center.tasks import TaskSet

if TYPE_CHECKING:
    from contact_center.customers.services import CustomerService
    from contact_center.hotline.flow import HotlineCall
    from contact_center.settings import Settings
    from contact_center.speech.service import Speech
    from contact_center.telephony.agi import AgiChannel
    from contact_center.telephony.ami import AmiLink

log = logging.getLogger(__name__)

APPLICANT_DEFAULT = "ФЛ"
# the simulated world's operators (asterisk_conf/sim): they "press" wrap-up-done by themselves
SIM_OPERATOR_INTERFACE = re.compile(r"@sim-operators(/|$)")


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


# --------------------------------------------------------------------------- appeals
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
    ) -> AppealRef:
        year = arrived_at.astimezone(self._tz).year
        async with self._numbering:
            for _attempt in range(3):
                try:
                    async with self._sessions() as session, session.begin():
                        seq = await self._next_seq(session, year)
                        appeal = Appeal(
                            number=appeal_number(year, seq),
                            year=year,
                            seq=seq,
                            applicant=APPLICANT_DEFAULT,
                            uniqueid=uniqueid,
                            channel=channel,
                            caller_number=caller_number,
                            customer_id=customer_id,
                            arrived_at=arrived_at,
                            timeline=[],
                        )
                        session.add(appeal)
                    return AppealRef(appeal.id, appeal.number)
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
        def change(a: Appeal) -> None:
            a.operator_ended_at = at
            a.talk_s = _seconds(a.operator_answered_at, at)
            if a.info_done_at is None and a.operator_answered_at is not None:
                # "info done" not pressed: information was being given until the call ended
                a.info_s = _seconds(a.lookup_done_at or a.operator_answered_at, at)

        return await self._edit(Appeal.uniqueid == uniqueid, change)

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

    async def finish(
        self,
        appeal_id: int,
        *,
        ended_at: datetime,
        ended_by: str,
        ivr_path: str,
        timeline: list[Any],
    ) -> None:
        def change(a: Appeal) -> None:
            a.ended_at = ended_at
            a.ended_by = ended_by
            a.ivr_path = ivr_path
            a.timeline = timeline
            if a.queue_entered_at is not None and a.queue_left_at is None:
                # the caller left the queue with the call: no QueueCallerAbandon came (yet)
                a.queue_left_at = ended_at

        await self._edit(Appeal.id == appeal_id, change)

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
                    .where(Appeal.arrived_at >= start, Appeal.arrived_at < end)
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


# --------------------------------------------------------------------------- outages
class OutageService:
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


# --------------------------------------------------------------------------- IVR on disk
def read_scripts_dir(directory: Path) -> tuple[tuple[tuple[str, int, int], ...], dict[str, str]]:
    """(stamp, file name -> text) of the *.toml files; runs in a worker thread."""
    files: dict[str, str] = {}
    stamp: list[tuple[str, int, int]] = []
    if directory.is_dir():
        for path in sorted(directory.glob("*.toml")):
            try:
                st = path.stat()
                files[path.name] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                files[path.name] = f"\0unreadable: {exc}"
                continue
            stamp.append((path.name, st.st_mtime_ns, st.st_size))
    return tuple(stamp), files


class IvrLibrary:
    """The IVR menus in force: re-read when the files change; a broken file never replaces the
    last good version (nor does a set that fails as a whole)."""

    def __init__(self, directory: Path, prompts: Collection[str]) -> None:
        self.directory = Path(directory)
        self._prompts = frozenset(prompts)
        self.scripts: ivr_rules.ScriptSet = ivr_rules.BUILTIN
        self.last: ivr_rules.LoadResult | None = None
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._lock = asyncio.Lock()

    async def reload(self, *, force: bool = False) -> ivr_rules.LoadResult:
        async with self._lock:
            stamp, files = await asyncio.to_thread(read_scripts_dir, self.directory)
            if not force and stamp == self._stamp and self.last is not None:
                return self.last
            self._stamp = stamp
            result = self.check(files)
            if result.errors:
                for error in result.errors:
                    log.error("IVR script refused: %s", error)
                if result.refused:
                    log.error("IVR: the previous menus stay in force")
            elif self.last is not None:
                log.info("IVR menus reloaded: %s", ", ".join(sorted(result.scripts.menus)))
            self.scripts = result.scripts
            self.last = result
            return result

    def check(self, files: dict[str, str]) -> ivr_rules.LoadResult:
        previous = None if self.scripts.builtin else self.scripts
        unreadable = {k: v for k, v in files.items() if v.startswith("\0unreadable")}
        readable = {k: v for k, v in files.items() if k not in unreadable}
        result = ivr_rules.load_scripts(readable, prompts=self._prompts, previous=previous)
        if unreadable:
            from contact_center.hotline.exceptions import IvrError

            extra = tuple(IvrError(k, "", "файл не читается") for k in unreadable)
            result = ivr_rules.LoadResult(
                result.scripts, extra + result.errors, result.kept, result.refused
            )
        return result


class CalendarFile:
    """The working calendar: hours from the settings, corrections from the override file."""

    def __init__(self, hours: str, path: Path) -> None:
        self.path = Path(path)
        self._hours = hours
        self.calendar = WorkCalendar.from_text(hours)
        self.error: str | None = None
        self._stamp: tuple[int, int] | None = None

    @staticmethod
    def _read(path: Path) -> tuple[tuple[int, int] | None, str]:
        try:
            st = path.stat()
            return (st.st_mtime_ns, st.st_size), path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, ""

    async def reload(self) -> str | None:
        """Re-read the override file if it changed; a broken file keeps the last good one."""
        stamp, text = await asyncio.to_thread(self._read, self.path)
        if stamp == self._stamp and self._stamp is not None:
            return self.error
        self._stamp = stamp
        try:
            overrides = parse_overrides(text, str(self.path)) if text else CalendarOverrides()
        except CalendarError as exc:
            self.error = str(exc)
            log.error("calendar override file refused: %s", exc)
            return self.error
        self.error = None
        self.calendar = WorkCalendar(self.calendar.hours, overrides)
        return None


# --------------------------------------------------------------------------- the hotline
class HotlineService:
    """Everything the hotline needs in `contact-center serve`: the call flow's collaborators,
    the queue event consumer, post-call work limits, file watchers."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        customers: CustomerService,
        speech: Speech,
        link: AmiLink,
        clock: Clock,
        *,
        calendar: object = None,
    ) -> None:
        from contact_center.hotline.bus_consume import QueueEventConsumer

        self.settings = settings
        self.clock = clock
        self.tz = settings.tz
        self.customers = customers
        self.speech = speech
        self.link = link
        self.appeals = AppealService(sessions, self.tz)
        self.outages = OutageService(sessions, self.tz)
        self.ivr = IvrLibrary(settings.ivr_scripts_dir, speech.prompts)
        self.calendar_file = CalendarFile(settings.hotline_hours, settings.calendar_file)
        self.operators = OperatorService(
            sessions,
            QueueControl(link),
            self.appeals,
            clock,
            wrapup_limit=settings.hotline_wrapup_limit,
        )
        self.calls: dict[str, HotlineCall] = {}
        # finished calls, for whoever watches (tests, a future live view)
        self.on_call_finished: list[Callable[[HotlineCall], Any]] = []
        self.events = QueueEventConsumer(link, self.appeals, self.operators, clock, self.calls)
        self._tasks = TaskSet("hotline")
        self._started = False

    @property
    def calendar(self) -> WorkCalendar:
        return self.calendar_file.calendar

    async def start(self) -> None:
        await self.ivr.reload()
        await self.calendar_file.reload()
        self.events.start(self._tasks)
        self.link.on_connection(self._on_connection)
        await self._reconcile()
        self._tasks.spawn(self._sweep(), name="hotline-wrapup-limits")
        self._tasks.spawn(self._watch_files(), name="hotline-file-watch")
        self._started = True

    async def stop(self) -> None:
        self._started = False
        await self._tasks.close()
        self.events.stop()

    async def handle_call(self, channel: AgiChannel) -> None:
        """The AsyncAGI flow `hotline` (dialplan context [hotline])."""
        from contact_center.hotline.flow import HotlineCall

        call = HotlineCall(self, channel)
        try:
            await call.run()
        finally:
            for listener in list(self.on_call_finished):
                try:
                    listener(call)
                except Exception:
                    log.exception("call-finished listener failed")

    def _on_connection(self, up: bool) -> None:
        if up and self._started:
            self._tasks.spawn(self._reconcile(), name="hotline-reconcile")

    async def _reconcile(self) -> None:
        try:
            for note in await self.operators.reconcile():
                log.info("operators: %s", note)
        except Exception:
            # a queue that cannot be read now is fixed by the next reconnect; calls still run
            log.exception("could not reconcile operators with the queue")

    async def _sweep(self) -> None:
        limit = self.settings.hotline_wrapup_limit
        sim = self.settings.sim_operator_wrapup_time
        shortest = min(limit, sim) if sim >= 0 else limit
        interval = min(1.0, max(0.1, shortest / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                await self.operators.expire_wrapups(
                    auto_interfaces=SIM_OPERATOR_INTERFACE, auto_after=sim
                )
            except Exception:
                log.exception("post-call work sweep failed")

    async def _watch_files(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            try:
                await self.ivr.reload()
                await self.calendar_file.reload()
            except Exception:
                log.exception("re-reading the IVR scripts or the calendar failed")

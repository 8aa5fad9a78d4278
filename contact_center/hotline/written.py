"""Written appeals (e-mail, post, in person) and their norms (standard ch. 2 § 2, p. 2
"Организация обслуживания клиентов с помощью почтовой связи", p. 4): registered,
classified and passed to a specialist within 1 day; answered within 10 days.

They are appeals like the hotline's calls: numbered in the same journal ("2026-000124-ЮЛ",
the letters by who wrote: ФЛ a person, ГЛ a group of persons, ЮЛ a company; ch. 3 § 3,
column 1) and exported in the standard's form (hotline.standard_journal). The norms are
measured by `measure`, which is pure; `WrittenAppeals` stores and reads them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.clock import Clock
from contact_center.customers.models import Customer
from contact_center.hotline.appeals import AppealRef, AppealService, parse_classification
from contact_center.hotline.exceptions import AppealNotFound, HotlineError
from contact_center.hotline.models import WRITTEN_SOURCES, Appeal, AppealSource

CHANNEL_RU = {
    "email": "электронная почта",
    "post": "почта",
    "visit": "личный приём",
}
APPLICANT_RU = {"ФЛ": "физическое лицо", "ГЛ": "группа лиц", "ЮЛ": "юридическое лицо"}
# the norms of the standard's table for written appeals
REGISTER_LIMIT = timedelta(days=1)
ANSWER_LIMIT = timedelta(days=10)
MAX_TEXT = 20_000
MAX_NAME = 300


class WrittenAppealError(HotlineError, ValueError):
    """A written appeal that cannot be registered or changed as asked; says why."""

    error_id = "hotline-written-appeal"


def parse_channel(raw: str) -> str:
    value = raw.strip().lower()
    aliases = {"e-mail": "email", "почта": "post", "письмо": "post", "приём": "visit"}
    value = aliases.get(value, value)
    if value not in CHANNEL_RU:
        raise WrittenAppealError(f"канал «{raw}»: email, post или visit")
    return value


def parse_applicant(raw: str) -> str:
    value = raw.strip().upper()
    latin = {"FL": "ФЛ", "GL": "ГЛ", "UL": "ЮЛ"}
    value = latin.get(value, value)
    if value not in APPLICANT_RU:
        raise WrittenAppealError(f"заявитель «{raw}»: ФЛ, ГЛ или ЮЛ (fl, gl, ul)")
    return value


def _text(raw: str | None, what: str, limit: int, *, required: bool = False) -> str:
    value = " ".join((raw or "").split()) if what != "текст" else (raw or "").strip()
    if required and not value:
        raise WrittenAppealError(f"{what}: пусто")
    if len(value) > limit:
        raise WrittenAppealError(f"{what}: длиннее {limit} знаков")
    return value


# ---------------------------------------------------------------------------- the norms


@dataclass(frozen=True, slots=True)
class WrittenFacts:
    number: str
    channel: str
    arrived_at: datetime
    classified_at: datetime | None
    replied_at: datetime | None


@dataclass(frozen=True, slots=True)
class NormResult:
    """One norm over the period: met, broken, still within its term, already overdue."""

    limit_days: int
    in_time: int = 0
    late: int = 0
    pending: int = 0
    overdue: int = 0
    # the registration numbers of the late and overdue ones
    violations: tuple[str, ...] = ()

    @property
    def measured(self) -> int:
        return self.in_time + self.late + self.overdue

    @property
    def share_in_time(self) -> float | None:
        return self.in_time / self.measured if self.measured else None


@dataclass(frozen=True, slots=True)
class WrittenReport:
    date_from: date
    date_to: date
    total: int
    by_channel: dict[str, int] = field(default_factory=dict)
    register: NormResult = NormResult(1)
    answer: NormResult = NormResult(10)


def _norm(
    pairs: Sequence[tuple[str, datetime, datetime | None]], limit: timedelta, now: datetime
) -> NormResult:
    in_time = late = pending = overdue = 0
    violations: list[str] = []
    for number, start, done in pairs:
        if done is not None:
            if done - start <= limit:
                in_time += 1
            else:
                late += 1
                violations.append(number)
        elif now - start > limit:
            overdue += 1
            violations.append(number)
        else:
            pending += 1
    return NormResult(limit.days, in_time, late, pending, overdue, tuple(violations))


def measure(
    facts: Sequence[WrittenFacts], date_from: date, date_to: date, now: datetime
) -> WrittenReport:
    """The written appeals of a period against the norms, as of `now`."""
    by_channel: dict[str, int] = {}
    for f in facts:
        by_channel[f.channel] = by_channel.get(f.channel, 0) + 1
    return WrittenReport(
        date_from,
        date_to,
        len(facts),
        by_channel,
        _norm([(f.number, f.arrived_at, f.classified_at) for f in facts], REGISTER_LIMIT, now),
        _norm([(f.number, f.arrived_at, f.replied_at) for f in facts], ANSWER_LIMIT, now),
    )


def report_lines(report: WrittenReport) -> list[str]:
    """The report as `report written` prints it (Russian)."""

    def norm(title: str, r: NormResult) -> str:
        share = f" ({r.share_in_time:.0%} в срок)" if r.share_in_time is not None else ""
        line = (
            f"{title} (не более {r.limit_days} дн.): в срок {r.in_time}, с опозданием "
            f"{r.late}, просрочено {r.overdue}, ещё в сроке {r.pending}{share}"
        )
        if r.violations:
            line += "\n  нарушения: " + ", ".join(r.violations)
        return line

    channels = ", ".join(
        f"{CHANNEL_RU.get(k, k)} {n}" for k, n in sorted(report.by_channel.items())
    )
    return [
        f"Письменные обращения с {report.date_from:%d.%m.%Y} по {report.date_to:%d.%m.%Y}: "
        f"{report.total}" + (f" ({channels})" if channels else ""),
        norm("Регистрация и классификация", report.register),
        norm("Ответ заявителю", report.answer),
    ]


def report_data(report: WrittenReport) -> dict[str, Any]:
    def norm(r: NormResult) -> dict[str, Any]:
        return {
            "limit_days": r.limit_days,
            "in_time": r.in_time,
            "late": r.late,
            "pending": r.pending,
            "overdue": r.overdue,
            "violations": list(r.violations),
        }

    return {
        "from": report.date_from.isoformat(),
        "to": report.date_to.isoformat(),
        "total": report.total,
        "by_channel": report.by_channel,
        "register": norm(report.register),
        "answer": norm(report.answer),
    }


# ---------------------------------------------------------------------------- the store


@dataclass(frozen=True, slots=True)
class WrittenView:
    id: int
    number: str
    channel: str
    applicant_name: str
    applicant_address: str
    account: str | None
    arrived_at: datetime
    classification: str | None
    summary: str
    text: str
    assigned_to: str
    replied_at: datetime | None


class WrittenAppeals:
    def __init__(
        self,
        appeals: AppealService,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        tz: ZoneInfo,
    ) -> None:
        self._appeals = appeals
        self._sessions = sessions
        self._clock = clock
        self._tz = tz

    async def add(
        self,
        *,
        channel: str,
        applicant_name: str,
        text: str,
        account: str | None = None,
        address: str | None = None,
        summary: str | None = None,
        classification: str | None = None,
        applicant: str = "ФЛ",
        received_at: datetime | None = None,
    ) -> AppealRef:
        """Register a letter or a visit; classified now if `classification` is given."""
        channel = parse_channel(channel)
        applicant = parse_applicant(applicant)
        name = _text(applicant_name, "заявитель", MAX_NAME, required=True)
        body = _text(text, "текст", MAX_TEXT, required=True)
        brief = _text(summary, "краткое содержание", 1000) or _brief(body)
        cls = _classification(classification)
        now = self._clock.now()
        arrived = received_at or now
        if arrived > now + timedelta(minutes=5):
            raise WrittenAppealError("дата поступления в будущем")
        customer_id: int | None = None
        place = _text(address, "адрес", MAX_NAME)
        if account:
            async with self._sessions() as session:
                customer = await session.scalar(
                    select(Customer).where(Customer.account == account.strip())
                )
            if customer is None:
                raise WrittenAppealError(f"абонента с лицевым счётом {account} нет в базе")
            customer_id = customer.id
            place = place or customer.address
        return await self._appeals.register(
            uniqueid=f"written-{uuid.uuid4().hex}",
            channel="",
            caller_number="",
            customer_id=customer_id,
            arrived_at=arrived,
            source=AppealSource(channel),
            applicant=applicant,
            kind="written",
            applicant_name=name,
            applicant_address=place,
            text=body,
            summary=brief,
            classification=cls,
            classified_at=now if cls else None,
        )

    async def get(self, ref: str) -> Appeal:
        """A written appeal by its number ("2026-000124-ФЛ") or id."""
        ref = ref.strip()
        async with self._sessions() as session:
            where = Appeal.id == int(ref) if ref.isdigit() else Appeal.number == ref
            appeal = await session.scalar(select(Appeal).where(where))
        if appeal is None:
            raise AppealNotFound(f"обращение {ref} не найдено")
        if appeal.source not in WRITTEN_SOURCES:
            raise WrittenAppealError(f"обращение {appeal.number} — не письменное, а звонок")
        return appeal

    async def classify(self, ref: str, classification: str, summary: str | None = None) -> Appeal:
        appeal = await self.get(ref)
        cls = _classification(classification)
        values: dict[str, Any] = {"classification": cls}
        if appeal.classified_at is None:
            values["classified_at"] = self._clock.now()
        if summary is not None:
            values["summary"] = _text(summary, "краткое содержание", 1000)
        await self._appeals.set(appeal.id, **values)
        return await self.get(str(appeal.id))

    async def assign(self, ref: str, to: str) -> Appeal:
        appeal = await self.get(ref)
        who = _text(to, "кому передано", MAX_NAME, required=True)
        await self._appeals.set(appeal.id, assigned_to=who, assigned_at=self._clock.now())
        return await self.get(str(appeal.id))

    async def answer(self, ref: str, text: str) -> Appeal:
        appeal = await self.get(ref)
        if appeal.classification is None:
            raise WrittenAppealError(
                f"обращение {appeal.number} не классифицировано: сначала appeal classify"
            )
        body = _text(text, "текст", MAX_TEXT, required=True)
        now = self._clock.now()
        await self._appeals.set(appeal.id, replied_at=now, reply_text=body, ended_at=now)
        return await self.get(str(appeal.id))

    async def response_received(self, ref: str) -> Appeal:
        appeal = await self.get(ref)
        await self._appeals.set(appeal.id, response_received_at=self._clock.now())
        return await self.get(str(appeal.id))

    async def note(self, ref: str, text: str) -> Appeal:
        appeal = await self.get(ref)
        await self._appeals.set(appeal.id, note=_text(text, "примечание", 2000))
        return await self.get(str(appeal.id))

    async def report(self, date_from: date, date_to: date) -> WrittenReport:
        start = datetime.combine(date_from, time(0), tzinfo=self._tz)
        end = datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=self._tz)
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Appeal)
                .where(
                    Appeal.arrived_at >= start,
                    Appeal.arrived_at < end,
                    Appeal.source.in_(WRITTEN_SOURCES),
                )
                .order_by(Appeal.arrived_at, Appeal.id)
            )
            facts = [
                WrittenFacts(a.number, a.source, a.arrived_at, a.classified_at, a.replied_at)
                for a in rows
            ]
        return measure(facts, date_from, date_to, self._clock.now())


def _classification(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return parse_classification(raw)
    except ValueError as exc:
        raise WrittenAppealError(str(exc)) from None


def _brief(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"

"""The appeals journal as the console lists and exports it: filters (parsed and checked here,
pure), one row per appeal with its outcome and timings, and the query behind them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, not_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.customers.models import Customer
from contact_center.hotline.appeals import parse_classification
from contact_center.hotline.models import CLASSIFICATION_RU, Appeal
from contact_center.operators.models import Operator

STATUS_RU = {
    "answered": "ответил оператор",
    "abandoned": "не дождался",
    "message": "оставил сообщение",
    "self_service": "самообслуживание",
    "in_progress": "идёт",
    "written": "письменное",
}
ENDED_BY_RU = {
    "caller": "абонент",
    "operator": "оператор",
    "system": "система",
    "lost": "неизвестно",
}
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
# a journal export covers at most this many days (a year and a day)
MAX_DAYS = 366
EXPORT_LIMIT = 100_000


class JournalFilterError(ValueError):
    """A filter the journal cannot use; `field` names the query parameter."""

    error_id = "hotline-journal-filter"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class JournalFilter:
    date_from: date
    date_to: date
    classification: str | None = None
    operator: str | None = None
    status: str | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def parse_day(raw: str, field: str) -> date:
    text = raw.strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise JournalFilterError(field, f"дата «{raw}»: ожидается ГГГГ-ММ-ДД или ДД.ММ.ГГГГ")


def _count(raw: str | None, field: str, default: int, low: int, high: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise JournalFilterError(field, f"{field}: ожидается целое число") from None
    if not low <= value <= high:
        raise JournalFilterError(field, f"{field}: от {low} до {high}")
    return value


def parse_filter(
    query: Mapping[str, str | None], today: date, *, max_limit: int = MAX_LIMIT
) -> JournalFilter:
    """`from`, `to` (default today), `class`, `operator`, `status`, `limit`, `offset`."""
    raw_from, raw_to = query.get("from") or "", query.get("to") or ""
    date_from = parse_day(raw_from, "from") if raw_from.strip() else None
    date_to = parse_day(raw_to, "to") if raw_to.strip() else None
    if date_from is None:
        date_from = date_to or today
    if date_to is None:
        date_to = max(date_from, today)
    if date_to < date_from:
        raise JournalFilterError("to", "дата «по» раньше даты «с»")
    if (date_to - date_from).days >= MAX_DAYS:
        raise JournalFilterError("to", f"период не длиннее {MAX_DAYS} дней")
    classification = (query.get("class") or "").strip() or None
    if classification is not None:
        try:
            classification = parse_classification(classification)
        except ValueError as exc:
            raise JournalFilterError("class", str(exc)) from None
    status = (query.get("status") or "").strip() or None
    if status is not None and status not in STATUS_RU:
        choices = ", ".join(STATUS_RU)
        raise JournalFilterError("status", f"состояние «{status}»: одно из {choices}")
    operator = (query.get("operator") or "").strip() or None
    if operator is not None and len(operator) > 64:
        raise JournalFilterError("operator", "код оператора длиннее 64 знаков")
    return JournalFilter(
        date_from,
        date_to,
        classification,
        operator,
        status,
        _count(query.get("limit"), "limit", min(DEFAULT_LIMIT, max_limit), 1, max_limit),
        _count(query.get("offset"), "offset", 0, 0, 10**9),
    )


def appeal_status(*, abandoned: bool, answered: bool, kind: str, ended: bool) -> str:
    """The appeal's outcome, first match wins (as `hotline appeals` prints it)."""
    if kind == "written":
        return "written"
    if abandoned:
        return "abandoned"
    if answered:
        return "answered"
    if kind == "message":
        return "message"
    return "self_service" if ended else "in_progress"


def _status_clause(status: str) -> ColumnElement[bool]:
    answered = Appeal.operator_answered_at.is_not(None)
    message = Appeal.kind == "message"
    written = Appeal.kind == "written"
    ended = Appeal.ended_at.is_not(None)
    not_abandoned = and_(Appeal.abandoned.is_(False), not_(written))
    clauses: dict[str, ColumnElement[bool]] = {
        "written": written,
        "abandoned": and_(Appeal.abandoned.is_(True), not_(written)),
        "answered": and_(not_abandoned, answered),
        "message": and_(not_abandoned, not_(answered), message),
        "self_service": and_(not_abandoned, not_(answered), not_(message), ended),
        "in_progress": and_(not_abandoned, not_(answered), not_(message), not_(ended)),
    }
    return clauses[status]


@dataclass(frozen=True, slots=True)
class JournalPage:
    total: int
    rows: list[dict[str, Any]]


class AppealJournal:
    """The journal's query (read only)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], tz: ZoneInfo) -> None:
        self._sessions = sessions
        self._tz = tz

    async def page(self, flt: JournalFilter) -> JournalPage:
        start = datetime.combine(flt.date_from, time(0), tzinfo=self._tz)
        end = datetime.combine(flt.date_to + timedelta(days=1), time(0), tzinfo=self._tz)
        where: list[ColumnElement[bool]] = [Appeal.arrived_at >= start, Appeal.arrived_at < end]
        if flt.classification is not None:
            where.append(Appeal.classification == flt.classification)
        if flt.operator is not None:
            where.append(Operator.code == flt.operator)
        if flt.status is not None:
            where.append(_status_clause(flt.status))
        base = (
            select(Appeal, Operator.code, Customer.account, Customer.name, Customer.address)
            .outerjoin(Operator, Operator.id == Appeal.operator_id)
            .outerjoin(Customer, Customer.id == Appeal.customer_id)
            .where(*where)
        )
        counting = (
            select(func.count(Appeal.id))
            .select_from(Appeal)
            .outerjoin(Operator, Operator.id == Appeal.operator_id)
            .where(*where)
        )
        async with self._sessions() as session:
            total = int(await session.scalar(counting) or 0)
            result = await session.execute(
                base.order_by(Appeal.arrived_at, Appeal.id).limit(flt.limit).offset(flt.offset)
            )
            rows = [self._row(*item) for item in result.all()]
        return JournalPage(total, rows)

    def _row(
        self,
        a: Appeal,
        operator: str | None,
        account: str | None,
        name: str | None,
        address: str | None,
    ) -> dict[str, Any]:
        status = appeal_status(
            abandoned=a.abandoned,
            answered=a.operator_answered_at is not None,
            kind=a.kind,
            ended=a.ended_at is not None,
        )
        return {
            "id": a.id,
            "number": a.number,
            "arrived_at": a.arrived_at.astimezone(self._tz).isoformat(timespec="seconds"),
            "ended_at": a.ended_at.astimezone(self._tz).isoformat(timespec="seconds")
            if a.ended_at
            else None,
            "kind": a.kind,
            "caller": a.caller_number,
            "account": account,
            "name": name,
            "address": address,
            "status": status,
            "status_ru": STATUS_RU[status],
            "operator": operator,
            "classification": a.classification,
            "classification_ru": CLASSIFICATION_RU.get(a.classification or "", ""),
            "summary": a.summary,
            "wait_s": a.wait_s,
            "talk_s": a.talk_s,
            "lookup_s": a.lookup_s,
            "info_s": a.info_s,
            "wrapup_s": a.wrapup_s,
            "ended_by": a.ended_by,
            "ended_by_ru": ENDED_BY_RU.get(a.ended_by or "", ""),
            "out_of_hours": a.out_of_hours,
            "due_date": a.due_date.isoformat() if a.due_date else None,
            "ivr_path": a.ivr_path,
        }

"""Hotline tables: appeals (every call, with its journal number and timings), the journal's
counter, outages read to callers, and appointments booked by operators."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
)
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.storage.base import Base, UtcDateTime, utcnow


class Classification(StrEnum):
    """The standard's classes (ch. 3 § 3, journal column 6)."""

    QUALITY = "КЭ"  # качество электроснабжения
    CONNECTION = "С"  # технологическое присоединение к распределительным сетям
    CONNECTION_UNEG = "Се"  # технологическое присоединение к объектам ЕНЭС
    SERVICE = "Об"  # качество обслуживания потребителей
    LIMITATION = "Ог"  # ограничения режима потребления
    TARIFFS = "Т"  # тарифы
    OTHER = "Пр"  # прочее
    HOUSEHOLD = "Э"  # энергоснабжение бытовых потребителей


CLASSIFICATION_RU = {
    "КЭ": "качество электроснабжения",
    "С": "технологическое присоединение к распределительным сетям",
    "Се": "технологическое присоединение к объектам ЕНЭС",
    "Об": "качество обслуживания потребителей",
    "Ог": "ограничения режима потребления",
    "Т": "тарифы",
    "Пр": "прочее",
    "Э": "энергоснабжение бытовых потребителей",
}


class AppealSource(StrEnum):
    """How the call reached the utility (appeal.source)."""

    # a caller rang the hotline (the hotline flow drives it and its recovery watches it)
    HOTLINE = "hotline"
    # a campaign call the customer asked to be put through to an operator (autoinformer)
    TRANSFER = "transfer"
    # an operator dialed the customer from their phone (AGI flow operator-phone)
    OPERATOR_PHONE = "operator-phone"
    # the desk rang the operator's phone, then the customer (OperatorService.call_back)
    CALLBACK = "callback"
    # written appeals registered by hand (`appeal add`): e-mail, post, in person
    EMAIL = "email"
    POST = "post"
    VISIT = "visit"


# appeals that are no telephone call: the telephone norms leave them out, the written
# norms (1 day to register and classify, 10 to answer) measure them
WRITTEN_SOURCES = (AppealSource.EMAIL.value, AppealSource.POST.value, AppealSource.VISIT.value)


class EndedBy(StrEnum):
    """Who ended the call (appeal.ended_by)."""

    CALLER = "caller"
    OPERATOR = "operator"
    # the service (or the dialplan's fallback) said goodbye and hung up
    SYSTEM = "system"
    # nobody saw the call end: it ended while the AMI link was down, or after the service
    # stopped watching it; ended_at is when that was found out, not when the caller left
    LOST = "lost"


class Appeal(Base):
    """One telephone appeal (обращение): a hotline call from arrival to the end of post-call work.

    Registration number: "<year>-<sequence>-<applicant letters>", e.g. "2026-000123-ФЛ"
    (standard ch. 3 § 3, column 1: a sequence number and a letter designation; ФЛ for a
    private person, the hotline's default; the sequence restarts every year like a journal).
    """

    __tablename__ = "hotline_appeals"
    # the hotline's recovery reads its own open appeals at every start
    __table_args__ = (Index("ix_hotline_appeals_source_open", "source", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    applicant: Mapped[str] = mapped_column(String(4), default="ФЛ")
    # "call"; "message" when the caller left a recorded message (out of hours, queue timeout)
    kind: Mapped[str] = mapped_column(String(16), default="call")
    # AppealSource: only "hotline" appeals are the hotline flow's and its recovery's to close
    source: Mapped[str] = mapped_column(String(16), default=AppealSource.HOTLINE.value)
    # what the call was about before an operator took it, shown to them (screen-pop): for a
    # transfer the campaign, scenario, parts played, keys pressed and the values read out
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    channel: Mapped[str] = mapped_column(String(128), default="")
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    caller_number: Mapped[str] = mapped_column(String(32), default="")
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    out_of_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    # timings (UTC)
    arrived_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    queue_entered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    queue_left_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    queue_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    operator_answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    operator_ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lookup_done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    info_done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    wrapup_done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    wrapup_timed_out: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)
    # measured against the norms, seconds (norms.py)
    wait_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    talk_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    lookup_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    info_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    wrapup_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    # "main:1=outages main:2=debt:found main:0=operator"
    ivr_path: Mapped[str] = mapped_column(Text, default="")
    operator_id: Mapped[int | None] = mapped_column(
        ForeignKey("operators.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # absolute paths on the Asterisk host (MixMonitor's MIXMONITOR_FILENAME)
    recording_path: Mapped[str] = mapped_column(Text, default="")
    message_path: Mapped[str] = mapped_column(Text, default="")
    # a recorded message is registered for this (working) day
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    classification: Mapped[str | None] = mapped_column(String(4), nullable=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    # the call's state transitions [[state, iso time], ...] and what was played, for audits
    timeline: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # the journal's form (standard ch. 3 § 3): the applicant as written on a letter (column
    # 3, 4; a call's come from the customer base), a written appeal's full text, when it
    # was classified, to whom and when it went for execution (7, 9), when the applicant was
    # answered and how (8), when the answer came back from the branch (10), a note (11)
    applicant_name: Mapped[str] = mapped_column(Text, default="")
    applicant_address: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    classified_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    assigned_to: Mapped[str] = mapped_column(Text, default="")
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reply_text: Mapped[str] = mapped_column(Text, default="")
    response_received_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class JournalCounter(Base):
    """The journal's last sequence number per year (one row per year)."""

    __tablename__ = "hotline_journal"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class Outage(Base):
    """A planned or emergency outage, as the daily operational information lists it."""

    __tablename__ = "hotline_outages"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # planned | emergency
    # affected streets/houses, ";"-separated (outages.parse_affected)
    addresses: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Appointment(Base):
    """A prior appointment for in-person service booked by an operator during a call."""

    __tablename__ = "hotline_appointments"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int | None] = mapped_column(
        ForeignKey("hotline_appeals.id", ondelete="SET NULL"), nullable=True, index=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), nullable=True
    )
    operator_id: Mapped[int | None] = mapped_column(
        ForeignKey("operators.id", ondelete="SET NULL"), nullable=True
    )
    day: Mapped[date] = mapped_column(Date)
    at: Mapped[time] = mapped_column(Time)
    office: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

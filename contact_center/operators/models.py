"""Operators: who takes queued calls, through which phone (queue member interface), and
what they are doing now (the state decides whether Asterisk may ring them)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.storage.base import Base, UtcDateTime, utcnow


class OperatorState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    PAUSED = "paused"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


# states in which the queue member must be paused (never rung)
NOT_RINGABLE = frozenset({OperatorState.PAUSED, OperatorState.ON_CALL, OperatorState.WRAP_UP})


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    # what the operator types or the desk sends: "101", or a queue member name
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text, default="")
    # the queue member interface Asterisk rings: "PJSIP/op101", "Local/1@sim-operators/n"
    interface: Mapped[str] = mapped_column(String(128), unique=True)
    # static: configured in queues.conf (can be paused, not removed); dynamic: QueueAdd
    static_member: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default=OperatorState.LOGGED_OUT.value)
    state_since: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    pause_reason: Mapped[str] = mapped_column(Text, default="")
    # asked to pause during a call or post-call work: paused instead of available afterwards
    pause_after_call: Mapped[bool] = mapped_column(Boolean, default=False)
    # the appeal (hotline_appeals.id) of the call being handled or wrapped up; not a foreign
    # key: calls transferred from other packages have no appeal
    current_appeal_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    wrapup_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    calls_taken: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

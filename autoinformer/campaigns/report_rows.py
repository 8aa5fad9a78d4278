"""A campaign report's rows: one per contact with its first letter beside its phone result,
then the letters that have no phone contact of their own."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from autoinformer.models import Attempt, CampaignContact, Letter
from autoinformer.reports import DONE_RU, WAIT_RU, CallLine, ReportRow
from autoinformer.scheduling import STATUS_RU

# a call's own result where no contact status names it
OUTCOME_RU = {
    "answered": "ответил",
    "busy": "занято",
    "no_answer": "не ответил",
    "congestion": "сеть занята",
    "failed": "ошибка вызова",
}


def call_line(a: Attempt, tz: ZoneInfo) -> CallLine:
    result = a.status or a.outcome or ""
    return CallLine(
        at=f"{a.started_at.astimezone(tz):%d.%m.%Y %H:%M:%S}",
        phone=a.phone,
        result=result,
        result_label=STATUS_RU.get(result) or OUTCOME_RU.get(result, result),
        seconds=round(a.duration, 1),
        keys=a.digits,
    )


def _report_row(
    c: CampaignContact,
    tz: ZoneInfo,
    letter: Letter | None = None,
    calls: Sequence[Attempt] = (),
) -> ReportRow:
    note = ""
    if c.state == "waiting" and c.wait_reason:
        note = WAIT_RU.get(c.wait_reason, c.wait_reason)
        if c.next_attempt_at is not None:
            note += f" до {c.next_attempt_at.astimezone(tz):%d.%m %H:%M}"
    elif c.state == "done" and c.wait_reason in DONE_RU:
        note = DONE_RU[c.wait_reason]
    values = json.loads(c.values or "{}")
    return ReportRow(
        phone=c.phone,
        account=c.account,
        name=c.name,
        address=str(values.get("address", "")),
        debt=debt_as_read(values.get("debt")),
        status=c.status if c.state == "done" and c.status else c.state,
        notified=c.notified,
        attempts=c.attempts,
        answered=c.answered,
        callback=c.callback,
        note=note,
        follow_up=c.follow_up or "",
        calls=tuple(call_line(a, tz) for a in calls),
        **(_email_columns(letter, tz) if letter is not None else {}),
    )


def debt_as_read(value: object) -> str:
    """The stored debt ("1500.50") as the message reads it out and an office writes it."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    if value in (None, ""):
        return ""
    return f"{amount:,.2f}".replace(",", "\u00a0").replace(".", ",") + "\u00a0₽"


def _email_columns(letter: Letter, tz: ZoneInfo) -> dict[str, Any]:
    status = letter.status if letter.state == "done" and letter.status else letter.state
    note = ""
    if letter.state == "queued" and letter.next_attempt_at is not None:
        note = f"повтор после {letter.next_attempt_at.astimezone(tz):%d.%m %H:%M}"
    if letter.unsubscribed_at is not None:
        note = (note + "; " if note else "") + "отписался по ссылке из письма"
    return {
        "email": letter.address,
        "email_status": status,
        "email_attempts": letter.attempts,
        "email_deferrals": letter.deferrals,
        "email_code": letter.code,
        "email_reply": letter.reply,
        "email_last_deferral": letter.last_deferral,
        "email_note": note,
    }


def report_rows(
    contacts: Sequence[CampaignContact],
    letters: Sequence[Letter],
    tz: ZoneInfo,
    attempts: Sequence[Attempt] = (),
) -> list[ReportRow]:
    """One row per contact with its first letter beside its phone result; further letters of
    a contact and letters of e-mail-only recipients are rows of their own, in list order."""
    by_contact: dict[int, list[Letter]] = {}
    alone: list[Letter] = []
    for letter in letters:
        if letter.contact_id is None:
            alone.append(letter)
        else:
            by_contact.setdefault(letter.contact_id, []).append(letter)
    calls: dict[int, list[Attempt]] = {}
    for a in attempts:
        calls.setdefault(a.contact_id, []).append(a)
    keyed: list[tuple[int, int, ReportRow]] = []
    for c in contacts:
        own = by_contact.pop(c.id, [])
        row = _report_row(c, tz, own[0] if own else None, calls.get(c.id, ()))
        keyed.append((c.line, 0, row))
        alone.extend(own[1:])
    for rest in by_contact.values():  # a contact deleted under its letters (not expected)
        alone.extend(rest)
    for letter in alone:
        row = ReportRow(
            phone="",
            account=letter.account,
            status="",
            notified=False,
            attempts=0,
            answered=0,
            **_email_columns(letter, tz),
        )
        keyed.append((letter.line, 1, row))
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [row for _line, _order, row in keyed]

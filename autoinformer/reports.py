"""Campaign reports: one row per contact and totals computed from those rows (pure), so the
totals always agree with the rows; CSV, JSON and a text table for the terminal.

A campaign with e-mail has the letter's columns beside the phone's (a contact's first letter
on its row; a recipient with only an address has a row with the phone columns empty) and
e-mail totals; a phone-only campaign's CSV keeps its phone columns alone."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from autoinformer.scheduling import STATUS_RU

CAMPAIGN_RU = {
    "created": "создана",
    "running": "идёт",
    "paused": "приостановлена",
    "finished": "завершена",
    "cancelled": "отменена",
}
ROW_FIELDS = ("phone", "account", "status", "notified", "attempts", "answered", "callback", "note")
EMAIL_FIELDS = (
    "email",
    "email_status",
    "email_attempts",
    "email_deferrals",
    "email_code",
    "email_reply",
    "email_last_deferral",
    "email_note",
)
EMAIL_STATUS_RU = {
    "queued": "в очереди",
    "sending": "отправляется",
    "accepted": "принято сервером",
    "deferred": "отложено сервером",
    "failed": "не доставлено",
    "unknown": "доставка не подтверждена",
    "opted_out": "отписался",
    "cancelled": "отменено",
    "not_sent": "не отправлено до конца кампании",
    "not_reached_in_time": "не отправлено в срок",
}
WAIT_RU = {
    "window": "вне окна звонков",
    "retry": "ждёт повтора",
    "cap_day": "лимит звонков за сутки",
    "cap_week": "лимит звонков за неделю",
    "cap_month": "лимит звонков за месяц",
    "line_busy": "номер занят звонком другой кампании",
    "orphan": "проверяется прежний звонок",
}


@dataclass(frozen=True, slots=True)
class ReportRow:
    phone: str
    account: str
    status: str
    notified: bool
    attempts: int
    answered: int
    callback: bool = False
    # why a contact is still waiting (the frequency cap, the window...) or what went wrong
    note: str = ""
    # the e-mail side ("" when the recipient has no letter); a recipient with only an
    # address has phone "" and status ""
    email: str = ""
    email_status: str = ""
    email_attempts: int = 0
    email_deferrals: int = 0
    email_code: int | None = None
    # the server's reply: its queue id when accepted, why when failed
    email_reply: str = ""
    email_last_deferral: str = ""
    email_note: str = ""


@dataclass(frozen=True, slots=True)
class Totals:
    contacts: int
    attempts: int
    answered: int
    notified: int
    notified_share: float
    transferred: int
    opted_out: int
    callback: int
    by_status: Mapping[str, int] = field(default_factory=dict)
    # every row (phone contacts and e-mail-only recipients); reached: notified by phone or
    # a letter the server accepted
    recipients: int = 0
    reached: int = 0
    letters: int = 0
    email_accepted: int = 0
    email_deferred: int = 0
    email_failed: int = 0
    email_unknown: int = 0
    email_opted_out: int = 0
    email_pending: int = 0
    email_deferrals: int = 0
    email_by_status: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Report:
    campaign: Mapping[str, Any]
    rows: Sequence[ReportRow]
    totals: Totals


def totals_of(rows: Sequence[ReportRow]) -> Totals:
    phones = [r for r in rows if r.phone]
    mails = [r for r in rows if r.email]
    statuses = Counter(r.status for r in phones)
    notified = sum(1 for r in phones if r.notified)
    mail_statuses = Counter(r.email_status for r in mails)
    return Totals(
        contacts=len(phones),
        attempts=sum(r.attempts for r in phones),
        answered=sum(r.answered for r in phones),
        notified=notified,
        notified_share=round(notified / len(phones), 4) if phones else 0.0,
        transferred=statuses.get("transferred", 0),
        opted_out=statuses.get("opted_out", 0),
        callback=sum(1 for r in phones if r.callback),
        by_status=dict(sorted(statuses.items())),
        recipients=len(rows),
        reached=sum(1 for r in rows if r.notified or r.email_status == "accepted"),
        letters=len(mails),
        email_accepted=mail_statuses.get("accepted", 0),
        email_deferred=mail_statuses.get("deferred", 0),
        email_failed=mail_statuses.get("failed", 0),
        email_unknown=mail_statuses.get("unknown", 0),
        email_opted_out=mail_statuses.get("opted_out", 0),
        email_pending=mail_statuses.get("queued", 0) + mail_statuses.get("sending", 0),
        email_deferrals=sum(r.email_deferrals for r in mails),
        email_by_status=dict(sorted(mail_statuses.items())),
    )


def has_email(report: Report) -> bool:
    return report.campaign.get("channel", "phone") != "phone" or any(r.email for r in report.rows)


def build_report(campaign: Mapping[str, Any], rows: Sequence[ReportRow]) -> Report:
    return Report(campaign=dict(campaign), rows=list(rows), totals=totals_of(rows))


def to_json(report: Report) -> str:
    data = {
        "campaign": report.campaign,
        "contacts": [asdict(r) for r in report.rows],
        "totals": asdict(report.totals),
    }
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


# a text cell starting with one of these is run as a formula by Excel and LibreOffice
# (DESIGN.md, "Russian office spreadsheets"): =HYPERLINK(...) in an account or a server reply
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """`value` safe for a spreadsheet: text that would start a formula gets a leading "'"
    (shown as text, the "'" itself hidden). Numbers the report computes stay numbers, a
    negative one too: a spreadsheet reads "-3" as minus three and runs nothing. Phones are
    digits without '+' (E.164 digits, as dialled), so they never need the prefix."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(report: Report) -> str:
    """Rows, then a blank line and the totals as `total_<name>,<value>` lines (with e-mail:
    the letter's columns after the phone's, `email_status_<status>` lines too), CRLF line
    ends. Every cell goes through :func:`spreadsheet_cell`."""
    mail = has_email(report)
    out = io.StringIO()
    # CRLF (RFC 4180, what Excel writes) also makes the writer quote a cell holding a bare
    # CR: unquoted, a spreadsheet would start a new row there, with the rest of the cell,
    # formula and all, as its first cell
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ROW_FIELDS + EMAIL_FIELDS if mail else ROW_FIELDS)
    for r in report.rows:
        cells: list[object] = [
            r.phone,
            r.account,
            r.status,
            ("true" if r.notified else "false") if r.phone else "",
            r.attempts,
            r.answered,
            "true" if r.callback else "false",
            r.note,
        ]
        if mail:
            cells += [
                r.email,
                r.email_status,
                r.email_attempts,
                r.email_deferrals,
                "" if r.email_code is None else r.email_code,
                r.email_reply,
                r.email_last_deferral,
                r.email_note,
            ]
        writer.writerow([spreadsheet_cell(cell) for cell in cells])
    writer.writerow([])
    t = report.totals
    names = [
        "contacts",
        "attempts",
        "answered",
        "notified",
        "notified_share",
        "transferred",
        "opted_out",
        "callback",
    ]
    if mail:
        names += [
            "recipients",
            "reached",
            "letters",
            "email_accepted",
            "email_deferred",
            "email_failed",
            "email_unknown",
            "email_opted_out",
            "email_pending",
            "email_deferrals",
        ]
    for name in names:
        writer.writerow([f"total_{name}", getattr(t, name)])
    for status, count in t.by_status.items():
        writer.writerow([f"status_{status}", count])
    if mail:
        for status, count in t.email_by_status.items():
            writer.writerow([f"email_status_{status}", count])
    return out.getvalue()


def to_text(report: Report) -> str:
    """A table for the terminal (Russian), phones as they are: the supervisor's report."""
    c = report.campaign
    mail = has_email(report)
    phone = c.get("channel", "phone") != "email"
    lines = [
        f"Кампания {c.get('id')} «{c.get('name')}» ({c.get('kind')}, сценарий "
        f"{c.get('scenario')}): {CAMPAIGN_RU.get(str(c.get('status')), c.get('status'))}",
    ]
    if c.get("email_paused"):
        lines.append(f"  Рассылка писем приостановлена: {c.get('email_paused')}")
    head = f"  {'телефон':<13} {'счёт':<9} {'итог':<24} {'оповещён':<9} {'попыток':>7}"
    if not phone:
        head = f"  {'счёт':<9}"
    if mail:
        head += f"  {'e-mail':<28} {'письмо':<24}"
    lines.append(head.rstrip())
    for r in report.rows:
        notes = [n for n in (r.note, r.email_note) if n]
        if r.email_status in ("failed", "deferred") and r.email_reply:
            notes.append(f"ответ сервера: {_reply(r.email_code, r.email_reply)}")
        elif r.email_deferrals:
            notes.append(f"откладывалось {r.email_deferrals} раз: {r.email_last_deferral}")
        extra = f"  ({'; '.join(notes)})" if notes else ""
        if phone and r.phone:
            status = STATUS_RU.get(r.status, r.status)
            line = (
                f"  {r.phone:<13} {r.account:<9} {status:<24} "
                f"{'да' if r.notified else 'нет':<9} {r.attempts:>7}"
            )
        elif phone:
            line = f"  {'—':<13} {r.account:<9} {'':<24} {'':<9} {'':>7}"
        else:
            line = f"  {r.account:<9}"
        if mail:
            mail_status = EMAIL_STATUS_RU.get(r.email_status, r.email_status)
            line += f"  {r.email or '—':<28} {mail_status:<24}"
        lines.append(line.rstrip() + extra)
    t = report.totals
    if phone:
        label = "Итого звонки" if mail else "Итого"
        lines.append(
            f"  {label}: абонентов {t.contacts}, попыток {t.attempts}, ответов "
            f"{t.answered}, оповещено {t.notified} ({t.notified_share:.0%}), соединено с "
            f"оператором {t.transferred}, отказались {t.opted_out}, ждут звонка оператора "
            f"{t.callback}."
        )
    if mail:
        lines.append(
            f"  Итого письма: {t.letters}, принято сервером {t.email_accepted}, отложено "
            f"{t.email_deferred}, не доставлено {t.email_failed}, доставка не подтверждена "
            f"{t.email_unknown}, отписались {t.email_opted_out}, ещё в очереди "
            f"{t.email_pending}; откладываний всего {t.email_deferrals}."
        )
        lines.append(f"  Получателей {t.recipients}, оповещено хотя бы одним путём {t.reached}.")
    return "\n".join(lines)


def _reply(code: int | None, reply: str) -> str:
    return f"{code} {reply}" if code is not None else reply

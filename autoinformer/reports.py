"""Campaign reports: one row per contact and totals computed from those rows (pure), so the
totals always agree with the rows; CSV and XLSX for a Russian office
(contact_center.spreadsheets), JSON, and a text table for the terminal.

A campaign with e-mail has the letter's columns beside the phone's (a contact's first letter
on its row; a recipient with only an address has a row with the phone columns empty) and
e-mail totals; a phone-only campaign's table keeps its phone columns alone."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from autoinformer.exceptions import ReportFormatError
from autoinformer.scenarios import KIND_RU
from autoinformer.scheduling import STATUS_RU
from contact_center.spreadsheets import (
    FORMATS,
    Column,
    ReportFile,
    Share,
    Sheet,
    render_report,
    write_csv,
    write_xlsx,
)

# FORMULA_START and spreadsheet_cell live with the writers now; still importable from here
from contact_center.spreadsheets import FORMULA_START as FORMULA_START
from contact_center.spreadsheets import spreadsheet_cell as spreadsheet_cell

CAMPAIGN_RU = {
    "created": "создана",
    "running": "идёт",
    "paused": "приостановлена",
    "finished": "завершена",
    "cancelled": "отменена",
}
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
    "next_phone": "ждёт звонка на следующий номер",
}
# why contacts wait, as the supervisor reads it ("due": nothing holds them, their turn comes)
WAITING_RU = {**WAIT_RU, "due": "на очереди"}

# why a contact was closed without its call (kept in its wait_reason once done)
DONE_RU = {
    "outage_cancelled": "отключение снято из реестра",
}


@dataclass(frozen=True, slots=True)
class CallLine:
    """One call of a contact, as the report lists it: local time, the number dialled, the
    result (code and Russian word), its length and the keys pressed."""

    at: str
    phone: str
    result: str
    result_label: str
    seconds: float
    keys: str = ""

    def text(self) -> str:
        keys = f", клавиши {self.keys}" if self.keys else ""
        return f"{self.at} +{self.phone} — {self.result_label}{keys}"


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
    # who the customer is, and the debt as the message reads it out ("1 500,50 ₽")
    name: str = ""
    address: str = ""
    debt: str = ""
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
    # not reached by phone: the other way it was followed up ("email", "callback", "")
    follow_up: str = ""
    # every call of the contact, first to last (attempts that were not attempts left out)
    calls: tuple[CallLine, ...] = ()


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


# the other way a customer the phone did not reach was followed up
FOLLOW_UP_RU = {"email": "письмо", "callback": "звонок оператора"}

# `campaign report --status` and the web's `?status=`: a supervisor's question -> which rows
STATUS_FILTERS = {
    "notified": "оповещённые",
    "not-notified": "не оповещённые (все, кто не дослушал и не подтвердил; кроме оплативших)",
    "not-reached": "не дозвонились (ни одного ответа)",
    "waiting": "ещё ждут звонка",
}


def filter_rows(rows: Sequence[ReportRow], status: str | None) -> list[ReportRow]:
    """Rows answering `status`: one of STATUS_FILTERS or a call result (busy, no_answer...,
    written with '-' or '_'); raises ReportFormatError naming the choices."""
    if not status:
        return list(rows)
    key = status.strip().lower().replace("_", "-")
    phones = [r for r in rows if r.phone]
    if key == "notified":
        return [r for r in phones if r.notified]
    # a customer who paid before the call needs no notice: nobody's question leaves them out
    owed = [r for r in phones if r.status != "paid"]
    if key == "not-notified":
        return [r for r in owed if not r.notified]
    if key == "not-reached":
        return [r for r in owed if not r.notified and r.answered == 0]
    if key == "waiting":
        return [r for r in phones if r.status in ("waiting", "calling")]
    result = key.replace("-", "_")
    if result in STATUS_RU:
        return [r for r in phones if r.status == result]
    choices = ", ".join([*STATUS_FILTERS, *(s.replace("_", "-") for s in STATUS_RU)])
    raise ReportFormatError(f"--status: нет такого отбора «{status}»; есть: {choices}")


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
        # codes stay codes; the words a user reads are beside them
        "contacts": [
            {
                **asdict(r),
                "status_label": STATUS_RU.get(r.status, r.status),
                "email_status_label": EMAIL_STATUS_RU.get(r.email_status, r.email_status),
                "follow_up_label": FOLLOW_UP_RU.get(r.follow_up, r.follow_up),
            }
            for r in report.rows
        ],
        "totals": asdict(report.totals),
    }
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


CALL_COLUMNS = (
    Column("Телефон", "phone"),
    Column("Лицевой счёт"),
    Column("ФИО"),
    Column("Адрес"),
    Column("Долг"),
    Column("Итог звонка"),
    Column("Оповещён", "bool"),
    Column("Попыток", "int"),
    Column("Ответов", "int"),
    Column("Ждёт звонка оператора", "bool"),
    Column("Примечание"),
    Column("Оповещение другим путём"),
    Column("Звонки (время, номер — итог)"),
)
EMAIL_COLUMNS = (
    Column("E-mail"),
    Column("Итог письма"),
    Column("Попыток отправки", "int"),
    Column("Откладываний", "int"),
    Column("Код ответа сервера", "int"),
    Column("Ответ сервера"),
    Column("Последнее откладывание"),
    Column("Примечание к письму"),
)
TOTALS_COLUMNS = (Column("Показатель"), Column("Значение", "auto"))
ROWS_SHEET, TOTALS_SHEET = "Абоненты", "Итоги"


def table_columns(report: Report) -> tuple[Column, ...]:
    return CALL_COLUMNS + EMAIL_COLUMNS if has_email(report) else CALL_COLUMNS


def table_rows(report: Report) -> list[list[object]]:
    """The rows of the CSV and of the sheet «Абоненты»: the JSON's contacts in the same
    order, statuses in Russian, "да"/"нет" for flags, empty where the JSON has "" (a
    recipient with only an address has no call, so no "оповещён: нет" either)."""
    mail = has_email(report)
    out: list[list[object]] = []
    for r in report.rows:
        cells: list[object] = [
            r.phone,
            r.account,
            r.name,
            r.address,
            r.debt,
            STATUS_RU.get(r.status, r.status),
            r.notified if r.phone else None,
            r.attempts,
            r.answered,
            r.callback if r.phone else None,
            r.note,
            FOLLOW_UP_RU.get(r.follow_up, r.follow_up),
            "; ".join(c.text() for c in r.calls),
        ]
        if mail:
            cells += [
                r.email,
                EMAIL_STATUS_RU.get(r.email_status, r.email_status),
                r.email_attempts,
                r.email_deferrals,
                r.email_code,
                r.email_reply,
                r.email_last_deferral,
                r.email_note,
            ]
        out.append(cells)
    return out


def totals_rows(report: Report) -> list[list[object]]:
    """The sheet «Итоги»: the campaign, then the totals the JSON has under `totals`."""
    c, t = report.campaign, report.totals
    rows: list[list[object]] = [
        ["Кампания", c.get("id")],
        ["Название", c.get("name")],
        ["Вид", KIND_RU.get(str(c.get("kind")), c.get("kind"))],
        ["Сценарий", c.get("scenario")],
        ["Состояние", CAMPAIGN_RU.get(str(c.get("status")), c.get("status"))],
        ["Начало", _local(c.get("start"), c.get("timezone"))],
        ["Окончание", _local(c.get("end"), c.get("timezone"))],
    ]
    if c.get("channel", "phone") != "email":
        rows += [
            ["Абонентов для звонков", t.contacts],
            ["Попыток", t.attempts],
            ["Ответов", t.answered],
            ["Оповещено", t.notified],
            ["Доля оповещённых", Share(t.notified_share)],
            ["Соединено с оператором", t.transferred],
            ["Отказались", t.opted_out],
            ["Ждут звонка оператора", t.callback],
        ]
        rows += [[f"Итог звонка «{STATUS_RU.get(s, s)}»", n] for s, n in t.by_status.items()]
    if has_email(report):
        rows += [
            ["Получателей", t.recipients],
            ["Оповещено хотя бы одним путём", t.reached],
            ["Писем", t.letters],
            ["Принято сервером", t.email_accepted],
            ["Отложено сервером", t.email_deferred],
            ["Не доставлено", t.email_failed],
            ["Доставка не подтверждена", t.email_unknown],
            ["Отписались", t.email_opted_out],
            ["Ещё в очереди", t.email_pending],
            ["Откладываний всего", t.email_deferrals],
        ]
        rows += [
            [f"Итог письма «{EMAIL_STATUS_RU.get(s, s)}»", n] for s, n in t.email_by_status.items()
        ]
    return [row for row in rows if row[1] is not None]


def _local(iso: object, timezone: object) -> datetime | None:
    """A stored instant as the campaign's wall time (a spreadsheet has no time zones)."""
    if not isinstance(iso, str):
        return None
    value = datetime.fromisoformat(iso)
    if isinstance(timezone, str) and value.tzinfo is not None:
        value = value.astimezone(ZoneInfo(timezone))
    return value.replace(tzinfo=None)


def to_csv(report: Report) -> bytes:
    """The rows for Excel in a Russian locale (contact_center.spreadsheets): the totals are
    not in the CSV, where a spreadsheet would take them for rows; they are in the XLSX sheet
    «Итоги» and the JSON."""
    return write_csv(table_columns(report), table_rows(report))


def to_xlsx(report: Report) -> bytes:
    """Sheets «Абоненты» (the CSV's rows, typed) and «Итоги»."""
    return write_xlsx(
        [
            Sheet(ROWS_SHEET, table_columns(report), table_rows(report)),
            Sheet(
                TOTALS_SHEET,
                (Column("Показатель"), Column("Значение", "auto")),
                totals_rows(report),
            ),
        ]
    )


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ReportFormatError(f"нет отчёта в формате «{fmt}»: есть {', '.join(FORMATS)}")


def render(report: Report, fmt: str) -> ReportFile:
    """The report as a file to download or save: `fmt` is csv, json, xlsx or text."""
    check_format(fmt)
    return render_report(
        f"campaign-{report.campaign.get('id')}-report",
        fmt,
        csv=lambda: to_csv(report),
        xlsx=lambda: to_xlsx(report),
        json=lambda: to_json(report),
        text=lambda: to_text(report),
    )


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

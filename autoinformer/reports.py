"""Campaign reports: one row per contact and totals computed from those rows (pure), so the
totals always agree with the rows; CSV, JSON and a text table for the terminal."""

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


@dataclass(frozen=True, slots=True)
class Report:
    campaign: Mapping[str, Any]
    rows: Sequence[ReportRow]
    totals: Totals


def totals_of(rows: Sequence[ReportRow]) -> Totals:
    statuses = Counter(r.status for r in rows)
    notified = sum(1 for r in rows if r.notified)
    return Totals(
        contacts=len(rows),
        attempts=sum(r.attempts for r in rows),
        answered=sum(r.answered for r in rows),
        notified=notified,
        notified_share=round(notified / len(rows), 4) if rows else 0.0,
        transferred=statuses.get("transferred", 0),
        opted_out=statuses.get("opted_out", 0),
        callback=sum(1 for r in rows if r.callback),
        by_status=dict(sorted(statuses.items())),
    )


def build_report(campaign: Mapping[str, Any], rows: Sequence[ReportRow]) -> Report:
    return Report(campaign=dict(campaign), rows=list(rows), totals=totals_of(rows))


def to_json(report: Report) -> str:
    data = {
        "campaign": report.campaign,
        "contacts": [asdict(r) for r in report.rows],
        "totals": asdict(report.totals),
    }
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


def to_csv(report: Report) -> str:
    """Rows, then a blank line and the totals as `total_<name>,<value>` lines."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ROW_FIELDS)
    for r in report.rows:
        writer.writerow(
            [
                r.phone,
                r.account,
                r.status,
                "true" if r.notified else "false",
                r.attempts,
                r.answered,
                "true" if r.callback else "false",
                r.note,
            ]
        )
    writer.writerow([])
    t = report.totals
    for name in (
        "contacts",
        "attempts",
        "answered",
        "notified",
        "notified_share",
        "transferred",
        "opted_out",
        "callback",
    ):
        writer.writerow([f"total_{name}", getattr(t, name)])
    for status, count in t.by_status.items():
        writer.writerow([f"status_{status}", count])
    return out.getvalue()


def to_text(report: Report) -> str:
    """A table for the terminal (Russian), phones as they are: the supervisor's report."""
    c = report.campaign
    lines = [
        f"Кампания {c.get('id')} «{c.get('name')}» ({c.get('kind')}, сценарий "
        f"{c.get('scenario')}): {CAMPAIGN_RU.get(str(c.get('status')), c.get('status'))}",
        f"  {'телефон':<13} {'счёт':<9} {'итог':<24} {'оповещён':<9} {'попыток':>7}",
    ]
    for r in report.rows:
        status = STATUS_RU.get(r.status, r.status)
        extra = f"  ({r.note})" if r.note else ""
        lines.append(
            f"  {r.phone:<13} {r.account:<9} {status:<24} {'да' if r.notified else 'нет':<9} "
            f"{r.attempts:>7}{extra}"
        )
    t = report.totals
    lines.append(
        f"  Итого: абонентов {t.contacts}, попыток {t.attempts}, ответов {t.answered}, "
        f"оповещено {t.notified} ({t.notified_share:.0%}), соединено с оператором "
        f"{t.transferred}, отказались {t.opted_out}, ждут звонка оператора {t.callback}."
    )
    return "\n".join(lines)

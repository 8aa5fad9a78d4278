"""The hotline report (norms.Report) as a file: text for the terminal, JSON, and CSV/XLSX a
Russian office opens directly (contact_center.spreadsheets). Pure.

The CSV is the rows only, one per day then one per operator over the period; the period's
totals and the norms are in the XLSX sheet «Итоги» and at the top of the JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from contact_center.hotline.exceptions import ReportFormatError
from contact_center.hotline.norms import METRICS, Group, Report
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

METRIC_RU = {
    "wait": "ожидание ответа оператора",
    "lookup": "поиск информации о клиенте",
    "info": "предоставление информации",
    "wrapup": "постобработка",
}
DAY, OPERATOR = "день", "оператор"
DAYS_SHEET, OPERATORS_SHEET, TOTALS_SHEET = "По дням", "По операторам", "Итоги"


def group_columns() -> tuple[Column, ...]:
    columns = [
        Column("Вызовов", "int"),
        Column("В очереди", "int"),
        Column("Ответил оператор", "int"),
        Column("Не дождались", "int"),
    ]
    for m in METRICS:
        name = METRIC_RU[m].capitalize()
        columns += [
            Column(f"{name}: измерений", "int"),
            Column(f"{name}: среднее, с", "decimal", 1),
            Column(f"{name}: максимум, с", "decimal", 1),
            Column(f"{name}: в нормативе", "share"),
        ]
    columns += [
        Column("Не дождались: ждали в среднем, с", "decimal", 1),
        Column("Не дождались: ждали до, с", "decimal", 1),
    ]
    return tuple(columns)


def group_cells(g: Group) -> list[object]:
    cells: list[object] = [g.calls, g.queued, g.answered, g.abandoned]
    for m in METRICS:
        s = g.metrics[m]
        cells += [s.count, s.avg_s, s.max_s, s.within_norm_share]
    return [*cells, g.abandoned_wait.avg_s, g.abandoned_wait.max_s]


def to_csv(report: Report) -> bytes:
    """One row a day, then one an operator (over the whole period); no totals row."""
    columns = (Column("Раздел"), Column("Дата", "date"), Column("Оператор"), *group_columns())
    rows: list[Sequence[object]] = [
        [DAY, d, None, *group_cells(g)] for d, g in report.by_day.items()
    ]
    rows += [[OPERATOR, None, o, *group_cells(g)] for o, g in report.by_operator.items()]
    return write_csv(columns, rows)


def to_xlsx(report: Report) -> bytes:
    """Sheets «По дням», «По операторам» (the JSON's by_day and by_operator) and «Итоги»."""
    totals: list[Sequence[object]] = [["Период с", report.date_from], ["по", report.date_to]]
    totals += [
        [
            column.title,
            Share(value) if column.kind == "share" and isinstance(value, float) else value,
        ]
        for column, value in zip(group_columns(), group_cells(report.total), strict=True)
    ]
    totals += [[f"Норматив: {METRIC_RU[m]}, с", report.norms.limit(m)] for m in METRICS]
    totals_columns = (Column("Показатель"), Column("Значение", "auto"))
    return write_xlsx(
        [
            Sheet(
                DAYS_SHEET,
                (Column("Дата", "date"), *group_columns()),
                [[d, *group_cells(g)] for d, g in report.by_day.items()],
            ),
            Sheet(
                OPERATORS_SHEET,
                (Column("Оператор"), *group_columns()),
                [[o, *group_cells(g)] for o, g in report.by_operator.items()],
            ),
            Sheet(TOTALS_SHEET, totals_columns, totals),
        ]
    )


def to_json(report: Report) -> str:
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2)


def to_text(report: Report) -> str:
    t = report.total
    lines = [
        f"Горячая линия {report.date_from} — {report.date_to}",
        f"Вызовов {t.calls}, в очереди {t.queued}, ответил оператор {t.answered}, "
        f"не дождались {t.abandoned} (ждали в среднем {_fmt(t.abandoned_wait.avg_s)}, "
        f"до {_fmt(t.abandoned_wait.max_s)})",
    ]
    for m in METRICS:
        s = t.metrics[m]
        lines.append(
            f"  {METRIC_RU[m]:<28} норматив {report.norms.limit(m):g} с: среднее {_fmt(s.avg_s)}, "
            f"максимум {_fmt(s.max_s)}, в нормативе {_share(s.within_norm_share)} (n={s.count})"
        )
    groups_by = (("По дням", report.by_day), ("По операторам", report.by_operator))
    for title, groups in groups_by:
        if not groups:
            continue
        lines.append(title + ":")
        for key, g in groups.items():
            w = g.metrics["wait"]
            lines.append(
                f"  {key}: вызовов {g.calls}, ответ {g.answered}, не дождались {g.abandoned}; "
                f"ожидание ср. {_fmt(w.avg_s)} макс. {_fmt(w.max_s)} "
                f"в нормативе {_share(w.within_norm_share)}"
            )
    return "\n".join(lines)


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ReportFormatError(f"нет отчёта в формате «{fmt}»: есть {', '.join(FORMATS)}")


def render(report: Report, fmt: str) -> ReportFile:
    """The report as a file to download or save: `fmt` is csv, json, xlsx or text."""
    check_format(fmt)
    period = f"{report.date_from.isoformat()}_{report.date_to.isoformat()}"
    return render_report(
        f"hotline-{period}",
        fmt,
        csv=lambda: to_csv(report),
        xlsx=lambda: to_xlsx(report),
        json=lambda: to_json(report),
        text=lambda: to_text(report),
    )


def _fmt(value: float | None, suffix: str = " с") -> str:
    return "—" if value is None else f"{value:g}{suffix}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"

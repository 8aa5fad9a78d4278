"""`contact-center report hotline --from DATE --to DATE [--format text|csv|json]`."""

from __future__ import annotations

import csv
import json
import sys

import click

from contact_center.cli.common import CliContext, fail, pass_cli, run
from contact_center.cli.hotline import open_store, parse_day
from contact_center.hotline.norms import CSV_COLUMNS, METRICS, Report, csv_rows

METRIC_RU = {
    "wait": "ожидание ответа оператора",
    "lookup": "поиск информации о клиенте",
    "info": "предоставление информации",
    "wrapup": "постобработка",
}


@click.group("report")
def group() -> None:
    """Отчёты."""


@group.command("hotline")
@click.option("--from", "date_from", help="С даты ГГГГ-ММ-ДД (по умолчанию сегодня).")
@click.option("--to", "date_to", help="По дату включительно (по умолчанию сегодня).")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text", show_default=True
)
@pass_cli
def hotline(cli: CliContext, date_from: str | None, date_to: str | None, fmt: str) -> None:
    """Горячая линия по нормативам стандарта: по дням и по операторам."""
    start, end = parse_day(date_from, cli.settings), parse_day(date_to, cli.settings)
    if end < start:
        fail("дата --to раньше --from")

    async def go() -> Report:
        async with open_store(cli) as store:
            return await store.appeals.report(start, end)

    report = run(go())
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv_rows(report))
    else:
        _text(report)


def _fmt(value: float | None, suffix: str = " с") -> str:
    return "—" if value is None else f"{value:g}{suffix}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _text(report: Report) -> None:
    t = report.total
    click.echo(f"Горячая линия {report.date_from} — {report.date_to}")
    click.echo(
        f"Вызовов {t.calls}, в очереди {t.queued}, ответил оператор {t.answered}, "
        f"не дождались {t.abandoned} (ждали в среднем {_fmt(t.abandoned_wait.avg_s)}, "
        f"до {_fmt(t.abandoned_wait.max_s)})"
    )
    for m in METRICS:
        s = t.metrics[m]
        click.echo(
            f"  {METRIC_RU[m]:<28} норматив {report.norms.limit(m):g} с: среднее {_fmt(s.avg_s)}, "
            f"максимум {_fmt(s.max_s)}, в нормативе {_share(s.within_norm_share)} (n={s.count})"
        )
    for title, groups in (("По дням", report.by_day), ("По операторам", report.by_operator)):
        if not groups:
            continue
        click.echo(title + ":")
        for key, g in groups.items():
            w = g.metrics["wait"]
            click.echo(
                f"  {key}: вызовов {g.calls}, ответ {g.answered}, не дождались {g.abandoned}; "
                f"ожидание ср. {_fmt(w.avg_s)} макс. {_fmt(w.max_s)} "
                f"в нормативе {_share(w.within_norm_share)}"
            )

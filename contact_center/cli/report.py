"""`contact-center report hotline --from DATE --to DATE [--format text|csv|json|xlsx]
[--output FILE]`; `report journal` (the appeals journal in the standard's form) and
`report written` (written appeals against their norms)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from contact_center.cli.appeal import open_written
from contact_center.cli.common import (
    CliContext,
    fail,
    pass_cli,
    refuse_binary_on_terminal,
    run,
    write_report,
)
from contact_center.cli.hotline import open_store, parse_day
from contact_center.hotline.norms import Report
from contact_center.hotline.report_file import render
from contact_center.hotline.standard_journal import MAX_DAYS, StandardJournal
from contact_center.hotline.written import WrittenReport, report_data, report_lines
from contact_center.spreadsheets import FORMATS, ReportFile


@click.group("report")
def group() -> None:
    """Отчёты."""


@group.command("hotline")
@click.option("--from", "date_from", help="С даты ГГГГ-ММ-ДД (по умолчанию сегодня).")
@click.option("--to", "date_to", help="По дату включительно (по умолчанию сегодня).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default="text",
    show_default=True,
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_cli
def hotline(
    cli: CliContext, date_from: str | None, date_to: str | None, fmt: str, output: Path | None
) -> None:
    """Горячая линия по нормативам стандарта: по дням и по операторам.

    CSV открывается в Excel как есть (UTF-8 с BOM, «;», десятичная запятая): строки по
    дням и по операторам; итоги за период — на листе «Итоги» в XLSX и в JSON."""
    start, end = parse_day(date_from, cli.settings), parse_day(date_to, cli.settings)
    if end < start:
        fail("дата --to раньше --from")
    refuse_binary_on_terminal(fmt, output)

    async def go() -> Report:
        async with open_store(cli) as store:
            return await store.appeals.report(start, end)

    write_report(render(run(go()), fmt), output)


@group.command("journal")
@click.option("--from", "date_from", help="С даты ГГГГ-ММ-ДД (по умолчанию сегодня).")
@click.option("--to", "date_to", help="По дату включительно (по умолчанию сегодня).")
@click.option(
    "--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True
)
@click.option(
    "--out", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), default=None
)
@pass_cli
def journal(
    cli: CliContext, date_from: str | None, date_to: str | None, fmt: str, output: Path | None
) -> None:
    """Журнал жалоб и обращений по форме стандарта (гл. 3 § 3): 11 столбцов в их порядке,
    строка на обращение — звонки и письменные обращения.

    CSV открывается в Excel как есть (UTF-8 с BOM, «;»)."""
    start, end = parse_day(date_from, cli.settings), parse_day(date_to, cli.settings)
    if end < start:
        fail("дата --to раньше --from")
    if (end - start).days >= MAX_DAYS:
        fail(f"период не длиннее {MAX_DAYS} дней")
    refuse_binary_on_terminal(fmt, output)

    async def go() -> ReportFile:
        async with cli.app() as app:
            return await StandardJournal(app.sessions, app.settings.tz).file(start, end, fmt)

    write_report(run(go()), output)


@group.command("written")
@click.option("--from", "date_from", help="С даты ГГГГ-ММ-ДД (по умолчанию сегодня).")
@click.option("--to", "date_to", help="По дату включительно (по умолчанию сегодня).")
@click.option("--json", "as_json", is_flag=True, help="В JSON.")
@pass_cli
def written(cli: CliContext, date_from: str | None, date_to: str | None, as_json: bool) -> None:
    """Письменные обращения по нормативам стандарта: регистрация и классификация — не
    более 1 дня, ответ заявителю — не более 10 дней; нарушения по номерам."""
    start, end = parse_day(date_from, cli.settings), parse_day(date_to, cli.settings)
    if end < start:
        fail("дата --to раньше --from")

    async def go() -> WrittenReport:
        async with open_written(cli) as appeals:
            return await appeals.report(start, end)

    report = run(go())
    if as_json:
        click.echo(json.dumps(report_data(report), ensure_ascii=False, indent=2))
        return
    for line in report_lines(report):
        click.echo(line)

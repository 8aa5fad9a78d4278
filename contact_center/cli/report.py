"""`contact-center report hotline --from DATE --to DATE [--format text|csv|json|xlsx]
[--output FILE]`."""

from __future__ import annotations

from pathlib import Path

import click

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
from contact_center.spreadsheets import FORMATS


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

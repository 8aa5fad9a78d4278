"""`contact-center customers import FILE.csv`: the whole file or nothing, every bad line named."""

from __future__ import annotations

from pathlib import Path

import click

from contact_center.cli.common import EXIT_BAD_INPUT, CliContext, fail, pass_cli, run
from contact_center.customers.csv_import import CustomerRow, parse_customers
from contact_center.customers.services import ImportSummary


@click.group("customers")
def group() -> None:
    """База потребителей."""


@group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_cli
def import_(cli: CliContext, path: Path) -> None:
    """Загрузить потребителей из CSV (UTF-8 или cp1251).

    Столбцы: account,name,address,has_contract,phone,email,email_consent
    и необязательные debt,debt_date,email_consent_date,timezone.
    Несколько телефонов или адресов e-mail разделяются «;».
    """
    parsed = parse_customers(path.read_bytes(), region=cli.settings.default_region)
    if not parsed.ok:
        click.echo(f"Файл {path.name} не загружен: ошибок {len(parsed.errors)}.", err=True)
        for error in parsed.errors:
            click.echo(f"  {error}", err=True)
        raise click.exceptions.Exit(EXIT_BAD_INPUT)
    if not parsed.rows:
        fail(f"В файле {path.name} нет ни одного потребителя.")
    summary = run(_import(cli, parsed.rows))
    click.echo(
        f"Загружено потребителей: {summary.total} "
        f"(новых {summary.created}, обновлено {summary.updated}); кодировка {parsed.encoding}."
    )


async def _import(cli: CliContext, rows: list[CustomerRow]) -> ImportSummary:
    async with cli.app() as app:
        with click.progressbar(length=len(rows), label="Запись в базу") as bar:
            return await app.customers.import_rows(rows, progress=bar.update)

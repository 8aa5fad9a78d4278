"""`contact-center customers import FILE.csv`: the whole file or nothing, every bad line named."""

from __future__ import annotations

from pathlib import Path

import click

from contact_center.cli.common import EXIT_BAD_INPUT, CliContext, fail, pass_cli, run
from contact_center.customers.csv_import import CustomerReader, FileRefused
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
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"Файл {path.name} не читается: {exc.strerror}")
        return
    reader = CustomerReader(data, region=cli.settings.default_region)
    if not reader.ok:
        # nothing read yet: the file as a whole (not text, empty, a wrong header)
        fail(f"Файл {path.name} не загружен: {reader.errors[0]}")
    try:
        # rows are written as they are read, in one transaction: a bad line anywhere rolls
        # the whole file back, and reading goes on to the end so every bad line is listed
        summary = run(_import(cli, reader, lines=data.count(b"\n")))
    except FileRefused as refused:
        click.echo(f"Файл {path.name} не загружен: ошибок {len(refused.errors)}.", err=True)
        for error in refused.errors:
            click.echo(f"  {error}", err=True)
        raise click.exceptions.Exit(EXIT_BAD_INPUT) from None
    if summary.total == 0:
        fail(f"В файле {path.name} нет ни одного потребителя.")
    click.echo(
        f"Загружено потребителей: {summary.total} "
        f"(новых {summary.created}, обновлено {summary.updated}); кодировка {reader.encoding}."
    )


async def _import(cli: CliContext, reader: CustomerReader, *, lines: int) -> ImportSummary:
    async with cli.app() as app:
        with click.progressbar(length=lines, label="Запись в базу") as bar:
            return await app.customers.import_rows(reader.checked(), progress=bar.update)

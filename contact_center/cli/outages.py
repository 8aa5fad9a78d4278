"""`contact-center outages add|list|import|move|remove`: the outage information the IVR reads."""

from __future__ import annotations

from pathlib import Path

import click

from contact_center.cli.common import EXIT_BAD_INPUT, CliContext, fail, pass_cli, run
from contact_center.cli.hotline import open_store
from contact_center.customers.csv_import import NotTextError
from contact_center.hotline.exceptions import OutageError
from contact_center.hotline.outages import (
    KIND_RU,
    make_record,
    parse_local_datetime,
    parse_outages_csv,
)


@click.group("outages")
def group() -> None:
    """Отключения электроэнергии (плановые и аварийные), которые сообщает IVR."""


@group.command("add")
@click.option("--kind", default="planned", show_default=True, help="planned или emergency.")
@click.option(
    "--addresses", required=True, help="Улицы и дома через «;»: «ул. Чкалова; ул. Ленина, д. 5-9»."
)
@click.option("--start", required=True, help="Начало: ГГГГ-ММ-ДД ЧЧ:ММ (местное время).")
@click.option("--end", required=True, help="Ожидаемое окончание: ГГГГ-ММ-ДД ЧЧ:ММ.")
@click.option("--reason", default="", help="Причина.")
@pass_cli
def add(cli: CliContext, kind: str, addresses: str, start: str, end: str, reason: str) -> None:
    """Добавить отключение."""
    try:
        record = make_record(kind, addresses, start, end, reason, cli.settings.tz)
    except OutageError as exc:
        fail(str(exc))

    async def go() -> int:
        async with open_store(cli) as store:
            return await store.outages.add(record)

    click.echo(f"Отключение {run(go())} добавлено ({KIND_RU[record.kind]}).")


@group.command("list")
@click.option("--all", "include_past", is_flag=True, help="Вместе с завершившимися.")
@pass_cli
def list_(cli: CliContext, include_past: bool) -> None:
    """Текущие и будущие отключения."""

    async def go() -> list[str]:
        async with open_store(cli) as store:
            rows = await store.outages.listing(store.clock.now(), include_past=include_past)
        tz = cli.settings.tz
        lines = []
        for o in rows:
            start, end = o.starts_at.astimezone(tz), o.ends_at.astimezone(tz)
            reason = f"  ({o.reason})" if o.reason else ""
            lines.append(
                f"{o.id:>4}  {KIND_RU.get(o.kind, o.kind):<9} {start:%Y-%m-%d %H:%M}"
                f" — {end:%Y-%m-%d %H:%M}  {o.addresses}{reason}"
            )
        return lines

    lines = run(go())
    for line in lines:
        click.echo(line)
    click.echo(f"Отключений: {len(lines)}.")


@group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Заменить все сохранённые (ежедневный список).")
@pass_cli
def import_(cli: CliContext, path: Path, replace: bool) -> None:
    """Загрузить отключения из CSV: kind,addresses,start,end[,reason] (весь файл или ничего)."""
    try:
        parsed = parse_outages_csv(path.read_bytes(), cli.settings.tz)
    except NotTextError as exc:
        fail(f"Файл {path.name} не загружен: {exc}")
    if not parsed.ok:
        click.echo(f"Файл {path.name} не загружен: ошибок {len(parsed.errors)}.", err=True)
        for error in parsed.errors:
            click.echo(f"  {error}", err=True)
        raise click.exceptions.Exit(EXIT_BAD_INPUT)

    async def go() -> int:
        async with open_store(cli) as store:
            return await store.outages.import_records(parsed.records, replace=replace)

    click.echo(f"Загружено отключений: {run(go())}{' (прежние заменены)' if replace else ''}.")


@group.command("move")
@click.argument("outage_id", type=int)
@click.option("--start", required=True, help="Новое начало: ГГГГ-ММ-ДД ЧЧ:ММ (местное время).")
@click.option("--end", required=True, help="Новое окончание: ГГГГ-ММ-ДД ЧЧ:ММ.")
@pass_cli
def move(cli: CliContext, outage_id: int, start: str, end: str) -> None:
    """Перенести отключение (кампании-предупреждения о нём прочитают новое время)."""
    try:
        starts_at = parse_local_datetime(start, cli.settings.tz)
        ends_at = parse_local_datetime(end, cli.settings.tz)
    except OutageError as exc:
        fail(str(exc))

    async def go() -> bool:
        async with open_store(cli) as store:
            return await store.outages.move(outage_id, starts_at, ends_at)

    try:
        moved = run(go())
    except OutageError as exc:
        fail(str(exc))
    if not moved:
        fail(f"отключения {outage_id} нет")
    click.echo(f"Отключение {outage_id} перенесено.")


@group.command("remove")
@click.argument("outage_id", type=int)
@pass_cli
def remove(cli: CliContext, outage_id: int) -> None:
    """Удалить отключение по номеру."""

    async def go() -> bool:
        async with open_store(cli) as store:
            return await store.outages.remove(outage_id)

    if not run(go()):
        fail(f"отключения {outage_id} нет")
    click.echo(f"Отключение {outage_id} удалено.")

"""`contact-center customers import|list|show|search`: the import takes the whole file or
nothing, every bad line named; the others show the base as a supervisor checks it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from contact_center.cli.common import EXIT_BAD_INPUT, CliContext, fail, pass_cli, run
from contact_center.customers.csv_import import CustomerReader, FileRefused
from contact_center.customers.models import Customer
from contact_center.customers.services import ImportSummary
from contact_center.customers.views import customer_data


@click.group("customers")
def group() -> None:
    """База потребителей."""


@group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_cli
def import_(cli: CliContext, path: Path) -> None:
    """Загрузить потребителей из CSV (UTF-8 или cp1251).

    Столбцы: account,name,address,has_contract,phone,email,email_consent
    и необязательные debt,debt_date,email_consent_date,timezone — или по-русски:
    «Лицевой счёт», «ФИО», «Адрес», «Договор», «Телефон», «Эл. почта»,
    «Согласие на рассылку», «Долг», «Дата долга»… (см. README).
    Несколько телефонов разделяются «;» или «,», адреса e-mail — «;».
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


# --------------------------------------------------------------------------- viewing


def money_ru(value: Any) -> str:
    """1234.5 -> «1 234,50 ₽» (as the office writes it)."""
    return f"{value:,.2f}".replace(",", "\u00a0").replace(".", ",") + "\u00a0₽"


def customer_line(c: Customer) -> str:
    debt = f"долг {money_ru(c.debt)}" if c.debt is not None else "долга нет"
    phones = ", ".join(p.number for p in c.phones) or "телефона нет"
    contract = "" if c.has_contract else " [без договора]"
    return f"{c.account:<12} {c.name} — {c.address}; {phones}; {debt}{contract}"


def customer_card(c: Customer) -> list[str]:
    emails = [
        f"{e.address} ("
        + (
            f"согласие на рассылку с {e.consent_date:%d.%m.%Y}"
            if e.consent and e.consent_date
            else "согласие на рассылку"
            if e.consent
            else "без согласия на рассылку"
        )
        + ")"
        for e in c.emails
    ]
    debt = "нет" if c.debt is None else money_ru(c.debt)
    if c.debt is not None and c.debt_date is not None:
        debt += f" на {c.debt_date:%d.%m.%Y}"
    return [
        f"Лицевой счёт: {c.account}",
        f"ФИО: {c.name}",
        f"Адрес: {c.address}",
        f"Договор: {'есть' if c.has_contract else 'нет'}",
        f"Телефоны: {', '.join(p.number for p in c.phones) or 'нет'}",
        f"Эл. почта: {'; '.join(emails) or 'нет'}",
        f"Долг: {debt}",
        *([f"Часовой пояс: {c.timezone}"] if c.timezone else []),
    ]


def _echo_many(found: list[Customer], as_json: bool, total: int, shown_from: int = 0) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {"total": total, "customers": [customer_data(c) for c in found]},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    for c in found:
        click.echo(customer_line(c))
    if not found:
        click.echo("Никого не найдено.")
    elif total > len(found):
        last = shown_from + len(found)
        click.echo(f"Показаны {shown_from + 1}–{last} из {total}.")
    else:
        click.echo(f"Всего: {total}.")


@group.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Вывести в JSON.")
@pass_cli
def list_(cli: CliContext, limit: int, offset: int, as_json: bool) -> None:
    """Потребители по порядку лицевых счетов (страница: --limit, --offset)."""

    async def go() -> tuple[int, list[Customer]]:
        async with cli.app() as app:
            return await app.customers.page(limit=limit, offset=offset)

    total, found = run(go())
    _echo_many(found, as_json, total, offset)


@group.command("search")
@click.argument("query")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Вывести в JSON.")
@pass_cli
def search(cli: CliContext, query: str, limit: int, as_json: bool) -> None:
    """Найти по лицевому счёту, ФИО, адресу или телефону: каждое слово запроса
    ищется везде («иванов чкалова», «8 913 555-01-01»)."""
    if not query.strip():
        fail("Пустой запрос: укажите счёт, фамилию, адрес или телефон.")

    async def go() -> list[Customer]:
        async with cli.app() as app:
            # one more than shown: says whether there are more
            return await app.customers.search(query, limit=limit + 1)

    found = run(go())
    more = len(found) > limit
    found = found[:limit]
    _echo_many(found, as_json, len(found))
    if more and not as_json:
        click.echo(f"Показаны первые {limit}: уточните запрос или увеличьте --limit.")


@group.command("show")
@click.argument("account")
@click.option("--json", "as_json", is_flag=True, help="Вывести в JSON.")
@pass_cli
def show(cli: CliContext, account: str, as_json: bool) -> None:
    """Карточка потребителя по лицевому счёту."""

    async def go() -> Customer | None:
        async with cli.app() as app:
            return await app.customers.get(account.strip())

    found = run(go())
    if found is None:
        fail(f"Нет потребителя с лицевым счётом {account.strip()}.")
        return
    if as_json:
        click.echo(json.dumps(customer_data(found), ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(customer_card(found)))

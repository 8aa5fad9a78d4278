"""`contact-center appeal add|classify|assign|answer|response|note|show`: written appeals
(e-mail, post, in person) registered in the appeals journal, with the standard's norms
(1 day to register and classify, 10 to answer: `report written`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import click

from contact_center.cli.common import CliContext, fail, pass_cli, run
from contact_center.hotline.exceptions import AppealNotFound
from contact_center.hotline.models import CLASSIFICATION_RU, Appeal
from contact_center.hotline.written import CHANNEL_RU, WrittenAppealError, WrittenAppeals

T = TypeVar("T")


@contextlib.asynccontextmanager
async def open_written(cli: CliContext) -> AsyncIterator[WrittenAppeals]:
    async with cli.app() as app:
        yield WrittenAppeals(app.hotline.appeals, app.sessions, app.clock, app.settings.tz)


def _run(cli: CliContext, action: Callable[[WrittenAppeals], Awaitable[T]]) -> T:
    async def go() -> T:
        async with open_written(cli) as written:
            return await action(written)

    try:
        return run(go())
    except (WrittenAppealError, AppealNotFound) as exc:
        fail(str(exc))
    raise AssertionError("unreachable")  # pragma: no cover


def _received(raw: str | None, cli: CliContext) -> datetime | None:
    if raw is None:
        return None
    text = raw.strip()
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d.%m.%Y %H:%M", "%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=cli.settings.tz)
        except ValueError:
            continue
    fail(f"--received: дата вида 2026-12-01 09:30 или 01.12.2026, а не «{raw}»")
    raise AssertionError("unreachable")  # pragma: no cover


def _describe(a: Appeal, cli: CliContext) -> list[str]:
    tz = cli.settings.tz

    def at(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%d.%m.%Y %H:%M") if value else "—"

    cls = f"{a.classification} ({CLASSIFICATION_RU[a.classification]})" if a.classification else "—"
    return [
        f"Обращение {a.number} ({CHANNEL_RU.get(a.source, a.source)})",
        f"  поступило: {at(a.arrived_at)}; заявитель: {a.applicant_name}",
        f"  адрес: {a.applicant_address or '—'}",
        f"  классификация: {cls}, {at(a.classified_at)}",
        f"  кратко: {a.summary}",
        f"  передано: {a.assigned_to or '—'}, {at(a.assigned_at)}",
        f"  ответ заявителю: {at(a.replied_at)}",
        f"  ответ получен: {at(a.response_received_at)}",
        f"  примечание: {a.note or '—'}",
    ]


@click.group("appeal")
def group() -> None:
    """Письменные обращения (эл. почта, почта, личный приём) в журнале обращений."""


@group.command("add")
@click.option(
    "--channel",
    required=True,
    type=click.Choice(list(CHANNEL_RU)),
    help="Как поступило: email, post (почта), visit (личный приём).",
)
@click.option("--from", "applicant_name", required=True, help="ФИО заявителя или организация.")
@click.option("--text", required=True, help="Текст обращения.")
@click.option("--account", default=None, help="Лицевой счёт (абонент из базы).")
@click.option("--address", default=None, help="Адрес заявителя (по умолчанию — из базы).")
@click.option("--summary", default=None, help="Краткое содержание (по умолчанию — начало текста).")
@click.option("--class", "classification", default=None, help="КЭ, С, Се, Об, Ог, Т, Пр, Э.")
@click.option("--applicant", default="ФЛ", show_default=True, help="ФЛ, ГЛ или ЮЛ (fl, gl, ul).")
@click.option("--received", default=None, help="Когда поступило (по умолчанию сейчас).")
@pass_cli
def add(
    cli: CliContext,
    channel: str,
    applicant_name: str,
    text: str,
    account: str | None,
    address: str | None,
    summary: str | None,
    classification: str | None,
    applicant: str,
    received: str | None,
) -> None:
    """Зарегистрировать письменное обращение; печатает его номер."""
    received_at = _received(received, cli)
    ref = _run(
        cli,
        lambda w: w.add(
            channel=channel,
            applicant_name=applicant_name,
            text=text,
            account=account,
            address=address,
            summary=summary,
            classification=classification,
            applicant=applicant,
            received_at=received_at,
        ),
    )
    click.echo(f"Обращение зарегистрировано: {ref.number}", err=True)
    click.echo(ref.number)


@group.command("classify")
@click.argument("ref")
@click.option("--class", "classification", required=True, help="КЭ, С, Се, Об, Ог, Т, Пр, Э.")
@click.option("--summary", default=None, help="Краткое содержание.")
@pass_cli
def classify(cli: CliContext, ref: str, classification: str, summary: str | None) -> None:
    """Классифицировать обращение (номер или id)."""
    a = _run(cli, lambda w: w.classify(ref, classification, summary))
    click.echo(f"Обращение {a.number}: классификация {a.classification}.")


@group.command("assign")
@click.argument("ref")
@click.option("--to", "to", required=True, help="Кому (куда) передано на исполнение.")
@pass_cli
def assign(cli: CliContext, ref: str, to: str) -> None:
    """Передать обращение на исполнение (столбцы 7 и 9 журнала)."""
    a = _run(cli, lambda w: w.assign(ref, to))
    click.echo(f"Обращение {a.number} передано: {a.assigned_to}.")


@group.command("answer")
@click.argument("ref")
@click.option("--text", required=True, help="Ответ заявителю.")
@pass_cli
def answer(cli: CliContext, ref: str, text: str) -> None:
    """Отметить ответ заявителю (столбец 8 журнала; норматив — 10 дней)."""
    a = _run(cli, lambda w: w.answer(ref, text))
    assert a.replied_at is not None
    local = a.replied_at.astimezone(cli.settings.tz)
    click.echo(f"Ответ на обращение {a.number} отмечен {local:%d.%m.%Y %H:%M}.")


@group.command("response")
@click.argument("ref")
@pass_cli
def response(cli: CliContext, ref: str) -> None:
    """Отметить получение ответа из филиала (столбец 10 журнала)."""
    a = _run(cli, lambda w: w.response_received(ref))
    click.echo(f"Обращение {a.number}: ответ из филиала получен.")


@group.command("note")
@click.argument("ref")
@click.option("--text", required=True, help="Примечание (столбец 11 журнала).")
@pass_cli
def note(cli: CliContext, ref: str, text: str) -> None:
    """Примечание: что сделано, в чью пользу решён вопрос."""
    a = _run(cli, lambda w: w.note(ref, text))
    click.echo(f"Обращение {a.number}: примечание записано.")


@group.command("show")
@click.argument("ref")
@pass_cli
def show(cli: CliContext, ref: str) -> None:
    """Письменное обращение со всеми отметками."""
    a = _run(cli, lambda w: w.get(ref))
    for line in _describe(a, cli):
        click.echo(line)

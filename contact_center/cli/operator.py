"""`contact-center operator ...`: what an operator does at the desk (the web desk will call the
same OperatorService). Commands that touch the queue open a short-lived AMI link."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import click

from contact_center.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, CliContext, fail, pass_cli, run
from contact_center.hotline.appeals import parse_classification
from contact_center.hotline.models import CLASSIFICATION_RU
from contact_center.operators.exceptions import OperatorError, QueueControlError
from contact_center.operators.services import OperatorService
from contact_center.telephony.exceptions import TelephonyError

T = TypeVar("T")
STATE_RU = {
    "logged_out": "не в системе",
    "available": "свободен",
    "paused": "пауза",
    "on_call": "разговор",
    "wrap_up": "постобработка",
}


def _do(cli: CliContext, action: Callable[[OperatorService], Awaitable[T]]) -> T:
    async def go() -> T:
        async with cli.app(queue_on_demand=True) as app:
            return await action(app.operators)

    try:
        return run(go())
    except QueueControlError as exc:
        fail(str(exc), EXIT_FAILURE)
    except OperatorError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except TelephonyError as exc:
        fail(f"Нет связи с Asterisk: {exc}", EXIT_FAILURE)
    raise AssertionError  # fail() exits


async def _numbered(service: OperatorService, step: Awaitable[int | None]) -> str:
    """Run an operator step and give the appeal's registration number."""
    return await service.appeal_number(await step)


def _state_line(view: Any) -> str:
    state = STATE_RU.get(view.state, view.state)
    if view.pause_after_call:
        state += ", затем пауза"
    return f"{view.code}: {state} ({view.interface})"


@click.group("operator")
def group() -> None:
    """Оператор: вход, пауза, этапы обработки вызова, постобработка."""


@group.command("login")
@click.argument("code")
@click.option("--interface", required=True, help="Телефон в очереди, например PJSIP/op101.")
@click.option("--name", default="", help="Имя оператора.")
@pass_cli
def login(cli: CliContext, code: str, interface: str, name: str) -> None:
    """Войти в очередь operators и начать принимать вызовы."""
    click.echo(_state_line(_do(cli, lambda s: s.login(code, interface, name))))


@group.command("logout")
@click.argument("code")
@pass_cli
def logout(cli: CliContext, code: str) -> None:
    """Выйти из очереди (вызовы больше не поступают)."""
    click.echo(_state_line(_do(cli, lambda s: s.logout(code))))


@group.command("pause")
@click.argument("code")
@click.option("--reason", default="", help="Причина паузы.")
@pass_cli
def pause(cli: CliContext, code: str, reason: str) -> None:
    """Пауза: вызовы не поступают (во время разговора — после постобработки)."""
    click.echo(_state_line(_do(cli, lambda s: s.pause(code, reason))))


@group.command("unpause")
@click.argument("code")
@pass_cli
def unpause(cli: CliContext, code: str) -> None:
    """Снять паузу."""
    click.echo(_state_line(_do(cli, lambda s: s.unpause(code))))


@group.command("lookup-done")
@click.argument("code")
@pass_cli
def lookup_done(cli: CliContext, code: str) -> None:
    """Информация о клиенте найдена (норматив 45 с)."""
    appeal = _do(cli, lambda s: _numbered(s, s.lookup_done(code)))
    click.echo(f"Поиск информации о клиенте завершён (обращение {appeal}).")


@group.command("info-done")
@click.argument("code")
@pass_cli
def info_done(cli: CliContext, code: str) -> None:
    """Информация по запросу предоставлена (норматив 5 мин)."""
    appeal = _do(cli, lambda s: _numbered(s, s.info_done(code)))
    click.echo(f"Информация предоставлена (обращение {appeal}).")


def _classification(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return parse_classification(raw)
    except ValueError as exc:
        fail(str(exc))
    raise AssertionError


CLASS_HELP = "Классификация: " + "; ".join(f"{k} — {v}" for k, v in CLASSIFICATION_RU.items())


@group.command("wrap-up-done")
@click.argument("code")
@click.option("--class", "classification", help=CLASS_HELP)
@click.option("--summary", help="Краткое содержание обращения.")
@pass_cli
def wrap_up_done(
    cli: CliContext, code: str, classification: str | None, summary: str | None
) -> None:
    """Постобработка завершена (норматив 5 мин): оператор снова принимает вызовы."""
    cls = _classification(classification)
    appeal = _do(cli, lambda s: _numbered(s, s.wrap_up_done(code, cls, summary)))
    click.echo(f"Постобработка завершена{f' (обращение {appeal})' if appeal else ''}.")


@group.command("classify")
@click.argument("code")
@click.option("--class", "classification", help=CLASS_HELP)
@click.option("--summary", help="Краткое содержание обращения.")
@pass_cli
def classify(cli: CliContext, code: str, classification: str | None, summary: str | None) -> None:
    """Классифицировать текущее (последнее) обращение и записать его содержание."""
    cls = _classification(classification)
    appeal = _do(cli, lambda s: _numbered(s, s.classify(code, cls, summary)))
    click.echo(f"Обращение {appeal} обновлено.")


@group.command("book")
@click.argument("code")
@click.option("--date", "day", required=True, help="Дата приёма ГГГГ-ММ-ДД.")
@click.option("--time", "at", required=True, help="Время приёма ЧЧ:ММ.")
@click.option("--office", required=True, help="Офис обслуживания.")
@click.option("--note", default="", help="Примечание.")
@pass_cli
def book(cli: CliContext, code: str, day: str, at: str, office: str, note: str) -> None:
    """Предварительная запись клиента на очный приём (по текущему обращению)."""
    try:
        when = datetime.strptime(f"{day} {at}", "%Y-%m-%d %H:%M")
    except ValueError:
        fail("дата и время: ГГГГ-ММ-ДД и ЧЧ:ММ")
    booking = _do(cli, lambda s: s.book(code, when.date(), when.time(), office, note))
    click.echo(f"Запись на приём {when:%Y-%m-%d %H:%M}, {office} (запись {booking}).")


@group.command("info")
@click.argument("code")
@pass_cli
def info(cli: CliContext, code: str) -> None:
    """Текущее обращение оператора: номер, клиент по номеру звонящего."""

    async def go(s: OperatorService) -> tuple[Any, Any]:
        return await s.get(code), await s.current_appeal(code)

    view, appeal = _do(cli, go)
    click.echo(_state_line(view))
    if appeal is None:
        click.echo("Обращения нет.")
    else:
        click.echo(json.dumps(appeal, ensure_ascii=False, indent=2))


@group.command("list")
@pass_cli
def list_(cli: CliContext) -> None:
    """Операторы и их состояние."""
    for view in _do(cli, lambda s: s.all()):
        click.echo(_state_line(view))

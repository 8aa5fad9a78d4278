"""`contact-center user add|list|disable|enable|passwd|audit`: web console accounts.

Passwords come from stdin, never from the command line (it is visible in `ps` and in the
shell history): one line when piped, or typed twice without echo at a terminal. Every change
is audited with the actor `cli:<unix user>`.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from contact_center.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, CliContext, fail, pass_cli, run
from contact_center.users.audit import AuditFilter
from contact_center.users.credentials import PASSWORD_MIN, normalize_login
from contact_center.users.exceptions import UserError
from contact_center.users.roles import ROLE_RU, parse_role
from contact_center.users.services import UserInfo, Users

T = TypeVar("T")


def cli_actor() -> str:
    """`cli:<unix user>`, the audit's actor for whatever this command changes."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return f"cli:{name}"


def _do(cli: CliContext, action: Callable[[Users], Awaitable[T]]) -> T:
    async def go() -> T:
        async with cli.app() as app:
            return await action(app.users)

    try:
        return run(go())
    except UserError as exc:
        fail(f"Ошибка: {exc}", EXIT_BAD_INPUT)
    except (OperationalError, ProgrammingError) as exc:
        # the users tables are missing: the schema predates them
        fail(
            f"База данных не готова ({exc.orig}): выполните contact-center db upgrade", EXIT_FAILURE
        )
    raise AssertionError  # fail() exits


def read_password() -> str:
    """A new password: typed twice without echo at a terminal, else the first stdin line."""
    stdin = sys.stdin
    if stdin.isatty():
        password: str = click.prompt(
            "Пароль",
            hide_input=True,
            confirmation_prompt="Повторите пароль",
            err=True,
        )
    else:
        line = stdin.readline()
        password = line.rstrip("\r\n")
    if not password:
        fail(
            "Ошибка: пароль не задан: передайте его одной строкой на стандартный ввод "
            f"(не меньше {PASSWORD_MIN} символов)"
        )
    return password


def _line(user: UserInfo) -> str:
    state = "отключён" if user.disabled else "действует"
    desk = f"  оператор {user.operator_code}" if user.operator_code else ""
    last = f"{user.last_login_at:%Y-%m-%d %H:%M} UTC" if user.last_login_at else "не входил"
    return f"{user.login:<32} {ROLE_RU[user.role]:<14} {state:<10} вход: {last}{desk}"


@click.group("user")
def group() -> None:
    """Пользователи веб-консоли: операторы, супервизоры, администраторы."""


@group.command("add")
@click.argument("login")
@click.option("--role", required=True, help="Роль: operator, supervisor или admin.")
@click.option("--operator", "operator_code", default=None, help="Код оператора (рабочее место).")
@pass_cli
def add(cli: CliContext, login: str, role: str, operator_code: str | None) -> None:
    """Добавить пользователя; пароль читается со стандартного ввода."""
    try:
        # before the password is asked for, so a typo costs no typing
        normalize_login(login)
        parse_role(role)
    except UserError as exc:
        fail(f"Ошибка: {exc}")
    password = read_password()
    user = _do(
        cli,
        lambda u: u.users.add(
            login, role, password, actor=cli_actor(), operator_code=operator_code
        ),
    )
    click.echo(f"Пользователь {user.login} добавлен ({ROLE_RU[user.role]}).")


@group.command("list")
@pass_cli
def list_(cli: CliContext) -> None:
    """Все пользователи."""
    users = _do(cli, lambda u: u.users.list())
    for user in users:
        click.echo(_line(user))
    click.echo(f"Пользователей: {len(users)}.")


@group.command("disable")
@click.argument("login")
@pass_cli
def disable(cli: CliContext, login: str) -> None:
    """Отключить пользователя и завершить его сеансы."""
    user = _do(cli, lambda u: u.users.disable(login, actor=cli_actor()))
    click.echo(f"Пользователь {user.login} отключён, его сеансы завершены.")


@group.command("enable")
@click.argument("login")
@pass_cli
def enable(cli: CliContext, login: str) -> None:
    """Снова включить отключённого пользователя."""
    user = _do(cli, lambda u: u.users.enable(login, actor=cli_actor()))
    click.echo(f"Пользователь {user.login} включён.")


@group.command("passwd")
@click.argument("login")
@pass_cli
def passwd(cli: CliContext, login: str) -> None:
    """Сменить пароль (со стандартного ввода) и завершить все сеансы пользователя."""
    password = read_password()
    user = _do(cli, lambda u: u.users.passwd(login, password, actor=cli_actor()))
    click.echo(f"Пароль пользователя {user.login} изменён, его сеансы завершены.")


@group.command("audit")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--actor", default=None, help="Только действия этого пользователя.")
@pass_cli
def audit(cli: CliContext, limit: int, actor: str | None) -> None:
    """Журнал действий: кто, когда, что и над чем сделал (новые сверху)."""
    records = _do(cli, lambda u: u.audit.list(AuditFilter(actor=actor, limit=limit)))
    tz = cli.settings.tz
    for r in records:
        target = f" {r.object_type} {r.object_id}".rstrip() if r.object_type else ""
        details = f"  {json.dumps(r.details, ensure_ascii=False)}" if r.details else ""
        click.echo(
            f"{r.at.astimezone(tz):%Y-%m-%d %H:%M:%S}  {r.actor}  {r.action}{target}{details}"
        )
    click.echo(f"Записей: {len(records)}.")

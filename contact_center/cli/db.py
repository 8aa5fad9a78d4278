"""`contact-center db upgrade|current`: schema migrations (run before the service's loop starts)."""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from contact_center.cli.common import EXIT_FAILURE, CliContext, fail, pass_cli
from contact_center.settings import mask_url_password
from contact_center.storage import migrate


@click.group("db")
def group() -> None:
    """База данных."""


@group.command("upgrade")
@click.option("--revision", default="heads", show_default=True, help="Целевая ревизия.")
@pass_cli
def upgrade(cli: CliContext, revision: str) -> None:
    """Применить миграции схемы."""
    url = cli.settings.database_url
    try:
        migrate.upgrade(url, cli.plugins, revision)
    except (SQLAlchemyError, OSError) as exc:
        fail(f"Не удалось обновить базу {mask_url_password(url)}: {exc}", EXIT_FAILURE)
    click.echo(f"База данных обновлена до ревизии {migrate.current_revision(url)}.")


@group.command("current")
@pass_cli
def current(cli: CliContext) -> None:
    """Показать текущую ревизию схемы."""
    click.echo(migrate.current_revision(cli.settings.database_url) or "схема не создана")

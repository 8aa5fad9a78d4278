"""`contact-center config show`: the effective settings, secrets masked."""

from __future__ import annotations

import click

from contact_center.cli.common import CliContext, pass_cli


@click.group("config")
def group() -> None:
    """Настройки сервиса."""


@group.command("show")
@pass_cli
def show(cli: CliContext) -> None:
    """Показать действующие настройки (секреты скрыты)."""
    for name, value in cli.settings.public_items().items():
        click.echo(f"{name} = {value}")

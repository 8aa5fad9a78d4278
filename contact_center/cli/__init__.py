"""The `contact-center` command: one click group, one module per subcommand group."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from contact_center.cli.common import EXIT_BAD_INPUT, CliContext
from contact_center.plugins import Plugin, load_plugins
from contact_center.settings import SettingsError, load_settings


class _MainGroup(click.Group):
    """Adds the plugins' commands on first use, not at import: a plugin's own CLI module
    imports contact_center.cli, so loading plugins while this module imports would cycle."""

    _plugins: tuple[Plugin, ...] | None = None

    def _load_plugins(self) -> tuple[Plugin, ...]:
        if self._plugins is None:
            self._plugins = tuple(load_plugins())
            for plugin in self._plugins:
                plugin.register_cli(self)
        return self._plugins

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugins()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_plugins()
        return super().get_command(ctx, cmd_name)


@click.group(cls=_MainGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML settings file (also CC_CONFIG).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def main(ctx: click.Context, config: Path | None, verbose: bool) -> None:
    """Контакт-центр и автоинформатор сетевой компании."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings(config_file=config)
    except SettingsError as exc:
        click.echo(f"Ошибка настроек: {exc}", err=True)
        ctx.exit(EXIT_BAD_INPUT)
    group = ctx.command
    plugins = group._load_plugins() if isinstance(group, _MainGroup) else ()
    ctx.obj = CliContext(settings=settings, plugins=plugins)


def _register() -> None:
    from contact_center.cli import asterisk, config, customers, db, demo, serve

    for module in (config, db, customers, asterisk):
        main.add_command(module.group)
    main.add_command(serve.command)
    main.add_command(demo.command)
    from contact_center.cli import appeal, hotline, operator, outages, report, sim

    for module in (hotline, appeal, operator, outages, report, sim):
        main.add_command(module.group)
    from contact_center.cli import doctor, say, sounds, user

    main.add_command(doctor.command)
    main.add_command(say.command)
    main.add_command(sounds.group)
    main.add_command(user.group)


_register()

"""The `contact-center` command: one click group, one module per subcommand group.

A subcommand's module is imported when that subcommand runs (or `--help` lists them all),
not for every command: `serve` is restarted by its supervisor after a crash while customers
wait on the line, and importing every command's dependencies (Alembic, openpyxl, the demo
...) cost it 1-2 s of CPU before it could drive a call."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import click

from contact_center.cli.common import EXIT_BAD_INPUT, CliContext
from contact_center.plugins import Plugin, load_plugins
from contact_center.settings import SettingsError, load_settings

# the core's subcommands: name -> "module:attribute", imported on first use
CORE_COMMANDS = {
    "config": "contact_center.cli.config:group",
    "db": "contact_center.cli.db:group",
    "customers": "contact_center.cli.customers:group",
    "asterisk": "contact_center.cli.asterisk:group",
    "serve": "contact_center.cli.serve:command",
    "demo": "contact_center.cli.demo:command",
    "hotline": "contact_center.cli.hotline:group",
    "appeal": "contact_center.cli.appeal:group",
    "operator": "contact_center.cli.operator:group",
    "outages": "contact_center.cli.outages:group",
    "report": "contact_center.cli.report:group",
    "sim": "contact_center.cli.sim:group",
    "doctor": "contact_center.cli.doctor:command",
    "say": "contact_center.cli.say:command",
    "sounds": "contact_center.cli.sounds:group",
    "user": "contact_center.cli.user:group",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when used (`add_lazy_command`)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy: dict[str, str] = {}

    def add_lazy_command(self, name: str, target: str) -> None:
        """`target` is "package.module:attribute", a click command imported on first use."""
        self.lazy[name] = target

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.pop(cmd_name, None)
        if target is not None and cmd_name not in self.commands:
            module, _, attribute = target.partition(":")
            command = getattr(importlib.import_module(module), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


def add_lazy_command(group: click.Group, name: str, target: str) -> None:
    """Register `target` ("module:attribute") as `name` in `group`: imported on first use
    in a LazyGroup, at once in any other group (a plugin's CLI in a test's own group)."""
    if isinstance(group, LazyGroup):
        group.add_lazy_command(name, target)
        return
    module, _, attribute = target.partition(":")
    group.add_command(getattr(importlib.import_module(module), attribute), name)


class _MainGroup(LazyGroup):
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


for _name, _target in CORE_COMMANDS.items():
    main.add_lazy_command(_name, _target)

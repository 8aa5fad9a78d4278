"""Packages that build on the core (the autoinformer) plug in here; the core never imports them.

A plugin is found through the `contact_center.plugins` entry point group (pyproject.toml).
It contributes, without the core naming it:
- its tables: `schema()` registers its SQLAlchemy models and names its Alembic versions folder;
- its CLI groups: `register_cli(group)`;
- its part of every process: `build(app)` wires its services from the core's objects by
  constructor injection (wazo's plugin.py role) and returns a `Part`; `serve` starts the
  parts after the core and stops them before it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import click

if TYPE_CHECKING:
    from contact_center.app import App

log = logging.getLogger(__name__)
GROUP = "contact_center.plugins"


class PluginError(RuntimeError):
    error_id = "plugin-broken"


@dataclass(frozen=True, slots=True)
class Schema:
    """A plugin's tables: importing its models registered them in the shared metadata; its
    migrations live in `versions` (an Alembic version location with its own branch)."""

    versions: Path


@runtime_checkable
class Part(Protocol):
    """What a plugin runs inside `serve`. `stop` must also undo a `start` that failed
    half-way: whatever it had started is stopped."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@runtime_checkable
class Plugin(Protocol):
    name: str

    def schema(self) -> Schema | None: ...

    def register_cli(self, group: click.Group) -> None: ...

    def build(self, app: App) -> Part: ...


def load_plugins() -> list[Plugin]:
    plugins: list[Plugin] = []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        # an installed plugin that cannot load is a broken installation: say so loudly
        # rather than run a service that silently stops dialing
        try:
            plugin = ep.load()()
        except Exception as exc:
            raise PluginError(f"plugin {ep.name} failed to load: {exc!r}") from exc
        if not isinstance(plugin, Plugin):
            raise PluginError(f"plugin {ep.name} does not provide name/schema/register_cli/build")
        plugins.append(plugin)
    return plugins

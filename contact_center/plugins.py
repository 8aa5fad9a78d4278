"""Packages that build on the core (the autoinformer) plug in here; the core never imports them.

A plugin is found through the `contact_center.plugins` entry point group (pyproject.toml) and
offers its CLI commands and, for `contact-center serve`, a start/stop pair that receives
the running core Service (wazo-style: the plugin wires its objects by constructor injection).
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import click

if TYPE_CHECKING:
    from contact_center.service import Service

log = logging.getLogger(__name__)
GROUP = "contact_center.plugins"


class PluginError(RuntimeError):
    error_id = "plugin-broken"


@runtime_checkable
class Plugin(Protocol):
    name: str

    def register_cli(self, group: click.Group) -> None: ...

    async def start(self, service: Service) -> None: ...

    async def stop(self) -> None: ...


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
            raise PluginError(f"plugin {ep.name} does not provide name/register_cli/start/stop")
        plugins.append(plugin)
    return plugins

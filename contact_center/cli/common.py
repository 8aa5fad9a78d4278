"""What every CLI subcommand shares: the settings and plugins, the composition root, exit
codes, running a coroutine."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from contact_center.plugins import Plugin
from contact_center.settings import Settings

if TYPE_CHECKING:
    from contact_center.app import App

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

T = TypeVar("T")


@dataclass(slots=True)
class CliContext:
    settings: Settings
    plugins: tuple[Plugin, ...] = ()

    def app(self, *, speech_workers: int | None = None, queue_on_demand: bool = False) -> App:
        """This command's object graph, from the composition root (use ``async with``)."""
        from contact_center.app import build_app

        return build_app(
            self.settings,
            plugins=self.plugins,
            speech_workers=speech_workers,
            queue_on_demand=queue_on_demand,
        )


pass_cli = click.make_pass_decorator(CliContext)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """Print a one-line Russian error and exit with `code`."""
    click.echo(message, err=True)
    raise click.exceptions.Exit(code)

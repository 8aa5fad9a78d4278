"""What every CLI subcommand shares: the settings, exit codes, running a coroutine."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from contact_center.settings import Settings

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

T = TypeVar("T")


@dataclass(slots=True)
class CliContext:
    settings: Settings


pass_cli = click.make_pass_decorator(CliContext)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """Print a one-line Russian error and exit with `code`."""
    click.echo(message, err=True)
    raise click.exceptions.Exit(code)

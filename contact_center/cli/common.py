"""What every CLI subcommand shares: the settings and plugins, the composition root, exit
codes, running a coroutine."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from contact_center.plugins import Plugin
from contact_center.settings import Settings
from contact_center.spreadsheets import ReportFile

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


def refuse_binary_on_terminal(fmt: str, output: Path | None) -> None:
    """Exit 2 when an XLSX would go to a terminal (bytes there help nobody and can upset it);
    checked before any work, so nothing is lost."""
    if output is None and fmt == "xlsx" and sys.stdout.isatty():
        fail("XLSX — двоичный файл, в терминал он не выводится: укажите --output ФАЙЛ.xlsx")


def write_report(file: ReportFile, output: Path | None) -> None:
    """Save a report to `output` or write its bytes, exactly as downloaded, to stdout."""
    if output is None:
        click.echo(file.content, nl=False)  # bytes: to the binary stream, as they are
        return
    try:
        output.write_bytes(file.content)
    except OSError as exc:
        fail(f"Отчёт не записан в {output}: {exc.strerror or exc}", EXIT_FAILURE)
    click.echo(f"Отчёт записан в {output}", err=True)

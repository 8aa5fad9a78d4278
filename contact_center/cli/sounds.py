"""`contact-center sounds ...`: build the fixed prompts, list them."""

from __future__ import annotations

import os

import click

from contact_center.cli.common import EXIT_FAILURE, CliContext, fail, pass_cli, run
from contact_center.speech.prompts import PromptCatalog, PromptError, prompt_path


@click.group("sounds")
def group() -> None:
    """Звуковые файлы: фиксированные подсказки и кэш синтезированной речи."""


def _catalog() -> PromptCatalog:
    try:
        return PromptCatalog.load()
    except PromptError as exc:
        fail(f"Ошибка в файле подсказок: {exc}")
        raise  # pragma: no cover - fail() always raises


@group.command("build")
@click.option("--force", is_flag=True, help="Синтезировать заново, не глядя в кэш.")
@click.option(
    "--workers",
    type=click.IntRange(1, 16),
    default=None,
    help="Сколько процессов синтеза запустить (по умолчанию — по числу ядер, не больше 4).",
)
@pass_cli
def build(cli: CliContext, force: bool, workers: int | None) -> None:
    """Синтезировать подсказки в sounds/ru/<имя>.wav (8 кГц, моно) и тишину для ожидания
    клавиши (sounds/silence/10s.wav)."""
    from contact_center.speech.synth import SynthesisError

    catalog = _catalog()
    count = workers or max(1, min(4, os.cpu_count() or 1))

    async def go() -> None:
        async with cli.app(speech_workers=count) as app:
            report = await app.speech.build_prompts(force=force)
            # the silence waits for a key play (`serve` writes it too if missing)
            silence = await app.speech.silence()
        click.echo(
            f"Подсказки собраны в {report.directory}: всего {len(catalog)}, "
            f"записано {len(report.written)}, без изменений {len(report.unchanged)}; "
            f"тишина для ожидания клавиши: {silence}."
        )

    try:
        run(go())
    except (SynthesisError, OSError) as exc:
        fail(f"Ошибка синтеза речи: {exc}", code=EXIT_FAILURE)


@group.command("list")
@pass_cli
def list_prompts(cli: CliContext) -> None:
    """Показать подсказки: имя, собрана ли, текст."""
    catalog = _catalog()
    for name in catalog:
        built = "+" if prompt_path(cli.settings.sounds_dir, name).is_file() else "-"
        click.echo(f"{built} {name}: {catalog.text(name)}")

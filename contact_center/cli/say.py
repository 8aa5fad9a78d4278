"""`contact-center say KIND VALUE...`: print a value in Russian words, optionally as a WAV."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import click

from contact_center.cli.common import EXIT_FAILURE, CliContext, fail, pass_cli, run
from contact_center.speech import phrases
from contact_center.speech.phrases import DATE_FORMS, TIME_FORMS, UNITS, PhraseError

SAY_KINDS = (*phrases.KINDS, "text")


class _OneLineErrors(click.Command):
    """Usage errors as one Russian line and exit status 2, like every other bad input."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            fail(f"Ошибка: {exc.format_message()} (см. contact-center say --help)")
            raise  # pragma: no cover - fail() always raises


def build_phrase(
    kind: str,
    values: Sequence[str],
    *,
    unit: str | None = None,
    form: str | None = None,
    year: bool = True,
    gender: str = "m",
) -> str:
    """The words for a CLI request; raises PhraseError with a Russian message."""
    if kind not in SAY_KINDS:
        raise PhraseError(f"неизвестный вид: {kind!r} (есть: {', '.join(SAY_KINDS)})")
    if not values:
        raise PhraseError(f"не задано значение для {kind}")
    if kind == "timerange":
        if len(values) > 2:
            raise PhraseError("для интервала нужны два времени или одно ЧЧ:ММ-ЧЧ:ММ")
        return phrases.timerange_phrase(values[0], values[1] if len(values) == 2 else None)
    if kind == "text":
        text = " ".join(" ".join(values).split())
        if not text:
            raise PhraseError("пустой текст")
        return text
    if len(values) != 1:
        raise PhraseError(f"для {kind} нужно одно значение, а не {len(values)}")
    if unit is not None and kind != "quantity":
        raise PhraseError(f"--unit не нужен для {kind}")
    if form is not None and kind not in ("date", "time"):
        raise PhraseError(f"--form не нужен для {kind}")
    value = values[0]
    match kind:
        case "money":
            return phrases.money_phrase(value)
        case "date":
            return phrases.date_phrase(
                value, form=phrases.as_date_form(form or "nominative"), year=year
            )
        case "time":
            return phrases.time_phrase(value, form=phrases.as_time_form(form or "nominative"))
        case "quantity":
            if unit is None:
                raise PhraseError(f"для количества нужен --unit ({'|'.join(UNITS)})")
            return phrases.quantity_phrase(value, unit)
        case "phone":
            return phrases.phone_phrase(value)
        case "number":
            return phrases.number_phrase(value, gender=phrases.as_gender(gender))
    raise PhraseError(f"неизвестный вид: {kind!r}")  # pragma: no cover


async def _write_wav(cli: CliContext, text: str, target: Path) -> None:
    async with cli.app(speech_workers=1) as app:
        source = await app.speech.synthesize(text)
    shutil.copyfile(source, target)


@click.command(
    "say",
    cls=_OneLineErrors,
    context_settings={"ignore_unknown_options": True},
    epilog=(
        "Примеры: say money 1500; say date 2026-12-05 --form from --no-year; "
        "say timerange 09:00 17:30; say quantity 5 --unit kwh; say phone '+7 913 123-45-67'"
    ),
)
@click.argument("kind")
@click.argument("values", nargs=-1)
@click.option("--unit", help=f"Единица для quantity: {'|'.join(UNITS)}.")
@click.option(
    "--form",
    help=f"Форма даты ({'|'.join(DATE_FORMS)}) или времени ({'|'.join(TIME_FORMS)}).",
)
@click.option("--no-year", is_flag=True, help="Дата без года.")
@click.option("--gender", default="m", show_default=True, help="Род для number: m|f|n.")
@click.option(
    "--wav",
    "wav",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Записать речь в WAV-файл (8 кГц, 16 бит, моно).",
)
@pass_cli
def command(
    cli: CliContext,
    kind: str,
    values: tuple[str, ...],
    unit: str | None,
    form: str | None,
    no_year: bool,
    gender: str,
    wav: Path | None,
) -> None:
    """Произнести значение по-русски: KIND — money, date, time, timerange, quantity, phone,
    number или text."""
    try:
        text = build_phrase(kind, values, unit=unit, form=form, year=not no_year, gender=gender)
    except PhraseError as exc:
        fail(f"Ошибка: {exc}")
        return
    click.echo(text)
    if wav is not None:
        from contact_center.speech.synth import SynthesisError

        try:
            run(_write_wav(cli, text, wav))
        except SynthesisError as exc:
            fail(f"Ошибка синтеза речи: {exc}", code=EXIT_FAILURE)
        except OSError as exc:
            fail(f"Ошибка: не удалось записать {wav}: {exc.strerror or exc}", code=EXIT_FAILURE)

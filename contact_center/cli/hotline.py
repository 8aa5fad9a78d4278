"""`contact-center hotline check|appeals|hours`: the hotline's files, journal and opening hours."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime

import click

from contact_center.cli.common import EXIT_BAD_INPUT, CliContext, fail, pass_cli, run
from contact_center.clock import Clock
from contact_center.hotline.appeals import AppealService
from contact_center.hotline.ivr_library import read_scripts_dir
from contact_center.hotline.outage_store import OutageService
from contact_center.hotline.written import CHANNEL_RU
from contact_center.settings import Settings


@dataclass(slots=True)
class Store:
    appeals: AppealService
    outages: OutageService
    clock: Clock


@contextlib.asynccontextmanager
async def open_store(cli: CliContext) -> AsyncIterator[Store]:
    async with cli.app() as app:
        yield Store(app.hotline.appeals, app.hotline.outages, app.clock)


def parse_day(raw: str | None, settings: Settings) -> date:
    if raw is None:
        return Clock.from_settings(settings).local_now().date()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(raw.strip(), fmt).date()
        except ValueError:
            continue
    fail(f"дата «{raw}»: ожидается ГГГГ-ММ-ДД или ДД.ММ.ГГГГ")
    raise AssertionError  # fail() exits


WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")


@click.group("hotline")
def group() -> None:
    """Горячая линия: проверка меню и календаря, журнал обращений."""


@group.command("check")
@pass_cli
def check(cli: CliContext) -> None:
    """Проверить меню IVR (ivr_scripts/) и файл поправок календаря."""
    settings = cli.settings
    app = cli.app()
    library = app.hotline.ivr
    _stamp, files = read_scripts_dir(settings.ivr_scripts_dir)
    result = library.check(files)
    problems = [str(e) for e in result.errors]
    # the calendar as the service loads it (reading it is all the app does here)
    calendar_error = app.calendar.error
    if calendar_error:
        problems.append(calendar_error)
    if problems:
        click.echo(f"Найдены ошибки ({len(problems)}):", err=True)
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        raise click.exceptions.Exit(EXIT_BAD_INPUT)
    menus = ", ".join(sorted(result.scripts.menus))
    click.echo(f"Меню в порядке ({menus}); календарь: {settings.calendar_file.name}.")


@group.command("hours")
@click.option("--days", default=14, show_default=True, help="Сколько дней показать.")
@pass_cli
def hours(cli: CliContext, days: int) -> None:
    """Показать часы работы горячей линии на ближайшие дни."""
    app = cli.app()
    if app.calendar.error:
        fail(app.calendar.error)
    calendar, now = app.calendar.current, app.clock.local_now()
    state = "открыта" if calendar.is_open(now) else "закрыта"
    opens = calendar.next_opening(now)
    click.echo(f"Сейчас {now:%Y-%m-%d %H:%M}, линия {state}; откроется {opens:%Y-%m-%d %H:%M}.")
    for offset in range(days):
        day = date.fromordinal(now.date().toordinal() + offset)
        spans = calendar.hours_on(day)
        text = ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in spans) or "выходной"
        click.echo(f"  {day:%Y-%m-%d} {WEEKDAYS[day.weekday()]}  {text}")


@group.command("appeals")
@click.option("--from", "date_from", help="С даты (ГГГГ-ММ-ДД), по умолчанию сегодня.")
@click.option("--to", "date_to", help="По дату включительно, по умолчанию сегодня.")
@pass_cli
def appeals(cli: CliContext, date_from: str | None, date_to: str | None) -> None:
    """Журнал обращений горячей линии за период."""
    start, end = parse_day(date_from, cli.settings), parse_day(date_to, cli.settings)

    async def go() -> list[str]:
        async with open_store(cli) as store:
            rows = await store.appeals.in_period(start, end)
        lines = []
        for a in rows:
            local = a.arrived_at.astimezone(cli.settings.tz)
            if a.kind == "written":
                outcome = f"письменное ({CHANNEL_RU.get(a.source, a.source)})"
            elif a.abandoned:
                outcome = "не дождался"
            elif a.operator_answered_at:
                outcome = "оператор"
            elif a.kind == "message":
                outcome = f"сообщение на {a.due_date}"
            else:
                outcome = "самообслуживание"
            wait = f" ожидание {a.wait_s:.0f} с" if a.wait_s is not None else ""
            cls = f" [{a.classification}]" if a.classification else ""
            lines.append(f"{a.number}  {local:%Y-%m-%d %H:%M:%S}  {outcome}{wait}{cls}")
        return lines

    lines = run(go())
    for line in lines:
        click.echo(line)
    click.echo(f"Обращений: {len(lines)}.")

"""`contact-center hotline check|appeals|hours`: the hotline's files, journal and opening hours."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime

import click

from contact_center.calendar import WorkCalendar, parse_overrides
from contact_center.cli.common import EXIT_BAD_INPUT, CliContext, fail, pass_cli, run
from contact_center.clock import Clock
from contact_center.hotline.appeals import AppealService
from contact_center.hotline.exceptions import CalendarError
from contact_center.hotline.ivr_library import IvrLibrary, read_scripts_dir
from contact_center.hotline.outage_store import OutageService
from contact_center.settings import Settings
from contact_center.speech.prompts import PromptCatalog
from contact_center.storage.database import create_engine, session_factory


@dataclass(slots=True)
class Store:
    appeals: AppealService
    outages: OutageService
    clock: Clock


@contextlib.asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    engine = create_engine(settings.database_url)
    try:
        sessions = session_factory(engine)
        yield Store(
            AppealService(sessions, settings.tz),
            OutageService(sessions, settings.tz),
            Clock.from_settings(settings),
        )
    finally:
        await engine.dispose()


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


def load_calendar(settings: Settings) -> WorkCalendar:
    path = settings.calendar_file
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    return WorkCalendar(
        WorkCalendar.from_text(settings.hotline_hours).hours, parse_overrides(text, str(path))
    )


WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")


@click.group("hotline")
def group() -> None:
    """Горячая линия: проверка меню и календаря, журнал обращений."""


@group.command("check")
@pass_cli
def check(cli: CliContext) -> None:
    """Проверить меню IVR (ivr_scripts/) и файл поправок календаря."""
    settings = cli.settings
    library = IvrLibrary(settings.ivr_scripts_dir, PromptCatalog.load())
    _stamp, files = read_scripts_dir(settings.ivr_scripts_dir)
    result = library.check(files)
    problems = [str(e) for e in result.errors]
    try:
        load_calendar(settings)
    except (CalendarError, OSError) as exc:
        problems.append(str(exc))
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
    try:
        calendar = load_calendar(cli.settings)
    except (CalendarError, OSError) as exc:
        fail(str(exc))
    now = Clock.from_settings(cli.settings).local_now()
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
        async with open_store(cli.settings) as store:
            rows = await store.appeals.in_period(start, end)
        lines = []
        for a in rows:
            local = a.arrived_at.astimezone(cli.settings.tz)
            if a.abandoned:
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

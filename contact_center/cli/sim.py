"""`contact-center sim hotline-calls --count N [--digits D]`: simulated callers (smoke test).

The callers are answered in this process (a Service with the hotline flow): stop a running
`contact-center serve` on the same Asterisk first, or two services answer the same call.
Needs the sim dialplan ([sim-callers]: the local Asterisk has it).
"""

from __future__ import annotations

from datetime import timedelta

import click

from contact_center.calendar import WorkCalendar
from contact_center.cli import report
from contact_center.cli.common import EXIT_FAILURE, CliContext, fail, run
from contact_center.clock import Clock
from contact_center.hotline.sim import SimRun, run_callers, settle
from contact_center.settings import Settings
from contact_center.telephony.exceptions import AmiConnectionError, AmiLoginError, TelephonyError


@click.group("sim")
def group() -> None:
    """Модель абонентов: проверка установки без людей у телефонов."""


async def _calls(
    cli: CliContext, count: int, digits: str, give_up: float | None, timeout: float
) -> SimRun:
    # the plugins are built but not started: only the hotline answers these callers
    async with cli.app().running(parts=False) as service:
        await service.speech.build_prompts()
        result = await run_callers(service, count, digits, give_up_after=give_up, timeout=timeout)
        if cli.settings.sim_operator_wrapup_time >= 0:
            # let the sim operators finish their post-call work before the service stops
            await settle(service, cli.settings.sim_operator_wrapup_time + 5)
        return result


@group.command("hotline-calls")
@click.option("--count", default=5, show_default=True, type=click.IntRange(1, 500))
@click.option("--digits", default="0", show_default=True, help="Что нажать в меню (0 — оператор).")
@click.option("--give-up", type=float, default=None, help="Положить трубку через N с после клавиш.")
@click.option("--timeout", default=300.0, show_default=True, help="Ждать окончания не дольше, с.")
@click.option(
    "--in-hours",
    is_flag=True,
    help="Если линия сейчас закрыта, звонить по модельным часам: в её ближайшее открытие.",
)
@click.option("--report", "with_report", is_flag=True, help="Напечатать отчёт за день звонков.")
@click.pass_context
def hotline_calls(
    ctx: click.Context,
    count: int,
    digits: str,
    give_up: float | None,
    timeout: float,
    in_hours: bool,
    with_report: bool,
) -> None:
    """Позвонить на горячую линию COUNT раз одновременно и дождаться окончания всех вызовов."""
    cli: CliContext = ctx.obj
    settings = cli.settings
    if in_hours:
        settings = _shift_into_hours(settings)
        if settings is not cli.settings:
            moment = Clock.from_settings(settings).local_now()
            click.echo(f"Линия сейчас закрыта: звоним по модельным часам, {moment:%d.%m.%Y %H:%M}.")
    try:
        shifted = CliContext(settings=settings, plugins=cli.plugins)
        result = run(_calls(shifted, count, digits, give_up, timeout))
    except ValueError as exc:
        fail(str(exc))
    except AmiLoginError as exc:
        fail(f"Asterisk отклонил вход AMI: {exc}", EXIT_FAILURE)
    except AmiConnectionError as exc:
        fail(f"Нет связи с Asterisk ({exc}); запуск: contact-center asterisk start", EXIT_FAILURE)
    except TelephonyError as exc:
        fail(f"Ошибка связи с Asterisk: {exc}", EXIT_FAILURE)
    ended = result.finished
    click.echo(f"Вызовов {len(result.calls)}, завершено {len(ended)} за {result.seconds:.1f} с:")
    for sim in result.calls:
        call = sim.call
        if call is None:
            click.echo(f"  {sim.channel_id}: {sim.error or 'не завершён за отведённое время'}")
            continue
        click.echo(
            f"  {call.number}: {' '.join(call.path) or '—'}; завершил: {call.ended_by or '?'}"
        )
    if with_report:
        day = Clock.from_settings(settings).local_now().date().isoformat()
        ctx.obj = CliContext(settings=settings, plugins=cli.plugins)
        ctx.invoke(report.hotline, date_from=day, date_to=day, fmt="text")
    if len(ended) < len(result.calls):
        raise click.exceptions.Exit(EXIT_FAILURE)


def _shift_into_hours(settings: Settings) -> Settings:
    """Settings whose clock stands a minute after the hotline's next opening, if closed now."""
    path = settings.calendar_file
    overrides = path.read_text(encoding="utf-8") if path.is_file() else ""
    calendar = WorkCalendar.from_text(settings.hotline_hours, overrides, path.name)
    now = Clock.from_settings(settings).local_now()
    if calendar.is_open(now) and calendar.is_open(now + timedelta(minutes=5)):
        return settings
    opens = calendar.next_opening(now) + timedelta(minutes=1)
    return settings.replace(clock_offset=settings.clock_offset + (opens - now).total_seconds())

"""`contact-center campaign ...` and `contact-center scenario ...` (Russian for the user).

The CLI works on the same database as `contact-center serve`: it creates and steers
campaigns; the service's dialer places the calls and its mailer sends the letters.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from autoinformer.campaigns.service import CHANNEL_RU, CampaignSpec, CreateResult
from autoinformer.campaigns.status import CampaignStatus
from autoinformer.email import UnsubscribeTokenError
from autoinformer.exceptions import AutoinformerError, CallListError
from autoinformer.lists import EmptyListError, ParsedList
from autoinformer.phone.pacing import pace_text
from autoinformer.plugin import Autoinformer
from autoinformer.reports import CAMPAIGN_RU, WAITING_RU
from autoinformer.scenarios import DEFAULT_SCENARIO, KIND_RU, KINDS
from autoinformer.scheduling import (
    CallingWindows,
    Window,
    parse_caps,
    parse_days,
    retry_policy,
)
from autoinformer.unsubscribe import Unsubscription, extract_token
from contact_center.cli.common import (
    EXIT_FAILURE,
    CliContext,
    fail,
    pass_cli,
    refuse_binary_on_terminal,
    run,
    write_report,
)
from contact_center.customers.filters import FilterError, parse_filters
from contact_center.service_state import service_status_line
from contact_center.spreadsheets import FORMATS

T = TypeVar("T")
STATE_RU = CAMPAIGN_RU


def _run(cli: CliContext, action: Callable[[Autoinformer], Awaitable[T]]) -> T:
    async def go() -> T:
        async with cli.app() as app:
            return await action(app.part(Autoinformer))

    try:
        return run(go())
    except AutoinformerError as exc:
        fail(str(exc))
    except (OperationalError, ProgrammingError) as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            fail("база данных не готова: выполните contact-center db upgrade", EXIT_FAILURE)
        raise
    raise AssertionError("unreachable")  # pragma: no cover


def _when(raw: str | None, tz: ZoneInfo, option: str) -> datetime | None:
    if raw is None:
        return None
    text = raw.strip().replace(" ", "T", 1)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        try:
            value = datetime.strptime(raw.strip(), "%d.%m.%Y %H:%M")
        except ValueError:
            fail(f"{option}: дата и время вида 2026-12-01T09:00, а не «{raw}»")
            raise
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _day(raw: str | None, option: str) -> date | None:
    if raw is None:
        return None
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(raw.strip(), fmt).date()
        except ValueError:
            continue
    fail(f"{option}: дата вида 2026-12-01 или 01.12.2026, а не «{raw}»")
    raise AssertionError("unreachable")  # pragma: no cover


def _local(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%d.%m.%Y %H:%M") if value else "—"


# ============================================================================ campaign


@click.group("campaign")
def campaign() -> None:
    """Кампании автоинформирования: создание, запуск, ход, отчёт."""


@campaign.command("create")
@click.option("--name", required=True, help="Название кампании.")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="Вид уведомления.")
@click.option("--scenario", default=None, help="Сценарий (имя или имя@версия).")
@click.option(
    "--list",
    "list_path",
    default=None,
    help="CSV со списком абонентов или `customers` (база: абоненты с договором).",
)
@click.option(
    "--where",
    "where",
    multiple=True,
    help=(
        "Отбор из базы (--list customers), можно несколько: «address=ул. Чкалова; ул. Ленина, "
        "д. 5, 7, 10-20», «debt>=1000», «debt_date<2026-11-01», «email_consent=да»."
    ),
)
@click.option(
    "--outage",
    "outage_id",
    type=int,
    default=None,
    help="Отключение из реестра (outages list): абоненты по его адресам, без списка.",
)
@click.option(
    "--channel",
    type=click.Choice(["phone", "email", "both"]),
    default="phone",
    show_default=True,
    help="Звонки, письма (только с согласием: email, email_consent) или оба пути.",
)
@click.option("--start", default=None, help="Начало, ISO (по умолчанию сейчас).")
@click.option("--end", default=None, help="Конец, ISO.")
@click.option("--window", default=None, help="Окно звонков ЧЧ:ММ-ЧЧ:ММ на все дни.")
@click.option(
    "--days", default="all", show_default=True, help="mon-fri, mon,wed,sat, all, working."
)
@click.option("--concurrency", type=int, default=10, show_default=True)
@click.option("--ring-timeout", type=float, default=None, help="Секунд дозвона.")
@click.option("--retry", "retries", multiple=True, help="ИСХОД=ПОПЫТКИ/ИНТЕРВАЛ, напр. busy=2/5m.")
@click.option("--caps", default=None, help="СУТКИ/НЕДЕЛЯ/МЕСЯЦ или none.")
@click.option("--priority", type=int, default=0, show_default=True)
@click.option("--outage-start", default=None, help="Начало отключения, ISO.")
@click.option(
    "--outage-end", default=None, help="Конец отключения, ISO (для строк списка без него)."
)
@click.option("--decision-date", default=None, help="Дата решения об отключении.")
@click.option("--timezone", default=None, help="Часовой пояс абонентов по умолчанию.")
@pass_cli
def create(
    cli: CliContext,
    name: str,
    kind: str,
    scenario: str | None,
    list_path: str | None,
    where: tuple[str, ...],
    outage_id: int | None,
    channel: str,
    start: str | None,
    end: str | None,
    window: str | None,
    days: str,
    concurrency: int,
    ring_timeout: float | None,
    retries: tuple[str, ...],
    caps: str | None,
    priority: int,
    outage_start: str | None,
    outage_end: str | None,
    decision_date: str | None,
    timezone: str | None,
) -> None:
    """Создать кампанию; печатает её номер. Отказ: код 2 и причина.

    Список — CSV (--list ФАЙЛ.csv), база (--list customers, с отбором --where) или
    отключение из реестра (--kind outage --outage ID: его адреса, начало и конец)."""
    settings = cli.settings
    tz = ZoneInfo(timezone or settings.timezone)
    if outage_id is not None and list_path is None:
        list_path = "customers"  # the outage's customers; a file given too is refused below
    if list_path is None:
        fail("нужен список: --list ФАЙЛ.csv, --list customers или --outage ID")
        return
    if where and list_path != "customers":
        fail("--where отбирает потребителей из базы: нужен --list customers")
    try:
        filters = parse_filters(where)
    except FilterError as exc:
        fail(str(exc))
        return
    try:
        weekdays, working_only = parse_days(days)
        windows = CallingWindows(days=weekdays, working_only=working_only)
        if window:
            one = Window.parse(window)
            windows = CallingWindows(one, one, weekdays, working_only)
        spec = CampaignSpec(
            name=name,
            kind=kind,
            scenario=scenario or DEFAULT_SCENARIO[kind],
            channel=channel,
            start=_when(start, tz, "--start"),
            end=_when(end, tz, "--end"),
            windows=windows,
            concurrency=concurrency,
            ring_timeout=ring_timeout if ring_timeout is not None else settings.ring_timeout,
            retry=retry_policy(retries),
            caps=parse_caps(caps) if caps is not None else None,
            priority=priority,
            outage_start=_when(outage_start, tz, "--outage-start"),
            outage_end=_when(outage_end, tz, "--outage-end"),
            decision_date=_day(decision_date, "--decision-date"),
            timezone=timezone,
            where=filters,
            outage_id=outage_id,
        )
    except ValueError as exc:
        fail(str(exc))
        return
    data: bytes | None = None
    list_file: str = list_path
    if list_path != "customers":
        try:
            data = Path(list_path).read_bytes()
        except OSError as exc:
            fail(f"--list: не читается файл {list_path}: {exc.strerror}")
            return

    async def go(ai: Autoinformer) -> CreateResult | EmptyListError:
        try:
            return await ai.campaigns.create(
                spec, list_data=data, list_name=Path(list_file).name, from_base=data is None
            )
        except EmptyListError as exc:
            return exc
        except CallListError as exc:
            # the list's own problem (not text, no header...): say which file it is
            raise CallListError(f"--list {Path(list_file).name}: {exc}") from None

    result = _run(cli, go)
    if isinstance(result, EmptyListError):
        # a count alone would send the supervisor back to the file guessing: say each row
        _echo_notes(result.parsed)
        fail(f"Кампания не создана: {result}.")
        return
    parsed = result.parsed
    _echo_notes(parsed)
    counts = []
    if channel != "email":
        counts.append(f"абонентов для звонка {result.contacts}")
    if channel != "phone":
        counts.append(f"писем {result.letters}")
    click.echo(
        f"Кампания {result.campaign_id} создана ({CHANNEL_RU[channel]}): {', '.join(counts)}, "
        f"отклонено строк {len(parsed.rejected)}, частично {len(parsed.partial)}, "
        f"повторов {len(parsed.duplicates)}, отказавшихся {len(parsed.opted_out)}; "
        f"конец {_local(result.end_at, tz)}. "
        f"Запуск: contact-center campaign start {result.campaign_id}",
        err=True,
    )
    click.echo(result.campaign_id)


def _echo_notes(parsed: ParsedList) -> None:
    for note in parsed.rejected:
        click.echo(f"отклонена {note}", err=True)
    for note in parsed.partial:
        click.echo(f"частично отклонена {note}", err=True)
    for note in parsed.duplicates + parsed.opted_out:
        click.echo(f"пропущена {note}", err=True)


def _state_command(verb: str, method: str, done: str) -> click.Command:
    @click.command(verb)
    @click.argument("campaign_id", type=int)
    @pass_cli
    def command(cli: CliContext, campaign_id: int) -> None:
        _run(cli, lambda ai: getattr(ai.campaigns, method)(campaign_id))
        click.echo(f"Кампания {campaign_id} {done}.")

    command.help = {
        "start": "Запустить кампанию (звонит и пишет сервис: contact-center serve).",
        "pause": "Приостановить: начатые звонки и письмо доводятся до конца.",
        "resume": (
            "Возобновить приостановленную кампанию; у идущей — снова рассылать письма, "
            "остановленные ошибкой настроек SMTP."
        ),
        "cancel": "Отменить: не дозвонившиеся и неотправленные письма получают итог cancelled.",
    }[verb]
    return command


campaign.add_command(_state_command("start", "start", "запущена"))
campaign.add_command(_state_command("pause", "pause", "приостановлена"))
campaign.add_command(_state_command("resume", "resume", "возобновлена"))
campaign.add_command(_state_command("cancel", "cancel", "отменена"))


def state_ru(st: CampaignStatus, now: datetime, tz: ZoneInfo) -> str:
    """«идёт», or «запланирована на …» for a started campaign whose start is still ahead."""
    if st.status in ("created", "running") and st.start_at > now:
        return f"запланирована на {_local(st.start_at, tz)}"
    return STATE_RU.get(st.status, st.status)


def status_line(st: CampaignStatus, tz: ZoneInfo, now: datetime | None = None) -> str:
    reasons = ", ".join(f"{WAITING_RU.get(k, k)}: {v}" for k, v in st.waiting_reasons.items())
    parts: list[str] = []
    if st.channel != "email":
        parts.append(
            f"всего {st.total}, ожидают {st.waiting}"
            + (f" ({reasons})" if reasons else "")
            + f", звонков сейчас {st.calling}, оповещено {st.notified}, без оповещения "
            f"{st.failed}, повторов впереди {st.retries_due}"
        )
    mail = st.email
    if mail is not None:
        parts.append(
            f"письма: всего {mail.total}, в очереди {mail.queued}, отправляется {mail.sending}, "
            f"принято {mail.accepted}, отложено {mail.deferred} (ждут повтора "
            f"{mail.retries_due}), не доставлено {mail.failed}, не подтверждено {mail.unknown}"
            + (f"; РАССЫЛКА ПИСЕМ ПРИОСТАНОВЛЕНА: {mail.paused}" if mail.paused else "")
        )
    return (
        f"Кампания {st.id} «{st.name}» "
        + (state_ru(st, now, tz) if now is not None else STATE_RU.get(st.status, st.status))
        + ": "
        + "; ".join(parts)
        + f"; начало {_local(st.start_at, tz)}, конец {_local(st.end_at, tz)}, ожидаемое "
        f"окончание {_local(st.expected_finish, tz)}"
        + (f"; {pace_text(st.pace)}" if st.pace is not None else "")
        + (f"; {st.outage_note}" if st.outage_note else "")
    )


@campaign.command("status")
@click.argument("campaign_id", type=int)
@click.option("--follow", is_flag=True, help="Показывать ход, пока кампания не закончится.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--interval", type=float, default=2.0, show_default=True, help="Секунд между строками."
)
@pass_cli
def status(cli: CliContext, campaign_id: int, follow: bool, fmt: str, interval: float) -> None:
    """Ход кампании: ожидают, звонков сейчас, оповещено, повторы, сроки."""
    tz = ZoneInfo(cli.settings.timezone)

    def show(st: CampaignStatus, now: datetime) -> None:
        if fmt == "json":
            click.echo(json.dumps(st.to_data(), ensure_ascii=False))
        else:
            click.echo(status_line(st, tz, now))

    async def go(ai: Autoinformer) -> None:
        last = None
        last_service: str | None = None
        while True:
            st = await ai.campaigns.status(campaign_id)
            now = ai.campaigns.clock.now()
            service = await service_status_line(ai.campaigns.sessions, now, tz)
            if fmt == "text" and service != last_service and service is not None:
                click.echo(service)
            last_service = service
            if st != last:
                show(st, now)
                last = st
            if not follow or st.finished:
                return
            await asyncio.sleep(interval)

    _run(cli, go)


@campaign.command("report")
@click.argument("campaign_id", type=int)
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="csv", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--status",
    "status_filter",
    default=None,
    help="Только строки: not-notified, not-reached, notified, waiting или итог звонка (busy…).",
)
@pass_cli
def report(
    cli: CliContext, campaign_id: int, fmt: str, output: Path | None, status_filter: str | None
) -> None:
    """Отчёт: строка на абонента (телефон, лицевой счёт, итог звонка, попытки; письмо:
    адрес, итог, ответ сервера...) и итоги по обоим путям.

    CSV открывается в Excel как есть (UTF-8 с BOM, «;», десятичная запятая), без итогов:
    итоги — на листе «Итоги» в XLSX и в JSON. XLSX — двоичный файл: нужен --output или
    перенаправление вывода в файл."""
    refuse_binary_on_terminal(fmt, output)
    write_report(
        _run(cli, lambda ai: ai.campaigns.report_file(campaign_id, fmt, status_filter)), output
    )


@campaign.command("proof")
@click.argument("campaign_id", type=int)
@click.option("--account", required=True, help="Лицевой счёт абонента.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Файл ZIP (по умолчанию доказательство_<кампания>_<счёт>.zip в текущей папке).",
)
@pass_cli
def proof(cli: CliContext, campaign_id: int, account: str, out: Path | None) -> None:
    """Доказательство уведомления абонента (ZIP): записи звонков, текст и звук того, что
    было проиграно, журнал попыток (время, нажатые клавиши, канал Asterisk) и SHA-256
    каждого файла (manifest.json, SHA256SUMS)."""
    pack = _run(cli, lambda ai: ai.proofs.pack(campaign_id, account))
    target = out or Path(pack.filename)
    try:
        target.write_bytes(pack.content)
    except OSError as exc:
        fail(f"файл {target} не записан: {exc.strerror or exc}", EXIT_FAILURE)
    click.echo(
        f"Доказательство уведомления: {target} ({pack.files} файлов, "
        f"{len(pack.content) / 1024:.0f} КБ)."
    )


@campaign.command("follow-up")
@click.argument("campaign_id", type=int)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    help="Только с этим итогом (busy, no-answer, not-reached-in-time…); по умолчанию все "
    "не оповещённые, кроме оплативших, отказавшихся и отменённых.",
)
@pass_cli
def follow_up(cli: CliContext, campaign_id: int, statuses: tuple[str, ...]) -> None:
    """Оповестить другим путём тех, до кого не дозвонились: письмо, если в базе есть адрес
    с согласием (отдельная кампания писем, запускается сразу), иначе задача оператору
    перезвонить (список «Перезвонить сегодня» на рабочем месте). Каждому — один раз.

    Для кампаний-предупреждений об отключении «не оповещённые в срок» получают это
    само, когда кампания закончилась."""
    result = _run(cli, lambda ai: ai.follow_ups.create(campaign_id, statuses=statuses or None))
    click.echo(result.text())


@campaign.command("list")
@pass_cli
def list_campaigns(cli: CliContext) -> None:
    """Все кампании."""
    tz = ZoneInfo(cli.settings.timezone)
    rows = _run(cli, lambda ai: ai.campaigns.list_campaigns())
    if not rows:
        click.echo("Кампаний нет.")
    for c in rows:
        click.echo(
            f"{c.id:>5}  {STATE_RU.get(c.status, c.status):<15} {KIND_RU.get(c.kind, c.kind):<20} "
            f"{_local(c.start_at, tz)} — {_local(c.end_at, tz)}  {c.name}"
        )


@campaign.command("unsubscribe")
@click.argument("token")
@pass_cli
def unsubscribe(cli: CliContext, token: str) -> None:
    """Отписать адрес от писем этого вида по ссылке из письма.

    TOKEN — токен, вся ссылка или тема письма «unsubscribe v1.…» (если абонент ответил
    на адрес отписки).
    """

    async def go(ai: Autoinformer) -> Unsubscription:
        return await ai.unsubscribes.opt_out(extract_token(token))

    try:
        done = _run(cli, go)
    except UnsubscribeTokenError as exc:
        fail(f"Ссылка отписки не подходит: {exc}")
        return
    if done.already:
        click.echo(f"Адрес {done.masked} уже был отписан от писем {done.letters_ru}.")
    else:
        click.echo(f"Адрес {done.masked} отписан от писем {done.letters_ru}.")
    if done.closed:
        click.echo(f"Не будут отправлены писем из очереди: {done.closed}.")


@campaign.command("demo")
@click.option("--keep-asterisk/--stop-asterisk", default=True)
@pass_cli
def demo(cli: CliContext, keep_asterisk: bool) -> None:
    """Демонстрация на модели абонентов: кампания о долге и о плановом отключении."""
    from autoinformer.demo import run_demo

    try:
        ok = run_demo(cli.settings, echo=click.echo, keep_asterisk=keep_asterisk)
    except AutoinformerError as exc:
        fail(str(exc), EXIT_FAILURE)
        return
    if not ok:
        fail("Демонстрация не удалась: см. сообщения выше.", EXIT_FAILURE)


# ============================================================================ scenario


@click.group("scenario")
def scenario() -> None:
    """Сценарии оповещения: хранятся в базе с версиями."""


@scenario.command("add")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@pass_cli
def scenario_add(cli: CliContext, path: Path) -> None:
    """Добавить сценарий из файла TOML или JSON (изменённый — новой версией)."""
    row, created = _run(cli, lambda ai: ai.campaigns.scenarios.add_file(path))
    if created:
        click.echo(f"Сценарий {row.name} сохранён, версия {row.version}.")
    else:
        click.echo(f"Сценарий {row.name} не изменился (версия {row.version}).")


@scenario.command("list")
@pass_cli
def scenario_list(cli: CliContext) -> None:
    """Сценарии (последние версии)."""
    rows = _run(cli, lambda ai: ai.campaigns.scenarios.latest())
    for row in rows:
        click.echo(
            f"{row.name:<24} v{row.version:<3} {KIND_RU.get(row.kind, row.kind):<20} {row.title}"
        )


@scenario.command("show")
@click.argument("ref")
@pass_cli
def scenario_show(cli: CliContext, ref: str) -> None:
    """Показать сценарий: имя или имя@версия."""

    async def go(ai: Autoinformer) -> tuple[Any, Any]:
        return await ai.scenarios.get(ref)

    row, parsed = _run(cli, go)
    click.echo(
        f"# {row.name}@{row.version} ({row.source}), поля абонента: "
        f"{', '.join(sorted(parsed.fields)) or '—'}"
    )
    click.echo(json.dumps(json.loads(row.body), ensure_ascii=False, indent=2))

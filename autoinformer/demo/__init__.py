"""`contact-center campaign demo`: a debt campaign and a planned-outage campaign on the sim world.

It runs the real thing in one process, built by the composition root as `serve` is: the
AMI link, AsyncAGI, the autoinformer's campaign service and then its dialer, against the
local Asterisk with its sim profile. The campaigns live in a fresh SQLite database of
their own, so a second run shows the same thing (the opt-outs and the frequency caps of
the first run would otherwise leave contacts out). The clock is moved into the calling
window when the demo runs at night, and the demo says so.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import wave
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from autoinformer.campaigns.service import CampaignService, CampaignSpec
from autoinformer.exceptions import AutoinformerError
from autoinformer.phone.config import DialerConfig
from autoinformer.phone.prerender import contact_values
from autoinformer.plugin import Autoinformer, AutoinformerPlugin
from autoinformer.reports import to_text
from autoinformer.scheduling import (
    CallingWindows,
    Caps,
    ProductionCalendar,
    next_call_time,
    retry_policy,
)
from contact_center.app import App, build_app
from contact_center.clock import Clock
from contact_center.devtools.local_asterisk import AsteriskError, LocalAsterisk
from contact_center.settings import Settings
from contact_center.speech import Speech
from contact_center.storage import migrate

DEBT_CSV = Path(__file__).with_name("debt.csv")
SIM_DIAL_TEMPLATE = "Local/{number}@sim-customers"
RETRIES = ("busy=2/5s", "no_answer=2/5s", "failed=2/5s", "hung_up=2/5s")
Echo = Callable[[str], None]


def demo_clock(settings: Settings, calendar: ProductionCalendar) -> tuple[Clock, bool]:
    """The settings' clock, moved to the next calling window if it is outside one now
    (both windows: working-day and weekend hours)."""
    clock = Clock(settings.clock_offset)
    now = clock.now()
    opens = next_call_time(now, settings.tz, CallingWindows(), calendar)
    if opens is None or opens <= now:
        return clock, False
    return Clock(clock.offset_s + (opens - now).total_seconds() + 60), True


def run_demo(settings: Settings, *, echo: Echo = print, keep_asterisk: bool = True) -> bool:
    workdir = Path(tempfile.mkdtemp(prefix="cc-autoinformer-demo-"))
    settings = settings.replace(
        dial_template=SIM_DIAL_TEMPLATE,
        database_url=f"sqlite+aiosqlite:///{workdir / 'demo.db'}",
    )
    local = LocalAsterisk(settings)
    started_here = False
    try:
        if not local.status(with_version=False).running:
            echo("Запускаю Asterisk (asterisk_conf/, профиль sim)...")
            try:
                local.start()
            except AsteriskError as exc:
                raise AutoinformerError(f"Asterisk не запустился: {exc}") from None
            started_here = True
        migrate.upgrade(settings.database_url, [AutoinformerPlugin()])
        clock, moved = demo_clock(settings, ProductionCalendar.from_file(settings.calendar_file))
        if moved:
            settings = settings.replace(clock_offset=clock.offset_s)
            echo(
                "Сейчас вне окна звонков: демонстрация идёт по модельным часам, "
                f"{clock.now().astimezone(settings.tz):%d.%m.%Y %H:%M}."
            )
        return asyncio.run(_demo(settings, echo))
    finally:
        if started_here and not keep_asterisk:
            local.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def wav_seconds(sounds_dir: Path, names: list[str], prefix: str) -> float:
    total = 0.0
    for name in names:
        path = sounds_dir / (name.removeprefix(prefix + "/") + ".wav")
        with wave.open(str(path)) as w:
            total += w.getnframes() / w.getframerate()
    return total


async def _demo(settings: Settings, echo: Echo) -> bool:
    # no unsubscribe endpoint: the demo sends no letters and a running `serve` may hold its port
    plugin = AutoinformerPlugin(
        DialerConfig(tick=0.2, drain_timeout=2.0, queue_timeout=20), http=False
    )
    tz = settings.tz
    async with build_app(settings, plugins=[plugin]).running(parts=False) as service:
        ai = service.part(Autoinformer)
        campaigns, speech, clock = ai.campaigns, service.speech, service.clock
        started = time.monotonic()
        await speech.build_prompts()
        debt = await campaigns.create(
            CampaignSpec(
                name="Долги за ноябрь (демо)",
                kind="debt",
                scenario="debt-notice",
                concurrency=8,
                ring_timeout=4,
                retry=retry_policy(RETRIES),
                # the demo calls the same numbers again: 1 call a day would stop it
                caps=Caps(),
            ),
            list_data=DEBT_CSV.read_bytes(),
            list_name=DEBT_CSV.name,
        )
        _print_list(echo, "Долги", debt.parsed, debt.contacts)
        now = clock.now().astimezone(tz)
        outage_day = (now + timedelta(days=2)).date()
        outage_from = datetime(outage_day.year, outage_day.month, outage_day.day, 10, tzinfo=tz)
        outage_csv = _outage_csv(outage_from)
        try:
            await campaigns.create(
                CampaignSpec(
                    name="Слишком поздно (демо)",
                    kind="outage",
                    scenario="outage-warning",
                    outage_start=now + timedelta(hours=20),
                    decision_date=now.date(),
                ),
                list_data=outage_csv,
                list_name="outage.csv",
            )
        except AutoinformerError as exc:
            echo(f"Отключение через 20 часов: кампания отклонена — {exc}.")
        outage = await campaigns.create(
            CampaignSpec(
                name="Плановое отключение (демо)",
                kind="outage",
                scenario="outage-warning",
                concurrency=8,
                ring_timeout=4,
                retry=retry_policy(RETRIES),
                outage_start=outage_from,
                decision_date=now.date(),
            ),
            list_data=outage_csv,
            list_name="outage.csv",
        )
        _print_list(echo, "Отключение", outage.parsed, outage.contacts)
        await _tune_sim(service, ai, [debt.campaign_id, outage.campaign_id])
        echo(f"Речь и списки готовы за {time.monotonic() - started:.1f} с; звоним...")
        await service.start_parts()
        try:
            for cid in (debt.campaign_id, outage.campaign_id):
                await campaigns.start(cid)
            ok = await _wait(campaigns, [debt.campaign_id, outage.campaign_id], echo)
        finally:
            await service.stop_parts()
        for cid in (debt.campaign_id, outage.campaign_id):
            echo("")
            echo(to_text(await campaigns.report(cid)))
        echo(f"\nДемонстрация заняла {time.monotonic() - started:.0f} с.")
        return ok


def _outage_csv(outage_from: datetime) -> bytes:
    start = outage_from.strftime("%Y-%m-%d %H:%M")
    end = (outage_from + timedelta(hours=6)).strftime("%Y-%m-%d %H:%M")
    lines = ["phone,account,address,outage_start,outage_end"]
    streets = [
        "ул. Чкалова, д. 11",
        "ул. Бочкина, д. 3",
        "ул. Нагорная, д. 7",
        "ул. Заводская, д. 15",
        "ул. Школьная, д. 9",
    ]
    for digit, street in zip("12356", streets, strict=True):
        lines.append(f'+7913000022{digit},24002{digit},"г. Дивногорск, {street}",{start},{end}')
    return ("\n".join(lines) + "\n").encode()


def _print_list(echo: Echo, title: str, parsed: object, contacts: int) -> None:
    echo(f"{title}: абонентов {contacts}.")
    for note in getattr(parsed, "rejected", []):
        echo(f"  отклонена {note}")
    for note in getattr(parsed, "duplicates", []) + getattr(parsed, "opted_out", []):
        echo(f"  пропущена {note}")


async def longest_message(ai: Autoinformer, speech: Speech, campaign_ids: list[int]) -> float:
    """Seconds of the longest message the waiting contacts of these campaigns will hear."""
    campaigns, book = ai.campaigns, ai.book
    longest = 0.0
    for cid in campaign_ids:
        campaign = await campaigns.get(cid)
        scenario = await campaigns.scenarios.by_id(campaign.scenario_id)
        async for contact in book.waiting(cid):
            values = contact_values(contact)
            names = await speech.render(scenario.message_for(values), values)
            longest = max(longest, wav_seconds(speech.sounds_dir, names, speech.asterisk_prefix))
    return longest


async def _tune_sim(service: App, ai: Autoinformer, campaign_ids: list[int]) -> None:
    """The sim customer ending in 8 presses 9 after SIM_CUSTOMER_LISTEN seconds: let it
    hear the longest message first (it is an "opted out, and notified" customer)."""
    longest = await longest_message(ai, service.speech, campaign_ids)
    await service.link.action(
        "Setvar", Variable="SIM_CUSTOMER_LISTEN", Value=f"{longest + 1.5:.1f}"
    )


async def _wait(campaigns: CampaignService, ids: list[int], echo: Echo) -> bool:
    deadline = time.monotonic() + 300
    last = ""
    while time.monotonic() < deadline:
        states = [await campaigns.status(cid) for cid in ids]
        line = "; ".join(
            f"кампания {s.id}: оповещено {s.notified}, звонков {s.calling}, ожидают {s.waiting}, "
            f"завершено {s.done}/{s.total}"
            for s in states
        )
        if line != last:
            echo("  " + line)
            last = line
        if all(s.finished for s in states):
            return True
        await asyncio.sleep(1.0)
    echo("Кампании не закончились за 5 минут.")
    return False

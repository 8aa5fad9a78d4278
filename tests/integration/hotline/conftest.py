"""The hotline against the session's real Asterisk: an app per test on its own database,
simulated callers (sim-callers) and the sim operators of queue `operators`."""

from __future__ import annotations

import asyncio
import inspect
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, overload
from zoneinfo import ZoneInfo

import pytest

from contact_center.app import App, build_app
from contact_center.customers.csv_import import parse_customers
from contact_center.hotline.flow import HotlineCall
from contact_center.hotline.models import Appeal
from contact_center.hotline.sim import SimCall, menu_delay, originate_caller
from contact_center.operators.services import QueueControl
from contact_center.settings import PROJECT_ROOT
from contact_center.speech.service import Speech
from contact_center.storage import migrate
from contact_center.telephony.ami import AmiConfig, AmiLink
from tests.conftest import NewDatabase
from tests.integration.conftest import AsteriskFixture

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("espeak-ng") is None or shutil.which("sox") is None,
        reason="espeak-ng and sox are needed for the hotline's speech",
    ),
]

TZ = ZoneInfo("Asia/Krasnoyarsk")
IN_HOURS = datetime(2026, 12, 2, 10, 0, tzinfo=TZ)  # a Wednesday
OUT_OF_HOURS = datetime(2026, 12, 5, 12, 0, tzinfo=TZ)  # a Saturday
# sim operators: quick to answer, short conversations (globals of the sim dialplan)
SIM_GLOBALS = {"SIM_OPERATOR_ANSWER_DELAY": "0.2", "SIM_OPERATOR_TALK_TIME": "1"}
CUSTOMERS = (
    "account,name,address,has_contract,phone,email,email_consent,debt,debt_date\n"
    '100200,Иванов Иван Иванович,"г. Дивногорск, ул. Чкалова, д. 5, кв. 12",да,'
    "+79135550101,,нет,1500.50,2026-11-20\n"
    '100300,Петрова Анна,"г. Дивногорск, ул. Ленина, д. 7",да,+79135550102,,нет,0,\n'
)
T = TypeVar("T")


def offset_to(moment: datetime) -> float:
    """The clock offset that makes the service's now `moment`."""
    return (moment - datetime.now(TZ)).total_seconds()


@overload
async def until(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float, what: str, every: float = ...
) -> T: ...
@overload
async def until(
    probe: Callable[[], T | None], *, timeout: float, what: str, every: float = ...
) -> T: ...
async def until(
    probe: Callable[[], T | Awaitable[T | None] | None],
    *,
    timeout: float,
    what: str,
    every: float = 0.05,
) -> T:
    """Poll `probe` (plain or async) until it returns something truthy, or fail naming
    `what`; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        value: T | None = await result if inspect.isawaitable(result) else result
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(every)


class Hotline:
    """One test's service and its callers."""

    def __init__(self, service: App, delay: float) -> None:
        self.service = service
        self.delay = delay
        self.done: dict[str, HotlineCall] = {}
        self.sims: list[SimCall] = []
        service.hotline.on_call_finished.append(lambda c: self.done.__setitem__(c.uniqueid, c))

    async def call(self, exten: str, *, caller_id: str = "+73914400000") -> SimCall:
        sim = await originate_caller(
            self.service, exten, caller_id=caller_id, dtmf_delay=self.delay
        )
        assert sim.answered, sim.error
        self.sims.append(sim)
        return sim

    def live(self, sim: SimCall) -> HotlineCall | None:
        return self.service.hotline.calls.get(sim.hotline_uniqueid)

    async def started(self, sim: SimCall, timeout: float = 10) -> HotlineCall:
        return await until(lambda: self.live(sim), timeout=timeout, what="the call to start")

    async def finished(self, sim: SimCall, timeout: float = 60) -> HotlineCall:
        return await until(
            lambda: self.done.get(sim.hotline_uniqueid), timeout=timeout, what="the call to end"
        )

    async def hang_up(self, call: HotlineCall) -> None:
        """The caller hangs up (their half of the Local channel)."""
        await self.service.link.action("Hangup", Channel=call.channel.channel.replace(";2", ";1"))

    async def members(self) -> dict[str, Any]:
        return {m.interface: m for m in await self.service.operators.queue.members()}

    async def closed(self, appeal_id: int | None, timeout: float = 60) -> Appeal:
        """The appeal once it is closed (ended_at set), read from the database."""
        assert appeal_id is not None

        async def probe() -> Appeal | None:
            appeal = await self.service.hotline.appeals.get(appeal_id)
            return appeal if appeal.ended_at is not None else None

        return await until(probe, timeout=timeout, what=f"appeal {appeal_id} to close")


MakeHotline = Callable[..., Awaitable[Hotline]]
"""The `hotline` fixture: `await hotline(**settings)` starts an app."""


@pytest.fixture(scope="session")
async def built_prompts(asterisk: AsteriskFixture) -> float:
    """Fixed prompts rendered once; returns when a caller's key lands in the menu."""
    async with Speech.from_settings(asterisk.settings) as speech:
        await speech.build_prompts()
        return await menu_delay(speech)


@pytest.fixture
async def hotline(
    asterisk: AsteriskFixture, built_prompts: float, tmp_path: Path, new_database: NewDatabase
) -> AsyncIterator[MakeHotline]:
    """`await hotline(**settings)`: a started app on a fresh database (in hours unless
    `clock_offset` says otherwise)."""
    services: list[App] = []

    async def make(*, customers: bool = False, **changes: Any) -> Hotline:
        db = new_database(f"hotline_{len(services)}")
        await asyncio.to_thread(migrate.upgrade, db)
        ivr_dir = tmp_path / f"ivr-{len(services)}"
        shutil.copytree(PROJECT_ROOT / "ivr_scripts", ivr_dir)
        values: dict[str, Any] = {
            "database_url": db,
            "ivr_scripts_dir": ivr_dir,
            "clock_offset": offset_to(IN_HOURS),
            "sim_operator_wrapup_time": 0.2,
        }
        values.update(changes)
        service = build_app(asterisk.settings.replace(**values), plugins=())
        services.append(service)
        await service.start()
        for name, value in SIM_GLOBALS.items():
            await service.link.action("Setvar", Variable=name, Value=value)
        if customers:
            parsed = parse_customers(CUSTOMERS.encode(), region="RU")
            assert parsed.ok, parsed.errors
            await service.customers.import_rows(parsed.rows)
        return Hotline(service, built_prompts)

    try:
        yield make
    finally:
        # a link of its own: a test may have stopped a service or cut its link
        cleanup = AmiLink(AmiConfig.from_settings(asterisk.settings))
        await cleanup.connect(timeout=10)
        try:
            # every hotline caller still on (a call handed to the dialplan outlives its flow)
            for event in await cleanup.action_list("CoreShowChannels"):
                if str(event.get("Channel", "")).startswith("Local/s@hotline-"):
                    try:
                        await cleanup.action("Hangup", Channel=str(event.get("Uniqueid")))
                    except Exception:  # gone meanwhile
                        pass
            for service in services:
                await service.aclose()
            # leave the shared Asterisk as we found it: every sim operator unpaused
            queue = QueueControl(cleanup)
            for member in await queue.members():
                if member.paused:
                    await queue.set_paused(member.interface, False)
            s = asterisk.settings
            for name, value in (
                ("SIM_OPERATOR_TALK_TIME", s.sim_operator_talk_time),
                ("SIM_OPERATOR_ANSWER_DELAY", s.sim_operator_answer_delay),
            ):
                await cleanup.action("Setvar", Variable=name, Value=f"{value:g}")
        finally:
            for service in services:
                await service.aclose()
            await cleanup.close()

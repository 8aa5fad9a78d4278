"""Real SIP end to end: an Asterisk of this package's own (started once for its tests) with
SIP on a free loopback port, an operator phone and a carrier, both baresip
(tests/integration/sip/baresip.py).

The session's Asterisk (tests/conftest.py) binds no SIP and stays as it is; this one is
rendered from the same asterisk_conf/ with the trunk and operator files made from
asterisk_conf/examples/: the trunk points at the carrier UA and is identified by its
`IP:port` (on one host the operator phone shares the IP), the operator phone `op101` gets a
random password. Its queue has no sim operators: the operator UA is the only one.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from autoinformer.phone.config import DialerConfig
from autoinformer.plugin import Autoinformer, AutoinformerPlugin
from contact_center.app import App, build_app
from contact_center.clock import Clock
from contact_center.devtools.local_asterisk import LocalAsterisk
from contact_center.hotline.sim import menu_delay
from contact_center.operators.models import OperatorState
from contact_center.settings import PROJECT_ROOT, Settings
from contact_center.speech.service import Speech
from contact_center.storage import migrate
from contact_center.telephony.exceptions import TelephonyError
from tests.conftest import NewDatabase
from tests.integration.conftest import asterisk_settings, short_runtime_dir
from tests.integration.sip import baresip
from tests.integration.sip.audio import write_tone
from tests.integration.sip.baresip import Baresip
from tests.integration.waiting import wait_for

# the test modules' marks: baresip itself is not optional (CI installs it: a missing one
# fails the `sip_world` fixture); the prompts need espeak-ng and sox as the hotline's do
SIP_MARKS = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("espeak-ng") is None or shutil.which("sox") is None,
        reason="espeak-ng and sox are needed for the prompts",
    ),
]

TZ = ZoneInfo("Asia/Krasnoyarsk")
IN_HOURS = datetime(2026, 12, 2, 10, 0, tzinfo=TZ)  # a Wednesday
OPERATOR = "op101"
# the carrier UA's one number: the hotline's caller and the customer campaigns and
# call-backs dial (baresip answers only a Request-URI naming its account's user)
CARRIER_NUMBER = "79135550101"
HOTLINE_DID = "73912000000"
# each UA sends its own tone: what one hears is told apart from what it sent
OPERATOR_TONE, CARRIER_TONE = 440.0, 1000.0
EXAMPLES = PROJECT_ROOT / "asterisk_conf" / "examples"
FAST = DialerConfig(tick=0.2, orphan_grace=30.0, drain_timeout=0.0, queue_timeout=15.0)


@dataclass
class SipWorld:
    settings: Settings
    local: LocalAsterisk
    operator: Baresip
    carrier: Baresip
    menu_delay: float

    @property
    def sip_uri_host(self) -> str:
        return f"127.0.0.1:{self.settings.sip_port}"


def render(example: str, replacements: dict[str, str]) -> str:
    """An example file of asterisk_conf/examples/ with values filled in; each replaced text
    must be there (an example that changed shape fails here, not as a silent bad config)."""
    text = (EXAMPLES / example).read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, f"{example} no longer has {old!r}"
        text = text.replace(old, new)
    return text


def write_secrets(folder: Path, *, carrier_port: int, operator_password: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    trunk = render(
        "pjsip_trunk.conf.example",
        {
            "contact = sip:sip.carrier.example:5060": f"contact = sip:127.0.0.1:{carrier_port}",
            "match = sip.carrier.example": f"match = 127.0.0.1:{carrier_port}",
            # no from_user: the From of our calls is then the service's CC_CALLER_ID, which
            # the tests check arrives (never "Anonymous")
            "from_user = CHANGE-ME": "; from_user left out",
            "CHANGE-ME": "carrier",
        },
    )
    (folder / "pjsip_trunk.conf").write_text(trunk, encoding="utf-8")
    operators = render("pjsip_operators.conf.example", {"CHANGE-ME-LONG-RANDOM": operator_password})
    (folder / "pjsip_operators.conf").write_text(operators, encoding="utf-8")
    return folder


@pytest.fixture(scope="package")
async def sip_world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SipWorld]:
    why_not = baresip.available()
    if why_not is not None:
        pytest.fail(why_not)
    tmp = tmp_path_factory.mktemp("sip")
    runtime = short_runtime_dir(tmp_path_factory, "sipast")
    password = secrets.token_hex(12)
    sip_port = baresip.free_port()
    operator = Baresip(
        "operator",
        tmp / "operator",
        account=(
            f"<sip:{OPERATOR}@127.0.0.1:{sip_port}>;auth_pass={password};answermode=auto;regint=300"
        ),
        source_wav=write_tone(tmp / "operator.wav", OPERATOR_TONE, 120),
        rtp_ports=(31000, 31099),
    )
    carrier = Baresip(
        "carrier",
        tmp / "carrier",
        # no registration: the trunk knows the carrier by its address
        account=f"<sip:{CARRIER_NUMBER}@127.0.0.1:{sip_port}>;regint=0;answermode=auto",
        source_wav=write_tone(tmp / "carrier.wav", CARRIER_TONE, 120),
        rtp_ports=(31100, 31199),
    )
    settings = asterisk_settings(
        runtime,
        sip_bind="127.0.0.1",
        sip_port=sip_port,
        asterisk_secrets_dir=write_secrets(
            tmp / "secrets",
            carrier_port=carrier.sip_port,
            operator_password=password,
        ),
        sim_operators=0,
        dial_template="PJSIP/{number}@trunk",
    )
    local = LocalAsterisk(settings)
    await asyncio.to_thread(local.start, 30)
    started: list[Baresip] = []
    try:
        async with Speech.from_settings(settings) as speech:
            await speech.build_prompts()
            delay = await menu_delay(speech)
        for ua in (operator, carrier):
            await ua.start()
            started.append(ua)
        await registered(local, OPERATOR, 15)
        yield SipWorld(settings, local, operator, carrier, delay)
    finally:
        for ua in started:
            await ua.stop()
        await asyncio.to_thread(local.stop, 15)


async def registered(local: LocalAsterisk, aor: str, timeout: float) -> None:
    """Wait until Asterisk has a reachable contact for `aor` (the phone registered: it may
    have done so before our control link listened for its events)."""
    deadline = time.monotonic() + timeout
    while True:
        out = await asyncio.to_thread(local.rx, f"pjsip show aor {aor}", 5)
        if re.search(rf"Contact:\s+{aor}/sip:\S+\s+\S+\s+(Avail|NonQual)", out):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{aor} did not register within {timeout:g} s:\n{out}")
        await asyncio.sleep(0.2)


@dataclass
class Service:
    app: App
    autoinformer: Autoinformer
    tmp: Path


# `async with service(**settings) as s:` an app on this package's Asterisk
ServiceFactory = Callable[..., AbstractAsyncContextManager[Service]]


@pytest.fixture
async def service(
    sip_world: SipWorld, new_database: NewDatabase, tmp_path: Path
) -> AsyncIterator[ServiceFactory]:
    @asynccontextmanager
    async def make(**changes: Any) -> AsyncIterator[Service]:
        db = new_database("sip")
        await asyncio.to_thread(migrate.upgrade, db, [AutoinformerPlugin()])
        ivr_dir = tmp_path / "ivr"
        if not ivr_dir.exists():
            shutil.copytree(PROJECT_ROOT / "ivr_scripts", ivr_dir)
        values: dict[str, Any] = {
            "database_url": db,
            "ivr_scripts_dir": ivr_dir,
            "clock_offset": Clock.at(IN_HOURS).offset_s,
            "http_port": 0,
        }
        values.update(changes)
        for ua in (sip_world.operator, sip_world.carrier):
            for old in ua.records.glob("*.wav"):
                old.unlink()
        app = build_app(sip_world.settings.replace(**values), plugins=[AutoinformerPlugin(FAST)])
        async with app.running() as running:
            try:
                yield Service(running, running.part(Autoinformer), tmp_path)
            finally:
                await running.stop_parts()
                # no call of this test may ring into the next one
                for ua in (sip_world.operator, sip_world.carrier):
                    await hang_up_all(ua)
                # a test that failed half-way leaves the phone in the queue: the next
                # test's login must find Asterisk as the first one did
                with contextlib.suppress(TelephonyError):
                    await running.link.action(
                        "QueueRemove", Queue="operators", Interface=f"PJSIP/{OPERATOR}"
                    )

    yield make


async def hang_up_all(ua: Baresip) -> None:
    with contextlib.suppress(TimeoutError, ConnectionError):
        await ua.command("hangup", timeout=2)


Waiter = Callable[[], Awaitable[Any]]


async def release_operator(app: App, code: str) -> None:
    """The operator ends post-call work and logs out (the next test logs in afresh)."""

    async def wrapping() -> bool:
        return (await app.operators.get(code)).state == OperatorState.WRAP_UP

    await wait_for(wrapping, 15, f"{code} to be in post-call work")
    await app.operators.wrap_up_done(code)
    await app.operators.logout(code)

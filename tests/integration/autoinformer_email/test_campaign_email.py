"""E-mail campaigns end to end: the campaign's letters, the mailer of `serve`, a real SMTP server
(aiosmtpd on loopback), the report, restarts and the one-click unsubscribe endpoint.

The mailer and the endpoint are built exactly as the autoinformer plugin builds them inside
`contact-center serve` (without Asterisk: e-mail does not need it); the campaign with both
channels runs the whole plugin on the sim world (test_campaign_both.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from autoinformer.campaigns.service import CampaignService, CampaignSpec
from autoinformer.campaigns.status import CampaignStatus
from autoinformer.cli import status_line
from autoinformer.email import verify_unsubscribe_token
from autoinformer.email.book import LetterBook, QueuedLetter
from autoinformer.email.mailer import Mailer, MailerConfig
from autoinformer.models import Letter, OptOut
from autoinformer.phone.book import CallBook
from autoinformer.plugin import AutoinformerPlugin
from autoinformer.reports import to_csv, to_text
from autoinformer.scenarios import parse_scenario
from autoinformer.unsubscribe import Unsubscribes, register_web, unsubscribe_paths
from contact_center.clock import Clock
from contact_center.events import EventHub
from contact_center.settings import Settings
from contact_center.storage import migrate
from contact_center.storage.database import create_engine, session_factory
from contact_center.users.http import SessionAdapter
from contact_center.users.roles import allowed
from contact_center.users.services import build_users
from contact_center.web.console import WebConsole
from tests.integration.conftest import free_tcp_port
from tests.integration.waiting import wait_for

from .conftest import MailServer

T = TypeVar("T")
PROJECT = Path(__file__).resolve().parents[3]
NBSP = "\u00a0"
SECRET = "test-secret-for-links"

SCENARIO = '''
name = "test-mail"
kind = "debt"
title = "Задолженность письмом"
message = "Задолженность {money:debt}."

[email]
subject = "Задолженность {{ debt | money }} по счёту {{ account }}"
text = """
Здравствуйте, {{ name }}!
Задолженность по лицевому счёту {{ account }} на {{ debt_date | date }} \\
составляет {{ debt | money }}.
Оплатите её до {{ pay_by | date(style='digits') }}.
Отказаться от писем: {{ unsubscribe_url }}
"""
html = """
<p>Здравствуйте, {{ name }}!</p>
<p>Задолженность: <b>{{ debt | money }}</b> на {{ debt_date | date(style='digits') }}.</p>
<p><a href="{{ unsubscribe_url }}">Отказаться от писем</a></p>
"""
'''

FAST = MailerConfig(
    tick=0.05,
    batch=10,
    rounds=2,
    retry_delay=0.3,
    unavailable_backoff=0.3,
    drain_timeout=2.0,
    sender={
        "attempts": 3,
        "base_delay": 0.02,
        "max_delay": 0.2,
        "timeout": 5.0,
        "local_hostname": "cc.test",
    },
)


def with_sender(config: MailerConfig = FAST, **sender: Any) -> MailerConfig:
    return dataclasses.replace(config, sender={**config.sender, **sender})


def listing(
    *rows: str, header: str = "account,name,email,email_consent,debt,debt_date,pay_by"
) -> bytes:
    return ("\n".join((header, *rows)) + "\n").encode()


def people(count: int, start: int = 1) -> bytes:
    return listing(
        *(
            f'{n},Абонент {n},customer{n}@example.ru,да,"1 {n:03d},50",25.11.2026,05.12.2026'
            for n in range(start, start + count)
        )
    )


@dataclass
class Desk:
    """A database, the campaign service the CLI uses, and mailers as `serve` runs them."""

    settings: Settings
    campaigns: CampaignService
    calls: CallBook
    server: MailServer
    mailers: list[Mailer] = field(default_factory=list)
    book_factory: Callable[[], LetterBook] | None = None

    def mailer(self, config: MailerConfig = FAST) -> Mailer:
        book = (
            self.book_factory()
            if self.book_factory
            else LetterBook(self.campaigns.sessions, self.calls)
        )
        mailer = Mailer(
            book=book,
            scenarios=self.campaigns.scenarios,
            settings=self.settings,
            clock=self.campaigns.clock,
            config=config,
        )
        mailer.start()
        self.mailers.append(mailer)
        return mailer

    async def campaign(
        self, data: bytes, *, kind: str = "debt", scenario: str = "test-mail"
    ) -> int:
        created = await self.campaigns.create(
            CampaignSpec(name="Письма", kind=kind, scenario=scenario, channel="email"),
            list_data=data,
        )
        return created.campaign_id

    async def letters(self, campaign_id: int) -> list[Letter]:
        async with self.campaigns.sessions() as session:
            rows = await session.scalars(
                select(Letter).where(Letter.campaign_id == campaign_id).order_by(Letter.id)
            )
            return list(rows)

    async def finished(self, campaign_id: int, timeout: float = 20) -> CampaignStatus:
        async def probe() -> CampaignStatus | None:
            st = await self.campaigns.status(campaign_id)
            return st if st.finished else None

        return await wait_for(probe, timeout, f"campaign {campaign_id} to finish")


@pytest.fixture
async def desk(mail_server: MailServer, tmp_path: Path) -> AsyncIterator[Desk]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'mail.db'}"
    await asyncio.to_thread(migrate.upgrade, url, [AutoinformerPlugin()])
    http_port = free_tcp_port()
    settings = Settings(
        database_url=url,
        smtp_host=mail_server.host,
        smtp_port=mail_server.port,
        smtp_rate=0,
        unsubscribe_secret=SECRET,
        unsubscribe_base_url=f"http://127.0.0.1:{http_port}/unsubscribe",
        http_port=http_port,
    )
    engine = create_engine(url)
    sessions = session_factory(engine)
    campaigns = CampaignService(sessions, clock=Clock(), timezone=settings.timezone)
    await campaigns.scenarios.add(parse_scenario(tomllib.loads(SCENARIO), "test-mail.toml"), "t")
    d = Desk(settings, campaigns, CallBook(sessions), mail_server)
    try:
        yield d
    finally:
        for mailer in d.mailers:
            await mailer.stop()
        await engine.dispose()


def by_address(server: MailServer) -> dict[str, EmailMessage]:
    return {m["To"].addresses[0].addr_spec: m for m in server.messages()}


# --- delivery ----------------------------------------------------------------------------


async def test_only_consenting_addresses_get_letters_with_the_right_headers_amount_and_date(
    desk: Desk,
) -> None:
    data = listing(
        '10-1,Иванов Иван Иванович,ivanov@example.ru,да,"1 500,50",25.11.2026,05.12.2026',
        "10-2,Петров Пётр,petrov@example.ru,нет,200,25.11.2026,05.12.2026",
        "10-3,Сидоров,,да,300,25.11.2026,05.12.2026",
        '10-4,Кузнецова Анна,anna@пример.рф,1,"2 000",2026-11-25,2026-12-05',
        "10-5,Кириллица,иван@example.ru,1,100,25.11.2026,05.12.2026",
    )
    created = await desk.campaigns.create(
        CampaignSpec(name="Письма", kind="debt", scenario="test-mail", channel="email"),
        list_data=data,
    )
    rejected = {n.line: n.reason for n in created.parsed.rejected}
    assert sorted(rejected) == [3, 4, 6]
    assert "нет согласия" in rejected[3] and "p***@example.ru" in rejected[3]
    assert "petrov@" not in " ".join(rejected.values()), "reasons never show a full address"
    assert created.letters == 2 and created.contacts == 0
    await desk.campaigns.start(created.campaign_id)
    desk.mailer()
    st = await desk.finished(created.campaign_id)

    assert sorted(rcpt for _, rcpts in desk.server.envelopes for rcpt in rcpts) == [
        "anna@xn--e1afmkfd.xn--p1ai",
        "ivanov@example.ru",
    ]
    letters = {letter.address: letter for letter in await desk.letters(created.campaign_id)}
    got = by_address(desk.server)["ivanov@example.ru"]
    assert got["From"].addresses[0].display_name == "Электросеть Дивногорск"
    assert got["To"].addresses[0].display_name == "Иванов Иван Иванович"
    assert got["Subject"] == f"Задолженность 1{NBSP}500,50{NBSP}₽ по счёту 10-1"
    assert got["Message-ID"] == letters["ivanov@example.ru"].message_id
    offset = parsedate_to_datetime(got["Date"]).utcoffset()
    assert offset is not None and offset.total_seconds() == 7 * 3600
    assert got["Auto-Submitted"] == "auto-generated"
    assert got["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = got["List-Unsubscribe"].split(",")[0].strip().strip("<>")
    assert link.startswith(desk.settings.unsubscribe_base_url + "?token=v1.")
    request = verify_unsubscribe_token(link.split("token=", 1)[1], secret=SECRET)
    assert (request.contact_id, request.kind) == (letters["ivanov@example.ru"].id, "debt")
    plain = got.get_body(("plain",))
    assert plain is not None
    text = plain.get_content()
    assert f"на 25 ноября 2026{NBSP}г. составляет 1{NBSP}500,50{NBSP}₽." in text
    assert "Оплатите её до 05.12.2026." in text
    assert f"Отказаться от писем: {link}" in text
    rich = got.get_body(("html",))
    assert rich is not None
    html = rich.get_content()
    assert f"<b>1{NBSP}500,50{NBSP}₽</b> на 25.11.2026" in html

    assert st.status == "finished"
    assert st.email is not None and (st.email.total, st.email.accepted) == (2, 2)
    report = await desk.campaigns.report(created.campaign_id)
    rows = {r.email: r for r in report.rows}
    assert rows["ivanov@example.ru"].email_status == "accepted"
    assert rows["ivanov@example.ru"].email_code == 250
    assert "queued as" in rows["ivanov@example.ru"].email_reply
    assert (report.totals.letters, report.totals.email_accepted) == (2, 2)
    assert report.totals.contacts == 0 and report.totals.reached == 2


async def test_451_then_250_delivers_exactly_one_letter_and_the_report_shows_the_deferral(
    desk: Desk,
) -> None:
    desk.server.data_replies.append("451 4.3.0 Try again later")
    campaign_id = await desk.campaign(people(1))
    await desk.campaigns.start(campaign_id)
    desk.mailer()
    await desk.finished(campaign_id)

    assert len(desk.server.received) == 1
    assert desk.server.transactions == 2
    (letter,) = await desk.letters(campaign_id)
    assert (letter.status, letter.attempts, letter.deferrals) == ("accepted", 2, 1)
    assert letter.last_deferral == "451 4.3.0 Try again later"
    report = await desk.campaigns.report(campaign_id)
    (row,) = report.rows
    assert (row.email_status, row.email_deferrals) == ("accepted", 1)
    assert row.email_last_deferral == "451 4.3.0 Try again later"
    assert report.totals.email_deferrals == 1
    assert "451 4.3.0 Try again later" in to_csv(report).decode("utf-8-sig")
    assert "откладывалось 1 раз: 451" in to_text(report)


async def test_a_letter_deferred_through_a_round_is_sent_in_the_next_round(desk: Desk) -> None:
    # three 451s use up the first round (3 tries); the second round, 0.3 s later, succeeds
    desk.server.data_replies.extend(["451 4.7.1 Greylisted"] * 3)
    campaign_id = await desk.campaign(people(1))
    await desk.campaigns.start(campaign_id)
    desk.mailer()
    await desk.finished(campaign_id)

    (letter,) = await desk.letters(campaign_id)
    assert (letter.status, letter.rounds, letter.deferrals, letter.attempts) == (
        "accepted",
        1,
        3,
        4,
    )
    assert len(desk.server.received) == 1


async def test_a_letter_deferred_in_every_round_ends_deferred_in_the_report(desk: Desk) -> None:
    desk.server.data_replies.extend(["452 4.3.1 Insufficient system storage"] * 6)
    campaign_id = await desk.campaign(people(1))
    await desk.campaigns.start(campaign_id)
    desk.mailer()
    st = await desk.finished(campaign_id)

    (letter,) = await desk.letters(campaign_id)
    assert (letter.status, letter.rounds, letter.attempts, letter.code) == ("deferred", 2, 6, 452)
    assert desk.server.received == []
    assert st.email is not None and st.email.deferred == 1
    report = await desk.campaigns.report(campaign_id)
    assert report.totals.email_deferred == 1 and report.totals.reached == 0


async def test_550_marks_the_address_failed_with_the_server_reply_in_the_report(
    desk: Desk,
) -> None:
    desk.server.rcpt_replies["customer1@example.ru"] = (
        "550 5.1.1 <customer1@example.ru>: Recipient address rejected"
    )
    campaign_id = await desk.campaign(people(2))
    await desk.campaigns.start(campaign_id)
    desk.mailer()
    st = await desk.finished(campaign_id)

    failed, accepted = await desk.letters(campaign_id)
    assert (failed.status, failed.code, failed.phase, failed.attempts) == ("failed", 550, "rcpt", 1)
    assert failed.reply == "5.1.1 <customer1@example.ru>: Recipient address rejected"
    assert accepted.status == "accepted"
    assert st.email is not None and (st.email.failed, st.email.accepted) == (1, 1)
    report = await desk.campaigns.report(campaign_id)
    row = next(r for r in report.rows if r.email == "customer1@example.ru")
    assert (row.email_status, row.email_code) == ("failed", 550)
    assert "Recipient address rejected" in row.email_reply
    assert "ответ сервера: 550 5.1.1" in to_text(report)
    assert report.totals.email_failed == 1


# --- outages and restarts ----------------------------------------------------------------


class BreakingBook(LetterBook):
    """Calls `before(n)` as the mailer asks for its n-th batch of letters: strictly between
    two letters (the batch before is sent and stored), so no letter is in its moment of
    doubt when the test breaks something."""

    def __init__(self, *args: Any, before: Callable[[int], Awaitable[None]]) -> None:
        super().__init__(*args)
        self._before = before
        self.batches = 0

    async def claim(self, *args: Any, **kw: Any) -> tuple[list[QueuedLetter], int]:
        self.batches += 1
        await self._before(self.batches)
        return await super().claim(*args, **kw)


@pytest.mark.parametrize(
    ("attempts", "downtime"),
    [
        (10, 0.6),  # the sender's own retries outlast the outage
        (2, 1.2),  # they do not: the letter waits in the queue and the mailer backs off
    ],
)
async def test_the_server_going_away_mid_campaign_loses_and_duplicates_nothing(
    desk: Desk, attempts: int, downtime: float
) -> None:
    comeback: list[asyncio.Task[None]] = []

    async def come_back_later() -> None:
        await asyncio.sleep(downtime)
        await asyncio.to_thread(desk.server.start)

    async def crash_after_ten(batch: int) -> None:
        if batch == 2:  # FAST sends ten letters a batch
            assert len(desk.server.received) == 10
            await asyncio.to_thread(desk.server.stop)
            comeback.append(asyncio.create_task(come_back_later()))

    desk.book_factory = lambda: BreakingBook(
        desk.campaigns.sessions, desk.calls, before=crash_after_ten
    )
    campaign_id = await desk.campaign(people(30))
    await desk.campaigns.start(campaign_id)
    desk.mailer(with_sender(attempts=attempts, base_delay=0.05, max_delay=0.4))
    try:
        await desk.finished(campaign_id, timeout=30)
    finally:
        await asyncio.gather(*comeback)

    letters = await desk.letters(campaign_id)
    assert {letter.status for letter in letters} == {"accepted"}
    got = [str(m["Message-ID"]) for m in desk.server.messages()]
    assert len(got) == len(set(got)) == 30, "every letter arrived exactly once"
    assert set(got) == {letter.message_id for letter in letters}
    report = await desk.campaigns.report(campaign_id)
    assert report.totals.email_deferrals > 0, "the outage was met and is in the report"
    assert report.totals.email_accepted == 30


async def test_stopping_in_data_and_restarting_sends_no_letter_twice_and_reports_it_unknown(
    desk: Desk,
) -> None:
    # the 6th letter is taken by the server, whose reply comes too late: the stop lands in DATA
    desk.server.data_delays.extend([0.0] * 5 + [3.0])
    campaign_id = await desk.campaign(people(20))
    await desk.campaigns.start(campaign_id)
    first = desk.mailer(dataclasses.replace(FAST, drain_timeout=0.2))

    async def sixth_in_data() -> bool:
        letters = await desk.letters(campaign_id)
        return letters[5].state == "sending" and len(desk.server.received) >= 6

    await wait_for(sixth_in_data, 10, "the 6th letter in DATA")
    await first.stop()  # the service stops
    left = await desk.letters(campaign_id)
    assert left[5].state == "sending", "cut off between DATA and the reply"

    desk.mailer()  # the service starts again
    st = await desk.finished(campaign_id)

    got = [str(m["Message-ID"]) for m in desk.server.messages()]
    assert len(got) == len(set(got)) == 20, "nothing sent twice, nothing lost"
    letters = await desk.letters(campaign_id)
    assert set(got) == {letter.message_id for letter in letters}
    assert [letter.status for letter in letters].count("accepted") == 19
    assert letters[5].status == "unknown"
    assert "доставка не подтверждена" in letters[5].reply
    assert st.email is not None and st.email.unknown == 1
    report = await desk.campaigns.report(campaign_id)
    assert report.totals.email_unknown == 1


async def test_a_graceful_stop_and_restart_mid_campaign_sends_every_letter_once(
    desk: Desk,
) -> None:
    campaign_id = await desk.campaign(people(40))
    await desk.campaigns.start(campaign_id)
    paced = with_sender(rate=40)  # a second's worth of letters, so the stop is mid-campaign
    first = desk.mailer(paced)
    await wait_for(
        lambda: asyncio.sleep(0, result=len(desk.server.received) >= 10), 10, "ten letters"
    )
    await first.stop()
    after_stop = await desk.letters(campaign_id)
    assert not [letter for letter in after_stop if letter.state == "sending"]
    assert any(letter.state == "queued" for letter in after_stop), "stopped mid-campaign"

    desk.mailer(paced)
    await desk.finished(campaign_id)
    got = [str(m["Message-ID"]) for m in desk.server.messages()]
    assert len(got) == len(set(got)) == 40
    assert {letter.status for letter in await desk.letters(campaign_id)} == {"accepted"}


async def test_smtp_settings_refused_pause_the_email_side_with_the_reason_not_the_contacts(
    desk: Desk,
) -> None:
    campaign_id = await desk.campaign(people(3))
    await desk.campaigns.start(campaign_id)
    # a login the server does not offer (no AUTH without TLS): the settings are wrong
    wrong = desk.mailer(with_sender(username="robot", password="secret"))

    async def paused() -> CampaignStatus | None:
        st = await desk.campaigns.status(campaign_id)
        return st if st.email is not None and st.email.paused else None

    st = await wait_for(paused, 10, "the e-mail side to pause")
    await wrong.stop()
    assert st.status == "running"
    assert st.email is not None and "SMTP" in (st.email.paused or "")
    assert {letter.state for letter in await desk.letters(campaign_id)} == {"queued"}
    assert "РАССЫЛКА ПИСЕМ ПРИОСТАНОВЛЕНА" in status_line(st, desk.settings.tz)

    await desk.campaigns.resume(campaign_id)  # the supervisor fixed the settings
    resumed = (await desk.campaigns.status(campaign_id)).email
    assert resumed is not None and resumed.paused is None
    desk.mailer()
    await desk.finished(campaign_id)
    assert len(desk.server.received) == 3


# --- unsubscribe -------------------------------------------------------------------------


def http(
    url: str, *, data: bytes | None = None, content_type: str | None = None
) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


async def opt_outs(desk: Desk) -> list[tuple[str | None, str]]:
    async with desk.campaigns.sessions() as session:
        rows = await session.execute(select(OptOut.address, OptOut.kind))
        return [(r.address, r.kind) for r in rows]


async def test_one_click_unsubscribe_opts_the_address_out_and_the_next_campaign_skips_it(
    desk: Desk,
) -> None:
    s = desk.settings
    web = WebConsole(
        host=s.http_host,
        port=s.http_port,
        allowed=allowed,
        sessions=SessionAdapter(build_users(s, desk.campaigns.sessions, Clock())),
        events=EventHub(),
    )
    register_web(
        web,
        Unsubscribes(
            desk.campaigns.sessions,
            secret=SECRET,
            clock=Clock(),
            transaction=desk.calls.transaction,
        ),
        unsubscribe_paths(s.unsubscribe_base_url),
    )
    await web.start()
    try:
        first = await desk.campaign(people(2))
        await desk.campaigns.start(first)
        desk.mailer()
        await desk.finished(first)
        # a second debt campaign is already made, its letters wait to be sent
        waiting = await desk.campaign(people(2))
        link = by_address(desk.server)["customer1@example.ru"]["List-Unsubscribe"]
        url = link.split(",")[0].strip().strip("<>")

        status, page = await asyncio.to_thread(http, url)
        assert status == 200
        assert "Отказаться от писем" in page and "c***@example.ru" in page
        assert "customer1@example.ru" not in page
        assert await opt_outs(desk) == [], "a GET (a mail scanner's prefetch) changes nothing"

        status, page = await asyncio.to_thread(
            http,
            url,
            data=b"List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert status == 200 and "Готово" in page
        assert await opt_outs(desk) == [("customer1@example.ru", "debt")]
        again = await asyncio.to_thread(
            http,
            url,
            data=b"List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert again[0] == 200, "a second click is no error"

        forged = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
        status, page = await asyncio.to_thread(http, forged)
        assert status == 400 and "не подписана" in page
        status, page = await asyncio.to_thread(http, url, data=b"", content_type=None)
        assert status == 400 and "One-Click" in page
    finally:
        await web.stop()

    waiting_letters = {letter.address: letter for letter in await desk.letters(waiting)}
    assert waiting_letters["customer1@example.ru"].status == "opted_out"
    assert waiting_letters["customer2@example.ru"].state == "queued"
    report = await desk.campaigns.report(first)
    row = next(r for r in report.rows if r.email == "customer1@example.ru")
    assert "отписался" in row.email_note

    later = await desk.campaigns.create(
        CampaignSpec(name="Снова", kind="debt", scenario="test-mail", channel="email"),
        list_data=people(2),
    )
    # the list is written as it is read, not kept: the stored letters are what it gave
    assert later.letters == 1
    assert [m.address for m in await desk.letters(later.campaign_id)] == ["customer2@example.ru"]
    assert [str(n) for n in later.parsed.opted_out] == [
        "строка 2: e-mail c***@example.ru: адрес отказался от писем этого вида: не пишем"
    ]
    other_kind = await desk.campaigns.create(
        CampaignSpec(name="Напоминание", kind="reminder", scenario="reminder", channel="email"),
        list_data=listing(
            "1,Абонент,customer1@example.ru,да", header="account,name,email,email_consent"
        ),
    )
    assert other_kind.letters == 1, "the opt-out is for that kind of notice only"


# --- a hard crash with a batch marked `sending` ------------------------------------------


async def test_a_crash_after_the_batch_is_marked_sending_leaves_its_letters_unknown_not_resent(
    desk: Desk,
) -> None:
    # the whole batch of ten is marked `sending` in one commit before its first letter; the
    # 4th letter's reply never comes in time, and the mailer's process is killed (SIGKILL:
    # no flush, no clean-up) while three letters are sent and six not yet
    desk.server.data_delays.extend([0.0] * 3 + [30.0])
    campaign_id = await desk.campaign(people(25))
    await desk.campaigns.start(campaign_id)
    url = desk.settings.database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.autoinformer_email.mailer_process",
        url,
        str(desk.server.port),
        "10",
        stdout=asyncio.subprocess.PIPE,
        cwd=PROJECT,
    )
    try:
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 30) == b"started\n"

        async def fourth_in_data() -> bool:
            letters = await desk.letters(campaign_id)
            marked = [letter.state for letter in letters[:10]] == ["sending"] * 10
            return marked and len(desk.server.received) >= 4

        await wait_for(fourth_in_data, 30, "the batch marked sending and the 4th letter in DATA")
        before_crash = await desk.letters(campaign_id)
        assert all(letter.state == "queued" for letter in before_crash[10:]), "one batch only"
    finally:
        process.kill()  # the crash
        await process.wait()
    sent_before = {str(m["Message-ID"]) for m in desk.server.messages()}
    assert len(sent_before) == 4

    desk.mailer()  # the service starts again
    st = await desk.finished(campaign_id)

    letters = await desk.letters(campaign_id)
    got = [str(m["Message-ID"]) for m in desk.server.messages()]
    assert len(got) == len(set(got)), "no letter sent twice"
    first, rest = letters[:10], letters[10:]
    # the batch's letters, sent (four) or never handed to DATA (six), are all `unknown`,
    # as the rule for `sending` after a crash says: none of them goes out again
    assert [letter.status for letter in first] == ["unknown"] * 10
    assert all("доставка не подтверждена" in letter.reply for letter in first)
    assert {letter.message_id for letter in first[:4]} == sent_before
    assert not {letter.message_id for letter in first[4:]} & set(got), "not sent after restart"
    assert [letter.status for letter in rest] == ["accepted"] * 15
    assert set(got) == sent_before | {letter.message_id for letter in rest}
    assert st.email is not None and st.email.unknown == 10 and st.email.accepted == 15


async def test_a_stop_in_mid_batch_puts_the_letters_not_yet_sent_back_in_the_queue(
    desk: Desk,
) -> None:
    # a graceful stop while the 4th letter of a batch of ten is in DATA: that one stays
    # `sending` (its reply came too late: unknown after the restart), the six after it were
    # never handed to DATA and go back to `queued`, and are sent after the restart
    desk.server.data_delays.extend([0.0] * 3 + [3.0])
    campaign_id = await desk.campaign(people(10))
    await desk.campaigns.start(campaign_id)
    first = desk.mailer(dataclasses.replace(FAST, drain_timeout=0.2))

    async def fourth_in_data() -> bool:
        return len(desk.server.received) >= 4

    await wait_for(fourth_in_data, 10, "the 4th letter in DATA")
    await first.stop()
    states = [letter.state for letter in await desk.letters(campaign_id)]
    assert states == ["done"] * 3 + ["sending"] + ["queued"] * 6

    desk.mailer()
    st = await desk.finished(campaign_id)
    letters = await desk.letters(campaign_id)
    got = [str(m["Message-ID"]) for m in desk.server.messages()]
    assert len(got) == len(set(got)) == 10, "each letter once, the six after the restart"
    assert [letter.status for letter in letters].count("accepted") == 9
    assert letters[3].status == "unknown"
    assert st.email is not None and st.email.unknown == 1

"""The e-mail channel against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Unpack

import pytest

from autoinformer.email import (
    Deferral,
    DeliveryResult,
    EmailTemplate,
    SenderOptions,
    SmtpSender,
    compose_notice,
    verify_unsubscribe_token,
)
from contact_center.settings import Settings

from .conftest import MailServer

NBSP = "\u00a0"
SETTINGS = Settings(unsubscribe_secret="test-secret-for-links")
TEMPLATE = EmailTemplate(
    subject="Задолженность {{ debt | money }} по счёту {{ account }}",
    text=(
        "Здравствуйте, {{ name }}!\n"
        "Задолженность по лицевому счёту {{ account }} составляет {{ debt | money }}.\n"
        "Оплатите до {{ pay_by | date }}, иначе отключение {{ outage | date(form='genitive') }}"
        " {{ outage_from | timerange(outage_to) }}.\n"
        "Телефон: {{ office | phone }}\n"
        "Отписаться: {{ unsubscribe_url }}\n"
    ),
    html=(
        "<p>Здравствуйте, {{ name }}!</p>"
        "<p>Задолженность: <b>{{ debt | money }}</b> на {{ debt_date | date(style='digits') }}.</p>"
        '<p><a href="{{ unsubscribe_url }}">Отписаться</a></p>'
    ),
)


def contact(n: int = 1, **changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "name": "Иванов Иван <Иванович>",
        "account": f"10-{n:05d}",
        "debt": Decimal("1500"),
        "debt_date": dt.date(2026, 11, 25),
        "pay_by": dt.date(2026, 12, 5),
        "outage": "2026-12-10",
        "outage_from": "09:00",
        "outage_to": "17:30",
        "office": "+73914431234",
    }
    values.update(changes)
    return values


def letter(n: int = 1, *, address: str | None = None, **changes: object) -> EmailMessage:
    return compose_notice(
        template=TEMPLATE,
        contact=contact(n, **changes),
        to_address=address or f"customer{n}@example.ru",
        to_name="Иванов Иван Иванович",
        kind="debt",
        settings=SETTINGS,
        contact_id=n,
    )


def sender_for(server: MailServer, **overrides: Unpack[SenderOptions]) -> SmtpSender:
    values: SenderOptions = {
        "host": server.host,
        "port": server.port,
        "rate": 0,
        "attempts": 3,
        "base_delay": 0.01,
        "timeout": 5.0,
        "local_hostname": "cc.test",
    }
    values.update(overrides)
    return SmtpSender(**values)


async def test_letter_arrives_with_decoded_headers_amount_date_and_one_click_unsubscribe(
    mail_server: MailServer,
) -> None:
    message = letter(7)
    async with sender_for(mail_server) as sender:
        result = await sender.send(message)

    assert result.status == "accepted"
    assert (result.code, result.attempts, result.deferrals) == (250, 1, ())
    raw = mail_server.received[0]
    assert raw.isascii(), "headers and bodies must need neither SMTPUTF8 nor 8BITMIME"
    assert mail_server.envelopes == [("noreply@localhost", ["customer7@example.ru"])]
    (got,) = mail_server.messages()
    sender_address = got["From"].addresses[0]
    assert sender_address.display_name == "Электросеть Дивногорск"
    assert sender_address.addr_spec == "noreply@localhost"
    assert got["To"].addresses[0].display_name == "Иванов Иван Иванович"
    assert got["Subject"] == f"Задолженность 1{NBSP}500,00{NBSP}₽ по счёту 10-00007"
    assert got["Message-ID"] == result.message_id == message["Message-ID"]
    assert got["Message-ID"].endswith("@localhost>")
    sent_at = parsedate_to_datetime(got["Date"])
    assert sent_at.utcoffset() == dt.timedelta(hours=7)  # Asia/Krasnoyarsk
    assert got["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = (part.strip() for part in got["List-Unsubscribe"].split(","))
    assert https.startswith("<http://127.0.0.1:8080/unsubscribe?token=v1.")
    assert mailto.startswith("<mailto:noreply@localhost?subject=unsubscribe%20v1.")
    token = https.removesuffix(">").split("token=", 1)[1]
    request = verify_unsubscribe_token(token, secret=SETTINGS.unsubscribe_secret)
    assert (request.contact_id, request.kind) == (7, "debt")
    assert got["Auto-Submitted"] == "auto-generated"

    plain = got.get_body(("plain",))
    assert plain is not None
    text = plain.get_content()
    assert f"составляет 1{NBSP}500,00{NBSP}₽." in text
    assert f"Оплатите до 5 декабря 2026{NBSP}г., иначе отключение 10 декабря 2026{NBSP}г." in text
    assert "с 09:00 до 17:30" in text
    assert "Телефон: +7 (39144) 3-12-34" in text
    assert f"Отписаться: http://127.0.0.1:8080/unsubscribe?token={token}" in text
    rich = got.get_body(("html",))
    assert rich is not None
    html = rich.get_content()
    assert f"<b>1{NBSP}500,00{NBSP}₽</b> на 25.11.2026" in html
    assert "Иванов Иван &lt;Иванович&gt;" in html, "contact fields are escaped in HTML"


async def test_451_then_250_delivers_exactly_one_letter_and_records_one_deferral(
    mail_server: MailServer,
) -> None:
    mail_server.data_replies.append("451 4.3.0 Try again later")
    recorded: list[Deferral] = []

    async def on_deferral(deferral: Deferral) -> None:
        recorded.append(deferral)

    async with sender_for(mail_server) as sender:
        result = await sender.send(letter(), on_deferral=on_deferral)

    assert result.status == "accepted"
    assert result.attempts == 2
    assert len(mail_server.received) == 1
    assert mail_server.transactions == 2
    (deferral,) = result.deferrals
    assert recorded == [deferral]
    assert (deferral.attempt, deferral.phase, deferral.code) == (1, "data", 451)
    assert deferral.reply == "4.3.0 Try again later"
    assert deferral.retry_in == pytest.approx(0.01)


async def test_550_marks_the_letter_failed_with_the_reply_and_the_next_letter_still_goes(
    mail_server: MailServer,
) -> None:
    mail_server.rcpt_replies["nobody@example.ru"] = "550 5.1.1 <nobody@example.ru>: no such user"
    async with sender_for(mail_server) as sender:
        failed = await sender.send(letter(1, address="nobody@example.ru"))
        # the session was reset after the refusal: no 503 for the next MAIL
        accepted = await sender.send(letter(2))

    assert failed.status == "failed"
    assert (failed.code, failed.phase, failed.attempts) == (550, "rcpt", 1)
    assert failed.reply == "5.1.1 <nobody@example.ru>: no such user"
    assert failed.deferrals == ()
    assert accepted.status == "accepted"
    assert [rcpts for _, rcpts in mail_server.envelopes] == [["customer2@example.ru"]]


async def test_a_4xx_on_every_try_ends_deferred_after_the_configured_attempts(
    mail_server: MailServer,
) -> None:
    mail_server.data_replies.extend(["452 4.3.1 Insufficient system storage"] * 3)
    async with sender_for(mail_server, attempts=3) as sender:
        result = await sender.send(letter())

    assert result.status == "deferred"
    assert (result.attempts, result.code) == (3, 452)
    assert [d.attempt for d in result.deferrals] == [1, 2, 3]
    delays = [d.retry_in for d in result.deferrals]
    assert delays == [pytest.approx(0.01), pytest.approx(0.02), None]
    assert mail_server.received == []


async def test_many_letters_share_one_connection(mail_server: MailServer) -> None:
    async with sender_for(mail_server) as sender:
        results = [await sender.send(letter(n)) for n in range(1, 6)]
        assert mail_server.controller is not None
        sessions = len(mail_server.controller.sessions)

    assert [r.status for r in results] == ["accepted"] * 5
    # one session for the sender (the controller's own readiness probe is the other)
    assert sessions == 2


async def test_an_idle_session_the_server_dropped_is_reopened_without_a_deferral(
    mail_server: MailServer,
) -> None:
    async with sender_for(mail_server) as sender:
        first = await sender.send(letter(1))
        await asyncio.to_thread(mail_server.cut_sessions)
        second = await sender.send(letter(2))

    assert (first.status, second.status) == ("accepted", "accepted")
    assert (second.attempts, second.deferrals) == (1, ())
    assert len(mail_server.received) == 2


async def test_a_reply_lost_after_data_is_reported_unknown_and_not_resent(
    mail_server: MailServer,
) -> None:
    mail_server.data_delays.append(1.5)  # takes the letter, answers after the sender gave up
    async with sender_for(mail_server, timeout=0.5) as sender:
        doubtful = await sender.send(letter(1))
        after = await sender.send(letter(2))

    assert doubtful.status == "unknown"
    assert doubtful.attempts == 1
    assert after.status == "accepted"
    assert len(mail_server.received) == 2  # each letter once: no resend of the first


async def test_resend_unconfirmed_sends_the_doubtful_letter_again_with_the_same_message_id(
    mail_server: MailServer,
) -> None:
    mail_server.data_delays.append(1.5)
    async with sender_for(mail_server, timeout=0.5, resend_unconfirmed=True) as sender:
        result = await sender.send(letter(1))

    assert result.status == "accepted"
    assert result.attempts == 2
    ids = [m["Message-ID"] for m in mail_server.messages()]
    assert ids == [result.message_id, result.message_id]


# --- the campaign's persistence protocol, simulated ------------------------------------


@dataclass
class Row:
    """What the campaign stores per letter (a table row in the real thing)."""

    message: EmailMessage
    state: str = "queued"  # queued -> sending -> accepted | deferred | failed | unknown
    deferrals: list[Deferral] = field(default_factory=list)
    result: DeliveryResult | None = None


class Store:
    def __init__(self, messages: Iterable[EmailMessage]) -> None:
        self.rows = {str(m["Message-ID"]): Row(m) for m in messages}
        # a test hook: set when a letter enters 'sending'
        self.sending: dict[str, asyncio.Event] = {i: asyncio.Event() for i in self.rows}

    async def mark_sending(self, message_id: str) -> None:
        self.rows[message_id].state = "sending"
        self.sending[message_id].set()

    def on_deferral_for(self, message_id: str) -> Callable[[Deferral], Awaitable[None]]:
        async def record(deferral: Deferral) -> None:
            self.rows[message_id].deferrals.append(deferral)

        return record

    def finish(self, message_id: str, result: DeliveryResult) -> None:
        row = self.rows[message_id]
        row.state, row.result = result.status, result

    def recover(self) -> None:
        """After a restart: a letter left in 'sending' may have been taken; at most once."""
        for row in self.rows.values():
            if row.state == "sending":
                row.state = "unknown"

    async def run(
        self, sender: SmtpSender, *, between: Callable[[int], Awaitable[None]] | None = None
    ) -> None:
        """The campaign loop: send every queued letter once, persisting around DATA.
        ``between(n)`` runs after the n-th letter (the test's chance to break things)."""
        for n, (message_id, row) in enumerate(self.rows.items(), start=1):
            if row.state != "queued":
                continue
            result = await sender.send(
                row.message,
                before_data=self.mark_sending,
                on_deferral=self.on_deferral_for(message_id),
            )
            self.finish(message_id, result)
            if between is not None:
                await between(n)

    def states(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.rows.values():
            out[row.state] = out.get(row.state, 0) + 1
        return out


def received_ids(server: MailServer) -> list[str]:
    return [str(m["Message-ID"]) for m in server.messages()]


async def test_server_going_away_mid_batch_and_coming_back_loses_and_duplicates_nothing(
    mail_server: MailServer,
) -> None:
    store = Store(letter(n) for n in range(1, 31))
    ids = list(store.rows)
    sender = sender_for(mail_server, attempts=10, base_delay=0.05, max_delay=0.4)

    comeback: list[asyncio.Task[None]] = []

    async def come_back_later() -> None:
        await asyncio.sleep(0.6)
        await asyncio.to_thread(mail_server.start)

    async def crash_after_ten(n: int) -> None:
        if n == 10:  # between two letters, so no letter is in its moment of doubt
            await asyncio.to_thread(mail_server.stop)
            comeback.append(asyncio.create_task(come_back_later()))

    try:
        await store.run(sender, between=crash_after_ten)
    finally:
        await asyncio.gather(*comeback)
        await sender.close()

    assert store.states() == {"accepted": 30}
    got = received_ids(mail_server)
    assert sorted(got) == sorted(ids), "every letter arrived exactly once"
    deferred = [row for row in store.rows.values() if row.deferrals]
    assert deferred, "the outage was met and recorded as deferrals"
    assert all(d.code is None for row in deferred for d in row.deferrals)


async def test_stopping_the_service_mid_send_and_restarting_sends_no_letter_twice(
    mail_server: MailServer,
) -> None:
    store = Store(letter(n) for n in range(1, 21))
    ids = list(store.rows)
    # the 6th letter is taken by the server but its reply is slow: the stop lands in DATA
    mail_server.data_delays.extend([0.0] * 5 + [2.0])

    first = sender_for(mail_server)
    campaign = asyncio.create_task(store.run(first))
    await store.sending[ids[5]].wait()
    await asyncio.to_thread(mail_server.wait_for_letters, 6)  # taken, its reply still pending
    campaign.cancel()  # the service stops
    with pytest.raises(asyncio.CancelledError):
        await campaign
    await first.close()

    store.recover()  # the service starts again
    second = sender_for(mail_server)
    async with second:
        await store.run(second)

    got = received_ids(mail_server)
    assert len(got) == len(set(got)) == 20, "nothing sent twice, nothing lost"
    assert store.states() == {"accepted": 19, "unknown": 1}
    assert store.rows[ids[5]].state == "unknown"
    assert set(got) == set(ids)

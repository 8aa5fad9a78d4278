"""The demo on the simulated world: customers imported, a debt notice spoken to each of them.

It shows the foundation working end to end: the customer base, the local Asterisk with its
sim profile, Russian speech synthesized and cached, AMI Originate with outcomes, and
AsyncAGI call control (play, read the key the customer presses).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from contact_center.app import App, build_app
from contact_center.customers.csv_import import parse_customers
from contact_center.customers.models import Customer
from contact_center.privacy import mask_phone
from contact_center.settings import Settings
from contact_center.speech import Speech
from contact_center.telephony.agi import AgiChannel
from contact_center.telephony.exceptions import ChannelGone, TelephonyError
from contact_center.telephony.numbers import dial_digits
from contact_center.telephony.originate import Outcome, new_channel_id

CUSTOMERS_CSV = Path(__file__).with_name("customers.csv")
SIM_DIAL_TEMPLATE = "Local/{number}@sim-customers"
NOTICE = (
    "{prompt:autoinformer_intro} Задолженность по лицевому счёту {number:account} "
    "на {date:debt_date year=no} составляет {money:debt}. "
    "{prompt:press_1_confirm}"
)
OUTCOME_RU = {
    Outcome.ANSWERED: "ответил",
    Outcome.BUSY: "занято",
    Outcome.NO_ANSWER: "не ответил",
    Outcome.CONGESTION: "перегрузка сети",
    Outcome.FAILED: "ошибка вызова",
}
DIGIT_RU = {"1": "подтвердил (1)", "0": "соединён с оператором (0)", "9": "отказался (9)"}


@dataclass(slots=True)
class CallReport:
    account: str
    phone: str
    outcome: Outcome | None = None
    played: int = 0
    digit: str | None = None
    hung_up_early: bool = False
    operator: bool = False
    seconds: float = 0.0
    error: str = ""

    def line(self) -> str:
        if self.error:
            result = f"ошибка: {self.error}"
        elif self.outcome is not Outcome.ANSWERED:
            result = OUTCOME_RU.get(self.outcome, "?") if self.outcome else "?"
        elif self.hung_up_early:
            result = f"ответил, положил трубку (прослушано частей: {self.played})"
        elif self.digit:
            result = f"ответил, {DIGIT_RU.get(self.digit, 'нажал ' + self.digit)}"
        else:
            result = "ответил, прослушал сообщение"
        return f"  {self.account:<8} {mask_phone(self.phone):<14} {self.seconds:5.1f} с  {result}"


def _contact(customer: Customer) -> dict[str, object]:
    return {
        "account": customer.account,
        "debt": customer.debt if customer.debt is not None else Decimal(0),
        "debt_date": customer.debt_date,
        "name": customer.name,
    }


async def run_demo(settings: Settings, *, echo: Callable[[str], None] = print) -> list[CallReport]:
    settings = settings.replace(dial_template=SIM_DIAL_TEMPLATE)
    parsed = parse_customers(CUSTOMERS_CSV.read_bytes(), region=settings.default_region)
    if not parsed.ok:  # the shipped file is ours: this is a bug, not user input
        raise RuntimeError("; ".join(map(str, parsed.errors)))
    async with build_app(settings, plugins=()).running() as service:
        speech = service.speech
        summary = await service.customers.import_rows(parsed.rows)
        echo(f"Потребители: загружено {summary.total} из {CUSTOMERS_CSV.name}.")
        customers = [c for c in [await service.customers.get(r.account) for r in parsed.rows] if c]

        started = time.monotonic()
        await speech.build_prompts()
        report = await speech.prerender(NOTICE, [_contact(c) for c in customers])
        echo(
            f"Речь: фраз {report.phrases}, из кэша {report.cached}, синтезировано "
            f"{report.synthesized} за {time.monotonic() - started:.1f} с."
        )
        echo("Звонки (sim-customers, последняя цифра номера задаёт поведение):")
        reports = await asyncio.gather(
            *(_call(service, speech, c) for c in customers if c.has_contract and c.phones)
        )
        for item in reports:
            echo(item.line())
        answered = sum(1 for r in reports if r.outcome is Outcome.ANSWERED)
        confirmed = sum(1 for r in reports if r.digit == "1")
        echo(f"Итого: звонков {len(reports)}, ответили {answered}, подтвердили {confirmed}.")
        return list(reports)


async def _call(service: App, speech: Speech, customer: Customer) -> CallReport:
    phone = customer.phones[0].number
    report = CallReport(customer.account, phone)
    started = time.monotonic()
    channel_id = new_channel_id()
    call = service.agi.claim(channel_id)
    try:
        names = await speech.render(NOTICE, _contact(customer))
        result = await service.originator.originate(
            number=dial_digits(phone),
            channel_id=channel_id,
            context="autoinformer",
            ring_timeout=4,
        )
        report.outcome = result.outcome
        if result.answered:
            channel = await asyncio.wait_for(call, 10)
            await _play_notice(channel, speech, names, report)
        else:
            service.agi.release(channel_id)
    except TelephonyError as exc:
        service.agi.release(channel_id)
        report.error = type(exc).__name__
    report.seconds = time.monotonic() - started
    return report


async def _play_notice(
    channel: AgiChannel, speech: Speech, names: list[str], report: CallReport
) -> None:
    try:
        for name in names:
            digit = await channel.stream_file(name, escape_digits="019")
            report.played += 1
            if digit:
                report.digit = digit
                break
        if report.digit is None:
            report.digit = await channel.wait_for_digit(5)
        if report.digit == "1":
            await channel.stream_file(await speech.prompt("confirmed"))
        elif report.digit == "0":
            await channel.stream_file(await speech.prompt("connecting_operator"))
            # a sim operator of queue `operators` answers; Queue() returns when they hang up
            await channel.exec("Queue", "operators,,,,30", timeout=120)
            report.operator = True
        await channel.hangup()
    except ChannelGone:
        report.hung_up_early = report.digit is None

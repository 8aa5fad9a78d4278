"""Campaign calls over real SIP: `PJSIP/{number}@trunk` rings the carrier UA, which hears
the whole rendered message and answers with RFC 4733 keys (1 confirms, 0 asks for the
operator, whose phone is the operator UA)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from autoinformer.demo import longest_message
from autoinformer.models import Attempt
from contact_center.clock import Clock
from contact_center.events import desk_prefix
from tests.integration.autoinformer.test_campaign_calls import TUESDAY_11, spec
from tests.integration.sip.audio import duration, only, read_samples, tone_share
from tests.integration.sip.conftest import (
    CARRIER_NUMBER,
    CARRIER_TONE,
    OPERATOR,
    OPERATOR_TONE,
    SIP_MARKS,
    Service,
    ServiceFactory,
    SipWorld,
    release_operator,
)
from tests.integration.waiting import wait_for

pytestmark = SIP_MARKS

# long enough that ±10 % is more than the call's set-up jitter
SCENARIO = """
name = "sip-debt"
kind = "debt"
title = "Уведомление о задолженности (SIP)"
message = "@MESSAGE@"
wait_digit = 8
repeats = 0
calls_per_free_operator = 3

[keys]
"1" = "confirm"
"0" = "operator"
other = "ignore"

[replies]
confirmed = ""
operator = ""
operator_busy = ""
opted_out = ""
goodbye = ""
""".replace(
    "@MESSAGE@",
    "Уважаемый абонент! На первое декабря ваша задолженность за электроэнергию "
    "составляет {money:debt}. Пожалуйста, оплатите её.",
)
TOLERANCE = 0.10


def customer_list() -> bytes:
    return f'phone,account,debt\n+{CARRIER_NUMBER},100200,"150,50"\n'.encode()


async def start_campaign(s: Service, name: str) -> tuple[int, float]:
    """A one-contact campaign on the SIP scenario; returns its id and the message seconds."""
    path = s.tmp / "sip-debt.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    campaigns = s.autoinformer.campaigns
    await campaigns.scenarios.add_file(path)
    created = await campaigns.create(spec(name, scenario="sip-debt"), list_data=customer_list())
    seconds = await longest_message(s.autoinformer, s.app.speech, [created.campaign_id])
    await campaigns.start(created.campaign_id)
    return created.campaign_id, seconds


async def attempt_of(s: Service, campaign_id: int) -> Attempt | None:
    async with s.autoinformer.campaigns.sessions() as session:
        return await session.scalar(select(Attempt).where(Attempt.campaign_id == campaign_id))


async def started_playing(s: Service, campaign_id: int) -> Attempt | None:
    attempt = await attempt_of(s, campaign_id)
    return attempt if attempt is not None and attempt.answered_at is not None else None


async def played_to_end(s: Service, campaign_id: int) -> Attempt | None:
    attempt = await attempt_of(s, campaign_id)
    return attempt if attempt is not None and attempt.played_to_end else None


async def test_campaign_call_over_the_trunk_is_heard_whole_and_confirmed_with_1(
    sip_world: SipWorld, service: ServiceFactory
) -> None:
    carrier = sip_world.carrier
    async with service(clock_offset=_offset()) as s:
        since = len(carrier.events)
        campaign_id, seconds = await start_campaign(s, "по SIP")
        incoming = await carrier.wait_event("CALL_ESTABLISHED", 30, since=since)
        # the key goes once the service has played the whole message
        await wait_for(lambda: played_to_end(s, campaign_id), seconds + 20, "the message to end")
        await carrier.send_digits("1")
        await carrier.wait_event("CALL_CLOSED", 20, since=since)

        async def finished() -> bool:
            return (await s.autoinformer.campaigns.status(campaign_id)).finished

        await wait_for(finished, 20, "the campaign to finish")
        report = await s.autoinformer.campaigns.report(campaign_id)
        attempt = await attempt_of(s, campaign_id)
        caller_id = s.app.settings.caller_id

    assert attempt is not None
    assert (attempt.digits, attempt.confirmed, attempt.played_to_end) == ("1", True, True)
    assert [(r.status, r.notified) for r in report.rows] == [("notified", True)]
    # the INVITE came to the number of the list, from the utility's number
    # the INVITE came from the utility's number, not "Anonymous"
    assert str(incoming.data["peeruri"]).startswith(f"sip:{caller_id}@"), incoming.data
    heard = only(carrier.recordings("dec"))
    length = duration(heard)
    print(f"SIP campaign: message {seconds:.2f} s, carrier recorded {length:.2f} s")
    assert abs(length - seconds) <= TOLERANCE * seconds, (length, seconds)


async def test_campaign_transfer_reaches_the_operator_phone_with_the_campaign_context(
    sip_world: SipWorld, service: ServiceFactory
) -> None:
    carrier, operator = sip_world.carrier, sip_world.operator
    async with service(clock_offset=_offset()) as s:
        app = s.app
        await app.operators.login("op1", f"PJSIP/{OPERATOR}")
        since_carrier, since_operator = len(carrier.events), len(operator.events)
        campaign_id, _ = await start_campaign(s, "к оператору по SIP")
        await carrier.wait_event("CALL_ESTABLISHED", 30, since=since_carrier)
        # 0 while the message plays (no need to hear it all to ask for an operator)
        await wait_for(lambda: started_playing(s, campaign_id), 20, "the message to start")
        await asyncio.sleep(1)
        await carrier.send_digits("0")
        await operator.wait_event("CALL_ESTABLISHED", 30, since=since_operator)

        async def popped() -> dict[str, object] | None:
            return await app.operators.current_appeal("op1")

        # what the operator's desk shows for the call on their phone
        described = await wait_for(popped, 10, "the transfer's appeal on the operator")

        async def screen_pop() -> dict[str, Any] | None:
            # the screen-pop pushed to op1's desk stream when their phone rang
            pop = app.events.latest(desk_prefix("op1") + "pop")
            return pop if pop and pop.get("appeal") else None

        pop = await wait_for(screen_pop, 10, "the screen-pop on op1's desk")
        await asyncio.sleep(2)  # they talk
        await carrier.hangup()
        await operator.wait_event("CALL_CLOSED", 10, since=since_operator)
        await release_operator(app, "op1")
        attempt = await attempt_of(s, campaign_id)

    assert described["source"] == "transfer"
    context = described["context"]
    assert isinstance(context, dict)
    assert context["campaign_id"] == campaign_id and context["scenario"] == "sip-debt"
    assert context["digits"] == "0"
    assert pop["appeal"]["context"] == context
    assert pop["appeal"]["source"] == "transfer"
    assert attempt is not None and attempt.transferred and OPERATOR in attempt.operator
    shares = (
        tone_share(*read_samples(only(operator.recordings("dec"))), CARRIER_TONE),
        tone_share(*read_samples(only(carrier.recordings("dec"))), OPERATOR_TONE),
    )
    print("SIP transfer tone shares (operator hears carrier, carrier hears operator):", shares)
    assert min(shares) > 0.8, shares


def _offset() -> float:
    return Clock.at(TUESDAY_11).offset_s


async def test_call_back_rings_the_operator_phone_then_the_customer(
    sip_world: SipWorld, service: ServiceFactory
) -> None:
    carrier, operator = sip_world.carrier, sip_world.operator
    async with service() as s:
        app = s.app
        await app.operators.login("op1", f"PJSIP/{OPERATOR}")
        since_carrier, since_operator = len(carrier.events), len(operator.events)
        await app.phones.call_back("op1", f"+{CARRIER_NUMBER}")
        rang_operator = await operator.wait_event("CALL_ESTABLISHED", 20, since=since_operator)
        rang_customer = await carrier.wait_event("CALL_ESTABLISHED", 20, since=since_carrier)

        async def on_callback() -> dict[str, object] | None:
            appeal = await app.operators.current_appeal("op1")
            return appeal if appeal and appeal.get("source") == "callback" else None

        described = await wait_for(on_callback, 10, "the call-back's appeal on the operator")
        await asyncio.sleep(2)  # they talk
        await carrier.hangup()
        await operator.wait_event("CALL_CLOSED", 10, since=since_operator)
        await release_operator(app, "op1")
        caller_id = app.settings.caller_id

    assert rang_operator.at < rang_customer.at
    assert str(rang_customer.data["peeruri"]).startswith(f"sip:{caller_id}@"), rang_customer.data
    assert str(described.get("caller", "")).endswith(CARRIER_NUMBER[1:]), described
    shares = (
        tone_share(*read_samples(only(operator.recordings("dec"))), CARRIER_TONE),
        tone_share(*read_samples(only(carrier.recordings("dec"))), OPERATOR_TONE),
    )
    print("SIP call-back tone shares (operator hears customer, customer hears operator):", shares)
    assert min(shares) > 0.8, shares

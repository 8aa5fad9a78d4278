"""Operators calling customers on the sim world: the `operator-phone` AGI flow (a phone
dialing out) and the desk's call-back (the operator's phone first, then the customer)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from contact_center.hotline.models import Appeal
from contact_center.operators.exceptions import OperatorStateError
from contact_center.operators.models import OperatorState
from contact_center.telephony._panoramisk import Message
from contact_center.telephony.numbers import InvalidPhoneNumber
from tests.integration.hotline.conftest import Hotline, MakeHotline, until

pytestmark = pytest.mark.integration

CUSTOMER = "+79135550101"  # a sim customer who answers and listens (last digit 1)


async def customer_sees(h: Hotline, begin: Message) -> str:
    """The caller ID on the customer's side of the dialled Local channel."""
    leg = str(begin.get("DestChannel")).replace(";1", ";2")
    reply = await h.service.link.action("Getvar", Channel=leg, Variable="CALLERID(num)")
    return str(reply.get("Value", ""))


async def phone_dials(h: Hotline, digits: str) -> str:
    """A phone in context [operator-phones] dials `digits` (a Local channel stands in for
    the SIP phone: its far half runs the context, this half listens). Returns the Uniqueid
    of the dialing leg."""
    uid = f"op-{uuid.uuid4().hex[:16]}"
    messages = await h.service.link.action_raw(
        "Originate",
        timeout=20,
        Channel=f"Local/{digits}@operator-phones",
        Context="sim-callers",
        Exten="silent",
        Priority="1",
        Async="true",
        Timeout="10000",
        CallerID="<101>",
        ChannelId=f"{uid}-a",
        OtherChannelId=uid,
    )
    final = next(m for m in messages[1:] if m.get("Event") == "OriginateResponse")
    assert final.get("Response") == "Success"
    return uid


async def appeal_of(h: Hotline, uid: str, *, closed: bool = False) -> Appeal:
    async def probe() -> Appeal | None:
        appeal = await h.service.hotline.appeals.by_uniqueid(uid)
        if appeal is None or (closed and appeal.ended_at is None):
            return None
        return appeal

    return await until(probe, timeout=30, what=f"the appeal of {uid}")


async def test_a_phone_dials_a_customer_with_our_caller_id_recorded_as_an_appeal(
    hotline: MakeHotline,
) -> None:
    h = await hotline(customers=True)
    dials: list[Message] = []
    stop = h.service.link.on_event("DialBegin", dials.append)
    try:
        uid = await phone_dials(h, "89135550101")
        appeal = await appeal_of(h, uid)
        assert appeal.source == "operator-phone" and appeal.caller_number == CUSTOMER
        # the customer is known by the number dialled
        assert appeal.customer_id is not None

        def dialed() -> Message | None:
            return next((e for e in dials if e.get("Uniqueid") == uid), None)

        begin = await until(dialed, timeout=10, what="the Dial to the customer")
        assert "79135550101@sim-customers" in str(begin.get("DestChannel"))
        assert await customer_sees(h, begin) == h.service.settings.caller_id
        assert (await h.service.hotline.appeals.get(appeal.id)).recording_path

        async def customer_answered() -> bool:
            got = await h.service.hotline.appeals.get(appeal.id)
            return got.operator_answered_at is not None

        await until(customer_answered, timeout=10, what="the customer's answer on the appeal")
        await h.service.link.action("Hangup", Channel=f"{uid}-a")
        done = await appeal_of(h, uid, closed=True)
    finally:
        stop()
    assert done.operator_answered_at is not None and done.talk_s is not None
    recording = Path(done.recording_path)
    await until(lambda: recording.is_file() and recording.stat().st_size > 44, timeout=5,
                what="the MixMonitor file")  # fmt: skip


async def test_a_phone_dialing_no_number_is_refused_and_registers_nothing(
    hotline: MakeHotline,
) -> None:
    h = await hotline()
    dials: list[Message] = []
    stop = h.service.link.on_event("DialBegin", dials.append)
    try:
        uid = await phone_dials(h, "123")

        async def hung_up() -> bool:
            reply = await h.service.link.action_list("CoreShowChannels")
            return not any(str(e.get("Uniqueid")) == uid for e in reply)

        await until(hung_up, timeout=10, what="the refused call to end")
    finally:
        stop()
    assert await h.service.hotline.appeals.by_uniqueid(uid) is None
    assert not [e for e in dials if e.get("Uniqueid") == uid]


async def test_call_back_rings_the_operator_then_the_customer(hotline: MakeHotline) -> None:
    h = await hotline(customers=True, sim_operator_wrapup_time=-1.0)
    await h.service.link.action("Setvar", Variable="SIM_OPERATOR_TALK_TIME", Value="3")
    operators = h.service.operators
    code = "sim-operator-2"
    op = await operators.get(code)
    dials: list[Message] = []
    stop = h.service.link.on_event("DialBegin", dials.append)
    try:
        result = await h.service.phones.call_back(code, "8 (913) 555-01-01")
        assert result.result.answered  # the operator's phone answered first
        appeal = await appeal_of(h, result.channel_id)
        assert appeal.source == "callback" and appeal.caller_number == CUSTOMER

        async def on_call() -> bool:
            view = await operators.get(code)
            return view.state == OperatorState.ON_CALL and view.current_appeal_id == appeal.id

        await until(on_call, timeout=10, what="the operator to be on the call-back")

        async def customer_answered() -> bool:
            got = await h.service.hotline.appeals.get(appeal.id)
            return got.operator_answered_at is not None

        await until(customer_answered, timeout=10, what="the customer to answer")
        await operators.lookup_done(code)

        def dialed() -> Message | None:
            return next((e for e in dials if e.get("Uniqueid") == result.channel_id), None)

        begin = await until(dialed, timeout=10, what="the Dial to the customer")
        assert "79135550101@sim-customers" in str(begin.get("DestChannel"))
        assert await customer_sees(h, begin) == h.service.settings.caller_id

        async def wrapping() -> bool:
            return (await operators.get(code)).state == OperatorState.WRAP_UP

        await until(wrapping, timeout=20, what="post-call work after the call-back")
        await operators.wrap_up_done(code, "Пр", "перезвонили")
        done = await appeal_of(h, result.channel_id, closed=True)
    finally:
        stop()
    assert done.operator_id == op.id and done.ended_by == "operator"
    assert done.lookup_s is not None and done.wrapup_s is not None
    assert done.classification == "Пр" and done.recording_path


async def test_call_back_refuses_a_bad_number_or_a_busy_operator(hotline: MakeHotline) -> None:
    h = await hotline()
    with pytest.raises(InvalidPhoneNumber):
        await h.service.phones.call_back("sim-operator-1", "12ab")
    await h.service.operators.login("op5", "Local/5@sim-operators/n")
    await h.service.operators.logout("op5")
    with pytest.raises(OperatorStateError, match="не в системе"):
        await h.service.phones.call_back("op5", CUSTOMER)

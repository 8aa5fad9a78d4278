"""Operators calling customers: the AGI flow `operator-phone` and the desk's call-back.

An operator phone dials out only through the service (dialplan context [operator-phones]
hands every call to AGI flow `operator-phone` with the dialled digits). The flow:

1. validates the digits as campaigns do (normalised to E.164, digits only into the dial
   string) and refuses anything else with a prompt;
2. puts the utility's outbound caller ID on the call (never "Anonymous");
3. registers the appeal (source operator-phone, or callback when the desk placed it), makes
   the operator ON_CALL on it (lookup-done, info-done and wrap-up-done work as for a queue
   call) and records the call with MixMonitor as the hotline does;
4. dials the customer (CC_DIAL_TEMPLATE) and, when the call ends, closes the appeal and
   starts the operator's post-call work (none when the customer never answered).

`call_back(code, number)` (the desk's «Перезвонить») rings the operator's phone first with
an Originate into [operator-phones]; once the operator answers, the same flow dials the
customer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from contact_center.clock import Clock
from contact_center.hotline.appeals import AppealService
from contact_center.hotline.handoffs import Handoffs
from contact_center.hotline.models import AppealSource, EndedBy
from contact_center.operators.exceptions import OperatorStateError, UnknownOperator
from contact_center.operators.models import OperatorState
from contact_center.operators.services import OperatorService, OperatorView
from contact_center.privacy import mask_phone
from contact_center.telephony._panoramisk import Message
from contact_center.telephony.agi import AgiChannel
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.exceptions import ChannelGone, TelephonyError
from contact_center.telephony.numbers import (
    InvalidPhoneNumber,
    build_dial_string,
    dial_digits,
    normalize_phone,
)
from contact_center.telephony.originate import (
    OriginateResult,
    Originator,
    caller_id_field,
    new_channel_id,
)

log = logging.getLogger(__name__)

FLOW = "operator-phone"
CONTEXT = "operator-phones"
# set on the operator's leg by call_back: who is calling back (a SIP phone cannot set these)
OPERATOR_VARIABLE = "CC_OPERATOR"
CALLBACK_VARIABLE = "CC_CALLBACK"
# the stock prompt a refused number hears ("неверно")
INVALID_PROMPT = "invalid"
# the longest conversation an EXEC Dial may take before we stop waiting for it
DIAL_LIMIT_S = 6 * 3600
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.\-]")
# "PJSIP/op101-0000002a" -> "PJSIP/op101"
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-f]{8}(;\d)?$")


def interface_of(channel: str) -> str:
    """The device (queue member interface) of a channel name."""
    return _CHANNEL_SUFFIX.sub("", channel)


class _AnswerWatch:
    """The customer's answer: DialEnd with DialStatus ANSWER on the dialing channel, noted
    at once in the event callback (a plain one: it must not raise, see ami.py)."""

    def __init__(self, uniqueid: str, clock: Clock) -> None:
        self.uniqueid = uniqueid
        self._clock = clock
        self.at: datetime | None = None
        self.seen = asyncio.Event()

    def on_dial_end(self, event: Message) -> None:
        if self.at is None and event.get("Uniqueid") == self.uniqueid:
            if event.get("DialStatus") == "ANSWER":
                self.at = self._clock.now()
                self.seen.set()


@dataclass(frozen=True, slots=True)
class CallBack:
    """What became of a call-back: the operator's leg (its Uniqueid names the appeal)."""

    channel_id: str
    result: OriginateResult


class OperatorPhones:
    """Calls operators place (see the module docstring)."""

    def __init__(
        self,
        *,
        link: AmiLink,
        originator: Originator,
        operators: OperatorService,
        handoffs: Handoffs,
        appeals: AppealService,
        clock: Clock,
        tz: ZoneInfo,
        dial_template: str,
        caller_id: str,
        caller_name: str,
        default_region: str = "RU",
        ring_timeout: float = 30.0,
    ) -> None:
        self._link = link
        self._originator = originator
        self._operators = operators
        self._handoffs = handoffs
        self._appeals = appeals
        self._clock = clock
        self._tz = tz
        self._template = dial_template
        self._caller_id = caller_id
        self._caller_name = caller_name
        self._region = default_region
        self.ring_timeout = ring_timeout

    # ------------------------------------------------------------------ the AGI flow
    async def handle_call(self, channel: AgiChannel) -> None:
        """AGI flow `operator-phone` (dialplan context [operator-phones])."""
        try:
            await self._run(channel)
        except ChannelGone:
            pass
        except TelephonyError as exc:
            log.warning("operator call %s: %s", channel.uniqueid, exc)
        finally:
            with contextlib.suppress(TelephonyError):
                await channel.hangup()

    async def _run(self, channel: AgiChannel) -> None:
        raw = channel.env.get("agi_arg_2", "")
        try:
            number = normalize_phone(raw, self._region)
            digits = dial_digits(number)
        except InvalidPhoneNumber:
            log.info("operator call %s: not a number, refused", channel.uniqueid)
            await channel.exec("Playback", INVALID_PROMPT)
            return
        operator = await self._operator_of(channel)
        callback = (await channel.get_variable(CALLBACK_VARIABLE)) == "1"
        await channel.set_variable("CALLERID(num)", self._caller_id)
        if self._caller_name:
            await channel.set_variable("CALLERID(name)", self._caller_name)
        source = AppealSource.CALLBACK if callback else AppealSource.OPERATOR_PHONE
        ref = await self._handoffs.register(
            uniqueid=channel.uniqueid,
            channel=channel.channel,
            number=number,
            source=source,
            context={"operator": operator.code if operator else "", "direction": "outbound"},
        )
        working = operator is not None and operator.state in (
            OperatorState.AVAILABLE,
            OperatorState.PAUSED,
        )
        if operator is not None and working:
            # the operator's steps (lookup-done ...) go on this appeal; no queue call rings them
            await self._operators.call_connected(operator.interface, ref.id, self._clock.now())
        status = ""
        operator_id = operator.id if operator is not None else None
        answer = _AnswerWatch(channel.uniqueid, self._clock)
        remove = self._link.on_event("DialEnd", answer.on_dial_end)
        writer = asyncio.ensure_future(self._note_answer(answer, operator_id))
        try:
            await self._record(channel, ref.id)
            dial = build_dial_string(self._template, digits)
            await channel.exec("Dial", f"{dial},{int(self.ring_timeout)}", timeout=DIAL_LIMIT_S)
            status = (await channel.get_variable("DIALSTATUS")) or ""
        except ChannelGone:
            status = status or "HANGUP"
            raise
        finally:
            remove()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            await self._end(channel, ref.id, operator if working else None, answer.at, status)
        log.info("operator call %s to %s: %s", channel.uniqueid, mask_phone(number), status or "-")

    async def _operator_of(self, channel: AgiChannel) -> OperatorView | None:
        code = await channel.get_variable(OPERATOR_VARIABLE)
        if code:
            with contextlib.suppress(UnknownOperator):
                return await self._operators.get(code)
        return await self._operators.by_interface(interface_of(channel.channel))

    async def _record(self, channel: AgiChannel, appeal_id: int) -> None:
        local = self._clock.now().astimezone(self._tz)
        name = f"operators/{local:%Y/%m/%d}/{_SAFE_ID.sub('_', channel.uniqueid)}.wav"
        await channel.exec("MixMonitor", name)
        recording = await channel.get_variable("MIXMONITOR_FILENAME") or name
        await self._appeals.set(appeal_id, recording_path=recording)

    async def _note_answer(self, answer: _AnswerWatch, operator_id: int | None) -> None:
        """Stamp the customer's answer on the appeal as it happens: the lookup norm the
        operator is measured against during the call counts from it."""
        await answer.seen.wait()
        assert answer.at is not None
        await self._appeals.operator_answered(answer.uniqueid, operator_id, answer.at)

    async def _end(
        self,
        channel: AgiChannel,
        appeal_id: int,
        operator: OperatorView | None,
        answered: datetime | None,
        status: str,
    ) -> None:
        now = self._clock.now()
        appeal = await self._appeals.get(appeal_id)
        talked = answered is not None or appeal.operator_answered_at is not None
        if answered is not None and appeal.operator_answered_at is None:
            # answered and ended before the stamp was written
            await self._appeals.operator_answered(
                channel.uniqueid, operator.id if operator else None, answered
            )
        if operator is not None and appeal.operator_id is None:
            await self._appeals.set(appeal_id, operator_id=operator.id)
        if talked:
            await self._appeals.operator_ended(channel.uniqueid, now)
        await self._handoffs.close(
            channel.uniqueid,
            ended_by=EndedBy.OPERATOR if talked else EndedBy.SYSTEM,
            note=f"dial {status.lower() or 'unknown'}",
        )
        if operator is None:
            return
        await self._operators.call_completed(operator.interface, now)
        if not talked:
            # nobody answered: there is nothing to wrap up
            with contextlib.suppress(OperatorStateError):
                await self._operators.wrap_up_done(operator.code)

    # ------------------------------------------------------------------ call-back
    async def call_back(self, code: str, number: str) -> CallBack:
        """Ring the operator's phone, then (once they answer) the customer at `number`.

        Raises OperatorStateError when the operator cannot call now (not logged in, on a
        call), InvalidPhoneNumber for a number that is not one, PhoneUnavailable when their
        phone is not registered, OriginateNotSent when Asterisk could not be asked."""
        operator = await self._operators.get(code)
        if operator.state == OperatorState.LOGGED_OUT:
            raise OperatorStateError(f"оператор «{code}» не в системе: войдите, чтобы перезвонить")
        if operator.state in (OperatorState.ON_CALL, OperatorState.WRAP_UP):
            raise OperatorStateError(
                f"оператор «{code}» занят ({operator.state}): перезвонить можно после постобработки"
            )
        digits = dial_digits(normalize_phone(number, self._region))
        await self._operators.check_phone(operator.interface)
        channel_id = new_channel_id()
        log.info("call-back by %s to %s as %s", code, mask_phone("+" + digits), channel_id)
        result = await self._originator.originate_channel(
            channel=operator.interface,
            channel_id=channel_id,
            context=CONTEXT,
            exten=digits,
            ring_timeout=self.ring_timeout,
            # the operator's phone shows whom it is about to call
            caller_id=caller_id_field(digits, "Перезвонить"),
            variables={f"__{OPERATOR_VARIABLE}": operator.code, f"__{CALLBACK_VARIABLE}": "1"},
        )
        return CallBack(channel_id, result)

"""Outbound calls: AMI Originate, always Async, with a ChannelId chosen and stored beforehand.

The outcome comes from OriginateResponse's Reason (verified on Asterisk 16 with Local
channels: 4 answered, 5 busy, 3 no answer, 8 congestion), refined by the hang-up cause of the
channel when Asterisk gives only "failed" (0/1).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import OrderedDict
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from contact_center.privacy import mask_phone
from contact_center.telephony._panoramisk import Message
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.channels import live_channel_ids
from contact_center.telephony.exceptions import AmiNotSent, OriginateNotSent
from contact_center.telephony.numbers import build_dial_string

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_VAR = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
_CHANNEL_ID = re.compile(r"[A-Za-z0-9_.\-]{8,64}")
# a dial string as Originate takes it: technology/resource, nothing that splits an argument
_DIAL_CHANNEL = re.compile(r"[A-Za-z0-9]+/[A-Za-z0-9_.@+\-/]{1,120}")
_CALLER_NUMBER = re.compile(r"\+?\d{3,15}")


class Outcome(StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    FAILED = "failed"


# AST_CONTROL_* values Asterisk puts in OriginateResponse's Reason
REASON_OUTCOME = {
    4: Outcome.ANSWERED,
    5: Outcome.BUSY,
    3: Outcome.NO_ANSWER,
    8: Outcome.CONGESTION,
}
# Q.850 hang-up causes, for the "failed" reasons
CAUSE_OUTCOME = {
    17: Outcome.BUSY,
    18: Outcome.NO_ANSWER,
    19: Outcome.NO_ANSWER,
    21: Outcome.FAILED,
    34: Outcome.CONGESTION,
    38: Outcome.CONGESTION,
    42: Outcome.CONGESTION,
}


@dataclass(frozen=True, slots=True)
class OriginateResult:
    outcome: Outcome
    reason: int
    channel_id: str
    cause: int | None = None
    message: str = ""

    @property
    def answered(self) -> bool:
        return self.outcome is Outcome.ANSWERED


def new_channel_id() -> str:
    """A fresh ChannelId; store it with the attempt before calling `originate`."""
    return f"cc-{uuid.uuid4().hex}"


def caller_id_field(number: str, name: str = "") -> str:
    """The Originate CallerID `"Name" <number>`; `number` is digits (an optional +)."""
    if not _CALLER_NUMBER.fullmatch(number):
        raise ValueError(f"caller ID must be digits: {number[:20]!r}")
    if any(ch in name for ch in '"<>\\\r\n'):
        raise ValueError("caller name must not contain quotes, <, >, \\ or line breaks")
    return f'"{name}" <{number}>' if name else f"<{number}>"


class Originator:
    """Typed Originate on the link; remembers recent hang-up causes to explain failures.

    Every call carries `caller_id` (the utility's outbound number) unless the caller of
    `originate` gives its own: without one a PJSIP INVITE goes out as "Anonymous"."""

    def __init__(
        self,
        link: AmiLink,
        dial_template: str,
        *,
        caller_id: str = "",
        cause_memory: int = 4096,
    ) -> None:
        self._link = link
        self._template = dial_template
        self.caller_id = caller_id
        self._causes: OrderedDict[str, int] = OrderedDict()
        self._cause_memory = cause_memory
        link.on_event("Hangup", self._on_hangup)

    def _on_hangup(self, event: Message) -> None:
        uniqueid = str(event.get("Uniqueid", ""))
        cause = str(event.get("Cause", ""))
        if uniqueid and cause.isdigit():
            self._causes[uniqueid] = int(cause)
            while len(self._causes) > self._cause_memory:
                self._causes.popitem(last=False)

    async def originate(
        self,
        *,
        number: str,
        channel_id: str,
        context: str,
        exten: str = "s",
        priority: int = 1,
        ring_timeout: float = 30.0,
        variables: Mapping[str, str] | None = None,
        caller_id: str | None = None,
    ) -> OriginateResult:
        """Dial `number` (digits only) and wait for the outcome; answered calls enter `context`.

        Raises OriginateNotSent when nobody was dialled (link down, or Asterisk refused the
        action); AmiConnectionError / AmiTimeout when the reply was lost and the call's fate
        is unknown (reconcile by `channel_id`).
        """
        return await self.originate_now(
            number=number,
            channel_id=channel_id,
            context=context,
            exten=exten,
            priority=priority,
            ring_timeout=ring_timeout,
            variables=variables,
            caller_id=caller_id,
        )

    def originate_now(
        self,
        *,
        number: str,
        channel_id: str,
        context: str,
        exten: str = "s",
        priority: int = 1,
        ring_timeout: float = 30.0,
        variables: Mapping[str, str] | None = None,
        caller_id: str | None = None,
    ) -> Coroutine[Any, Any, OriginateResult]:
        """`originate` with the action written in this step (OriginateNotSent raised at
        once when the link is down); await what it returns for the outcome. A dialer
        that frees a slot starts the next call with no task hop in between."""
        log.debug("originate %s as %s", mask_phone(number), channel_id)
        return self._originate(
            build_dial_string(self._template, number),
            channel_id=channel_id,
            context=context,
            exten=exten,
            priority=priority,
            ring_timeout=ring_timeout,
            variables=variables,
            caller_id=caller_id,
        )

    async def originate_channel(
        self,
        *,
        channel: str,
        channel_id: str,
        context: str,
        exten: str = "s",
        priority: int = 1,
        ring_timeout: float = 30.0,
        variables: Mapping[str, str] | None = None,
        caller_id: str | None = None,
    ) -> OriginateResult:
        """`originate` to a channel the caller already knows (an operator's phone), not a
        customer's number: the same checks, fields and outcome."""
        if not _DIAL_CHANNEL.fullmatch(channel):
            raise ValueError(f"bad channel {channel!r}")
        return await self._originate(
            channel,
            channel_id=channel_id,
            context=context,
            exten=exten,
            priority=priority,
            ring_timeout=ring_timeout,
            variables=variables,
            caller_id=caller_id,
        )

    def _originate(
        self,
        dial: str,
        *,
        channel_id: str,
        context: str,
        exten: str,
        priority: int,
        ring_timeout: float,
        variables: Mapping[str, str] | None,
        caller_id: str | None,
    ) -> Coroutine[Any, Any, OriginateResult]:
        if not _NAME.fullmatch(context) or not _NAME.fullmatch(exten):
            raise ValueError("context and extension must be plain names")
        if not _CHANNEL_ID.fullmatch(channel_id):
            raise ValueError(f"bad channel id {channel_id!r}")
        fields: dict[str, str | list[str]] = {
            "Channel": dial,
            "Context": context,
            "Exten": exten,
            "Priority": str(int(priority)),
            "Async": "true",
            "Timeout": str(int(ring_timeout * 1000)),
            "ChannelId": channel_id,
            "OtherChannelId": f"{channel_id}-b",
        }
        if caller_id or self.caller_id:
            fields["CallerID"] = caller_id or self.caller_id
        if variables:
            for name, value in variables.items():
                if not _VAR.fullmatch(name):
                    raise ValueError(f"bad channel variable name {name!r}")
                if any(ch in value for ch in "\r\n"):
                    raise ValueError(f"channel variable {name} must be one line")
            fields["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        try:
            reply = self._link.send_nowait(
                "Originate", timeout=ring_timeout + self._link.config.action_timeout + 5, **fields
            )
        except AmiNotSent as exc:
            raise OriginateNotSent(f"Originate not sent: {exc}") from exc
        return self._outcome(reply, channel_id)

    async def _outcome(
        self, reply: Coroutine[Any, Any, list[Message]], channel_id: str
    ) -> OriginateResult:
        messages = await reply
        first = messages[0]
        if str(first.get("Response", "")).lower() == "error":
            # with Async: true, Asterisk answers Error only before it starts dialling
            # (manager.c: shutting down, permission, bad channel, thread not created)
            raise OriginateNotSent(
                f"Asterisk refused the Originate: {first.get('Message', '') or 'no reason'}",
                refused=True,
            )
        final = next(
            (m for m in messages[1:] if str(m.get("Event", "")) == "OriginateResponse"), None
        )
        if final is None:
            return OriginateResult(Outcome.FAILED, -1, channel_id, message="no OriginateResponse")
        return self.result_of(final, channel_id)

    def result_of(self, event: Message, channel_id: str) -> OriginateResult:
        """The outcome an OriginateResponse tells (for Originates sent by others too)."""
        reason_raw = str(event.get("Reason", ""))
        reason = int(reason_raw) if reason_raw.lstrip("-").isdigit() else -1
        cause = self._causes.get(channel_id)
        if str(event.get("Response", "")) == "Success":
            outcome = Outcome.ANSWERED
        elif reason in REASON_OUTCOME:
            outcome = REASON_OUTCOME[reason]
        elif cause is not None and cause in CAUSE_OUTCOME:
            outcome = CAUSE_OUTCOME[cause]
        else:
            outcome = Outcome.FAILED
        return OriginateResult(outcome, reason, channel_id, cause, str(event.get("Response", "")))

    async def live_channel_ids(self) -> set[str]:
        """Uniqueids and Linkedids of every channel Asterisk has now (for reconciliation)."""
        return await live_channel_ids(self._link)

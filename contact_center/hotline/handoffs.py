"""Appeals of calls that reach an operator without the hotline flow: a campaign call put
through to the operators' queue (the autoinformer's transfer), an operator dialing a
customer, a call-back from the desk.

They are appeals like hotline calls (numbered in the journal, timed by the same queue events
and operator steps, counted in the per-operator report), with their `source` and the
`context` the operator's screen shows. The autoinformer reaches this through `App.handoffs`
(the core never imports the autoinformer). Only hotline appeals are the hotline recovery's:
whoever registers a handoff closes it when its call ends (`close`, idempotent).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from contact_center.clock import Clock
from contact_center.customers.services import CustomerService
from contact_center.hotline.appeals import AppealRef, AppealService
from contact_center.hotline.exceptions import AppealNotFound
from contact_center.hotline.models import Appeal, AppealSource, EndedBy
from contact_center.hotline.recovery import release
from contact_center.privacy import mask_phone
from contact_center.telephony.agi import AgiChannel
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.exceptions import TelephonyError
from contact_center.telephony.numbers import InvalidPhoneNumber, normalize_phone

log = logging.getLogger(__name__)

# AGI flow of dialplan context [from-dialer-nodes]: a transfer arriving over the node trunk
HANDOFF_FLOW = "handoff"
# a context is shown on a screen and stored in a JSON column: keep it small
CONTEXT_MAX_BYTES = 8192


class Handoffs:
    """Register and close appeals of non-hotline calls (see the module docstring)."""

    def __init__(
        self,
        appeals: AppealService,
        customers: CustomerService,
        clock: Clock,
        *,
        default_region: str = "RU",
    ) -> None:
        self._appeals = appeals
        self._customers = customers
        self._clock = clock
        self._region = default_region

    async def register(
        self,
        *,
        uniqueid: str,
        channel: str,
        number: str,
        source: AppealSource,
        context: Mapping[str, Any] | None = None,
        account: str | None = None,
    ) -> AppealRef:
        """The appeal of the call on channel `uniqueid` (already answered), the customer found
        by `account` or else by `number`. Raises ValueError for a context that is not a
        small JSON object."""
        ref = await self._register(
            uniqueid=uniqueid,
            channel=channel,
            number=number,
            source=source,
            context=context,
            account=account,
            operator=False,
        )
        assert ref is not None  # nothing to refuse it
        return ref

    async def register_if_operator_free(
        self,
        *,
        uniqueid: str,
        channel: str,
        number: str,
        source: AppealSource,
        context: Mapping[str, Any] | None = None,
        account: str | None = None,
    ) -> AppealRef | None:
        """`register`, only while an operator is free by the shared database's count (the
        operators are on another node); None when none is. The appeal then counts as a
        transfer on its way, so no other worker can take the same operator
        (AppealService.register_if_operator_free)."""
        return await self._register(
            uniqueid=uniqueid,
            channel=channel,
            number=number,
            source=source,
            context=context,
            account=account,
            operator=True,
        )

    async def _register(
        self,
        *,
        uniqueid: str,
        channel: str,
        number: str,
        source: AppealSource,
        context: Mapping[str, Any] | None,
        account: str | None,
        operator: bool,
    ) -> AppealRef | None:
        if AppealSource(source) is AppealSource.HOTLINE:
            raise ValueError("hotline calls are registered by the hotline flow")
        stored = _checked_context(context)
        try:
            e164 = normalize_phone(number, self._region) if number else ""
        except InvalidPhoneNumber:
            e164 = ""
        customer = await self._customers.get(account) if account else None
        if customer is None and e164:
            customer = await self._customers.find_by_phone(e164)
        now = self._clock.now()
        register = self._appeals.register_if_operator_free if operator else self._appeals.register
        ref = await register(
            uniqueid=uniqueid,
            channel=channel,
            caller_number=e164 or number[:32],
            customer_id=customer.id if customer else None,
            arrived_at=now,
            answered_at=now,
            source=source,
            context=stored,
        )
        if ref is None:
            log.info("%s call %s: no operator free, not registered", source.value, uniqueid)
            return None
        await self._appeals.save_progress(
            ref.id, ivr_path=f"{source.value}", timeline=[["state", source.value, now.isoformat()]]
        )
        log.info(
            "%s call %s with %s: appeal %s",
            source.value,
            uniqueid,
            mask_phone(e164) if e164 else "unknown number",
            ref.number,
        )
        return ref

    async def operator_interface(self, appeal_id: int) -> str:
        """The queue member interface of the operator who answered the appeal ("" none)."""
        return await self._appeals.operator_interface(appeal_id)

    async def close(
        self, uniqueid: str, *, ended_by: EndedBy, note: str = "", appeal_id: int | None = None
    ) -> bool:
        """Close the appeal of the call `uniqueid` (if it has one and it is open), or the
        appeal `appeal_id` when the caller knows it (a transfer to another node moved the
        appeal to that node's channel: `adopt`)."""
        appeal: Appeal | None
        if appeal_id is not None:
            try:
                appeal = await self._appeals.get(appeal_id)
            except AppealNotFound:
                appeal = None
        else:
            appeal = await self._appeals.by_uniqueid(uniqueid)
        if appeal is None or appeal.ended_at is not None:
            return False
        now = self._clock.now()
        more = [["note", note, now.isoformat()]] if note else []
        more.append(["state", "ended", now.isoformat()])
        return await self._appeals.close(
            appeal.id, ended_at=now, ended_by=ended_by.value, more_timeline=more
        )


class HandoffReceiver:
    """The hotline node's end of the node trunk: AGI flow `handoff` (dialplan context
    [from-dialer-nodes]). A dialer node registered the transfer's appeal in the shared
    database and sent its id over the trunk (X-CC-Handoff); the appeal is moved to this
    node's channel before the call enters the queue, so QueueCallerJoin, AgentConnect, the
    operator's steps and the screen-pop find it here as they would on one node. Then the
    dialplan takes the call on (AGI `ASYNCAGI BREAK`) into the queue."""

    def __init__(self, appeals: AppealService, link: AmiLink) -> None:
        self._appeals = appeals
        self._link = link
        self.received = 0

    async def handle_call(self, channel: AgiChannel) -> None:
        key = channel.env.get("agi_arg_2", "")
        try:
            if key.isascii() and key.isdigit():
                moved = await self._appeals.move_to_channel(
                    int(key), channel.uniqueid, channel.channel
                )
                if moved:
                    self.received += 1
                else:
                    log.warning("node trunk call %s: no open appeal %s", channel.uniqueid, key)
            else:
                log.warning("node trunk call %s came without a handoff key", channel.uniqueid)
        except SQLAlchemyError:
            # the customer still reaches an operator; only the screen-pop lacks the context
            log.exception("node trunk call %s: appeal %s not taken over", channel.uniqueid, key)
        finally:
            # no AGI reply comes for it: sent as an AMI action, as the hotline's release does
            with contextlib.suppress(TelephonyError):
                await release(self._link, channel.channel, done=False)


def _checked_context(context: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if context is None:
        return None
    try:
        text = json.dumps(dict(context), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"appeal context must be JSON: {exc}") from None
    if len(text.encode()) > CONTEXT_MAX_BYTES:
        raise ValueError(f"appeal context over {CONTEXT_MAX_BYTES} bytes")
    return dict(json.loads(text))

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

import json
import logging
from collections.abc import Mapping
from typing import Any

from contact_center.clock import Clock
from contact_center.customers.services import CustomerService
from contact_center.hotline.appeals import AppealRef, AppealService
from contact_center.hotline.models import AppealSource, EndedBy
from contact_center.privacy import mask_phone
from contact_center.telephony.numbers import InvalidPhoneNumber, normalize_phone

log = logging.getLogger(__name__)

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
        ref = await self._appeals.register(
            uniqueid=uniqueid,
            channel=channel,
            caller_number=e164 or number[:32],
            customer_id=customer.id if customer else None,
            arrived_at=now,
            answered_at=now,
            source=source,
            context=stored,
        )
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

    async def close(self, uniqueid: str, *, ended_by: EndedBy, note: str = "") -> bool:
        """Close the appeal of the call `uniqueid` (if it has one and it is open)."""
        appeal = await self._appeals.by_uniqueid(uniqueid)
        if appeal is None or appeal.ended_at is not None:
            return False
        now = self._clock.now()
        more = [["note", note, now.isoformat()]] if note else []
        more.append(["state", "ended", now.isoformat()])
        return await self._appeals.close(
            appeal.id, ended_at=now, ended_by=ended_by.value, more_timeline=more
        )


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

"""A campaign as the dialer and the mailer need it: one snapshot per pass."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from autoinformer.models import Campaign
from autoinformer.scheduling import (
    CallingWindows,
    Caps,
    Retry,
    parse_caps,
    policy_from_data,
)

# statuses in which a campaign still has work for the dialer or the mailer
ACTIVE = ("running", "paused")


@dataclass(frozen=True, slots=True)
class Plan:
    """A running campaign as the dialer needs it (a snapshot per pass)."""

    id: int
    name: str
    kind: str
    status: str
    scenario_id: int
    start_at: datetime
    end_at: datetime | None
    windows: CallingWindows
    tz: ZoneInfo
    concurrency: int
    ring_timeout: float
    retry: Mapping[str, Retry]
    caps: Caps
    priority: int
    channel: str = "phone"
    # why the e-mail side stopped by itself (None: it runs)
    email_paused: str | None = None
    # fresh data at dial time (autoinformer.phone.fresh): the list came from the customer
    # base, the registered outage it warns of and its times as read out
    from_base: bool = False
    outage_id: int | None = None
    outage_start: datetime | None = None
    outage_end: datetime | None = None


def plan_of(c: Campaign) -> Plan:
    return Plan(
        id=c.id,
        name=c.name,
        kind=c.kind,
        status=c.status,
        scenario_id=c.scenario_id,
        start_at=c.start_at,
        end_at=c.end_at,
        windows=CallingWindows.from_data(json.loads(c.windows)),
        tz=ZoneInfo(c.timezone),
        concurrency=c.concurrency,
        ring_timeout=c.ring_timeout,
        retry=policy_from_data(json.loads(c.retry)),
        caps=parse_caps(c.caps),
        priority=c.priority,
        channel=c.channel,
        email_paused=c.email_paused,
        from_base=bool(c.from_base),
        outage_id=c.outage_id,
        outage_start=c.outage_start,
        outage_end=c.outage_end,
    )

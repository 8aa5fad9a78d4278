"""A campaign's progress, live: what `campaign status` prints (text or JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from autoinformer.models import Campaign
from autoinformer.phone.pacing import Pace, pace_text
from autoinformer.reports import CAMPAIGN_RU, EMAIL_STATUS_RU, WAITING_RU
from autoinformer.scheduling import STATUS_RU


def labels(codes: Iterable[str], words: Mapping[str, str]) -> dict[str, str]:
    """Each code with the Russian word a user reads for it (the code itself when none)."""
    return {code: words.get(code, code) for code in codes}


def campaign_pace(campaign: Campaign) -> Pace | None:
    """The dialer's pace of a campaign it is dialing (a stored pace of a campaign paused,
    finished or not started yet says nothing about now)."""
    if campaign.status != "running" or not campaign.pace or campaign.channel == "email":
        return None
    try:
        return Pace.from_data(json.loads(campaign.pace))
    except (ValueError, KeyError, TypeError):
        return None


def concurrency_data(pace: Pace | None) -> dict[str, Any] | None:
    """The pace for JSON: codes and numbers, and the Russian line (`text`)."""
    if pace is None:
        return None
    return {**pace.to_data(), "text": pace_text(pace)}


@dataclass(frozen=True, slots=True)
class EmailProgress:
    """The e-mail side of a campaign, live: letters by state and result."""

    total: int
    queued: int
    sending: int
    done: int
    accepted: int
    deferred: int
    failed: int
    unknown: int
    retries_due: int
    deferrals: int
    by_status: Mapping[str, int]
    # why the e-mail side stopped by itself (SMTP settings refused), None while it runs
    paused: str | None = None

    def to_data(self) -> dict[str, Any]:
        return {
            "letters": self.total,
            "queued": self.queued,
            "sending": self.sending,
            "done": self.done,
            "accepted": self.accepted,
            "deferred": self.deferred,
            "failed": self.failed,
            "unknown": self.unknown,
            "retries_due": self.retries_due,
            "deferrals": self.deferrals,
            "by_status": dict(self.by_status),
            "by_status_label": labels(self.by_status, EMAIL_STATUS_RU),
            "paused": self.paused,
        }


@dataclass(frozen=True, slots=True)
class CampaignStatus:
    id: int
    name: str
    kind: str
    scenario: str
    status: str
    total: int
    waiting: int
    calling: int
    retries_due: int
    done: int
    notified: int
    failed: int
    by_status: Mapping[str, int]
    waiting_reasons: Mapping[str, int]
    start_at: datetime
    end_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    expected_finish: datetime | None
    channel: str = "phone"
    email: EmailProgress | None = None
    # calls made so far (counted attempts of every contact)
    attempts: int = 0
    # what the outage registry did to the outage it warns of (moved, removed), in Russian
    outage_note: str | None = None
    # the dialer's effective concurrency while the campaign runs (None: not dialing now)
    pace: Pace | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("finished", "cancelled")

    def to_data(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "scenario": self.scenario,
            "status": self.status,
            "status_label": CAMPAIGN_RU.get(self.status, self.status),
            "total": self.total,
            "waiting": self.waiting,
            "calling": self.calling,
            "retries_due": self.retries_due,
            "done": self.done,
            "notified": self.notified,
            "failed": self.failed,
            "by_status": dict(self.by_status),
            "by_status_label": labels(self.by_status, STATUS_RU),
            "waiting_reasons": dict(self.waiting_reasons),
            "waiting_reasons_label": labels(self.waiting_reasons, WAITING_RU),
            "start": iso(self.start_at),
            "end": iso(self.end_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "expected_finish": iso(self.expected_finish),
            "channel": self.channel,
            "email": self.email.to_data() if self.email is not None else None,
            "attempts": self.attempts,
            "outage_note": self.outage_note,
            "concurrency": concurrency_data(self.pace),
        }

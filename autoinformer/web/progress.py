"""Live progress of the active campaigns for the web console: their counters go into the
event hub (``campaign:<id>``, event ``campaign``) within a poll of a change, with a point of
the attempts/notified series the live page draws.

Cheap by design, it runs all the time `serve` does: one query for the active campaigns and
one grouped COUNT per active campaign (and one over its letters when it sends e-mail) every
`interval`; nothing is published when nothing changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.campaigns.status import campaign_pace, concurrency_data, labels
from autoinformer.models import Campaign, CampaignContact, Letter
from autoinformer.reports import CAMPAIGN_RU, WAITING_RU
from autoinformer.scheduling import STATUS_RU, expected_finish
from contact_center.clock import Clock

log = logging.getLogger(__name__)
ACTIVE: Final = ("running", "paused")
FINISHED: Final = ("finished", "cancelled")
# points kept per campaign; beyond it every other old point goes (the chart keeps its shape)
MAX_POINTS: Final = 2000
# ended campaigns whose series and metrics this process keeps
KEEP_ENDED: Final = 50


class Publisher(Protocol):
    def publish(self, key: str, event: str, data: Any) -> None: ...


def event_key(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


@dataclass(slots=True)
class _Tracked:
    counters: dict[str, Any] | None = None
    series: list[dict[str, float]] = field(default_factory=list)
    ended: bool = False


class CampaignProgress:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        events: Publisher,
        clock: Clock,
        *,
        interval: float = 0.5,
    ) -> None:
        self._sessions = sessions
        self._events = events
        self._clock = clock
        self.interval = interval
        self._tracked: dict[int, _Tracked] = {}
        # the latest contact counts by status of every campaign this process watched
        self.contacts_by_status: dict[int, dict[str, int]] = {}

    def series(self, campaign_id: int) -> list[dict[str, float]]:
        tracked = self._tracked.get(campaign_id)
        return list(tracked.series) if tracked else []

    async def run(self) -> None:
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception:
                # a locked or unreachable database must not end the live view for good
                log.exception("campaign progress poll failed")
            await asyncio.sleep(self.interval)

    async def poll(self) -> None:
        """One round: publish every active campaign whose counters changed."""
        async with self._sessions() as session:
            watched = [cid for cid, t in self._tracked.items() if not t.ended]
            query = select(Campaign).where(Campaign.status.in_(ACTIVE))
            if watched:
                query = select(Campaign).where(
                    Campaign.status.in_(ACTIVE) | Campaign.id.in_(watched)
                )
            campaigns = list(await session.scalars(query))
            for campaign in campaigns:
                counters = await self._counters(session, campaign)
                self._update(campaign, counters)
        # a campaign that ended was published once more above; it is polled no longer, its
        # series stays for its page (the oldest ended ones go beyond KEEP_ENDED)
        for campaign in campaigns:
            if campaign.status in FINISHED:
                self._tracked[campaign.id].ended = True
        ended = [cid for cid, t in self._tracked.items() if t.ended]
        for cid in ended[: max(0, len(ended) - KEEP_ENDED)]:
            del self._tracked[cid]
            self.contacts_by_status.pop(cid, None)

    async def _counters(self, session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
        tried = (CampaignContact.attempts > 0).label("tried")
        rows = (
            await session.execute(
                select(
                    CampaignContact.state,
                    CampaignContact.status,
                    CampaignContact.notified,
                    tried,
                    CampaignContact.wait_reason,
                    func.count().label("n"),
                    func.coalesce(func.sum(CampaignContact.attempts), 0).label("attempts"),
                )
                .where(CampaignContact.campaign_id == campaign.id)
                .group_by(
                    CampaignContact.state,
                    CampaignContact.status,
                    CampaignContact.notified,
                    tried,
                    CampaignContact.wait_reason,
                )
            )
        ).all()
        email = None
        if campaign.channel != "phone":
            letters = (
                await session.execute(
                    select(Letter.state, Letter.status, func.count().label("n"))
                    .where(Letter.campaign_id == campaign.id)
                    .group_by(Letter.state, Letter.status)
                )
            ).all()
            email = email_counters(
                [(r.state, r.status, int(r.n)) for r in letters], campaign.email_paused
            )
        return contact_counters(
            [
                (r.state, r.status, bool(r.notified), bool(r.tried), r.wait_reason, int(r.n))
                for r in rows
            ],
            attempts=sum(int(r.attempts) for r in rows),
            email=email,
        )

    def _update(self, campaign: Campaign, counters: dict[str, Any]) -> None:
        tracked = self._tracked.setdefault(campaign.id, _Tracked())
        state = {
            "id": campaign.id,
            "name": campaign.name,
            "status": campaign.status,
            "status_label": CAMPAIGN_RU.get(campaign.status, campaign.status),
            **counters,
            "by_status_label": labels(counters["by_status"], STATUS_RU),
            "waiting_reasons_label": labels(counters["waiting_reasons"], WAITING_RU),
            "concurrency": concurrency_data(campaign_pace(campaign)),
        }
        self.contacts_by_status[campaign.id] = by_status_label(counters)
        if tracked.counters == state:
            return
        tracked.counters = state
        now = self._clock.now()
        point = {
            "t": round(now.timestamp(), 3),
            "attempts": float(counters["attempts"]),
            "notified": float(counters["notified"]),
        }
        tracked.series.append(point)
        if len(tracked.series) > MAX_POINTS:
            tracked.series[: MAX_POINTS // 2] = tracked.series[: MAX_POINTS // 2 : 2]
        finish = _expected(campaign, counters, now)
        # `ts`: when this was published, by the wall clock (not the service's, which a test or
        # demo may shift), so a client can tell how long the event took to reach it
        self._events.publish(
            event_key(campaign.id),
            "campaign",
            {**state, "expected_finish": finish, "point": point, "ts": round(time.time(), 4)},
        )


def _expected(campaign: Campaign, counters: Mapping[str, Any], now: datetime) -> str | None:
    if campaign.status in FINISHED:
        return campaign.finished_at.isoformat() if campaign.finished_at else None
    done = counters["done"] + (counters["email"]["done"] if counters.get("email") else 0)
    total = counters["total"] + (counters["email"]["letters"] if counters.get("email") else 0)
    value = expected_finish(now, campaign.started_at, done, total - done)
    return value.isoformat() if value else None


def contact_counters(
    groups: list[tuple[str, str | None, bool, bool, str | None, int]],
    *,
    attempts: int,
    email: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`campaign status`'s counters from grouped rows (state, status, notified, tried,
    wait_reason, count): pure, the same numbers `CampaignService.status` gives."""
    total = waiting = calling = retries = done = notified = failed = 0
    by_status: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for state, status, was_notified, tried, reason, n in groups:
        total += n
        if was_notified:
            notified += n
        if state == "waiting":
            waiting += n
            if tried:
                retries += n
            key = reason or "due"
            reasons[key] = reasons.get(key, 0) + n
        elif state == "calling":
            calling += n
        elif state == "done":
            done += n
            if not was_notified:
                failed += n
            name = status or "unknown"
            by_status[name] = by_status.get(name, 0) + n
    return {
        "total": total,
        "waiting": waiting,
        "calling": calling,
        "retries_due": retries,
        "done": done,
        "notified": notified,
        "failed": failed,
        "attempts": attempts,
        "by_status": dict(sorted(by_status.items())),
        "waiting_reasons": dict(sorted(reasons.items())),
        "email": email,
    }


def email_counters(groups: list[tuple[str, str | None, int]], paused: str | None) -> dict[str, Any]:
    states: dict[str, int] = {}
    finals: dict[str, int] = {}
    retries = 0
    for state, status, n in groups:
        states[state] = states.get(state, 0) + n
        if state == "done":
            finals[status or "unknown"] = finals.get(status or "unknown", 0) + n
        if state == "queued" and status == "deferred":
            retries += n
    return {
        "letters": sum(states.values()),
        "queued": states.get("queued", 0),
        "sending": states.get("sending", 0),
        "done": states.get("done", 0),
        "accepted": finals.get("accepted", 0),
        "deferred": finals.get("deferred", 0),
        "failed": finals.get("failed", 0),
        "unknown": finals.get("unknown", 0),
        "retries_due": retries,
        "by_status": dict(sorted(finals.items())),
        "paused": paused,
    }


def by_status_label(counters: Mapping[str, Any]) -> dict[str, int]:
    """Contacts by one status label for the metrics: waiting, calling, or the final status."""
    out = {"waiting": int(counters["waiting"]), "calling": int(counters["calling"])}
    for status, n in counters["by_status"].items():
        out[status] = out.get(status, 0) + int(n)
    return out

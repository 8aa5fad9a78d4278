"""The campaigns' call-back requests for the operator's desk (a core CallbackProvider).

A customer who asked during a campaign call to be called back is a contact with `callback`
set; the desk lists it from the moment of that call until an operator reaches the number.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.models import Campaign, CampaignContact
from contact_center.operators.callbacks import DueCallback

LIMIT = 200


class CampaignCallbacks:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], tz: ZoneInfo) -> None:
        self._sessions = sessions
        self._tz = tz

    async def due(self, day: date) -> list[DueCallback]:
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self._tz)
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(CampaignContact, Campaign.name)
                    .join(Campaign, Campaign.id == CampaignContact.campaign_id)
                    .where(
                        CampaignContact.callback.is_(True),
                        CampaignContact.last_attempt_at.is_not(None),
                        CampaignContact.last_attempt_at < end,
                    )
                    .order_by(CampaignContact.last_attempt_at.desc())
                    .limit(LIMIT)
                )
            ).all()
        out = []
        for contact, campaign in rows:
            assert contact.last_attempt_at is not None
            out.append(
                DueCallback(
                    source="autoinformer",
                    ref=str(contact.id),
                    number="+" + contact.phone,
                    asked_at=contact.last_attempt_at,
                    reason=(
                        f"не дозвонились: кампания «{campaign}»"
                        if contact.follow_up == "callback"
                        else f"просил перезвонить: кампания «{campaign}»"
                    ),
                    account=contact.account,
                    name=contact.name,
                )
            )
        return out

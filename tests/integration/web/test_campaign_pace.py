"""The effective concurrency with its reason, and Russian labels beside the codes: the
campaign's JSON, its page and `campaign status` while the dialer holds it back."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from autoinformer.cli import status_line
from autoinformer.models import Attempt
from autoinformer.plugin import Autoinformer
from tests.integration.waiting import wait_for

from .conftest import ConsoleFactory
from .test_campaigns_api import add_short_scenario, create

pytestmark = pytest.mark.integration

KRS = ZoneInfo("Asia/Krasnoyarsk")
TUESDAY_11 = datetime(2026, 12, 1, 11, 0, tzinfo=KRS)
# five customers who let it ring (last digit 3): calls last the ring timeout, 3 s
RINGING = "phone,account,debt\n" + "".join(f"+7913000{i:03d}3,{i},150\n" for i in range(5))
SETTLE = timedelta(seconds=0.5)
LIMITED = "одновременно 2 из 10: лимит каналов 2, заняты другими кампаниями 0"


async def test_a_campaign_held_back_by_the_trunk_says_so_in_json_page_and_cli(
    console_at: ConsoleFactory,
) -> None:
    async with console_at(now=TUESDAY_11, settings={"dial_channels": 2}) as console:
        sveta = await console.user("sveta", "supervisor")
        await add_short_scenario(sveta)
        made = await create(sveta, RINGING, concurrency="10")
        assert made.status == 201, made.text
        cid = made.json()["id"]
        started = await sveta.post(f"/api/campaigns/{cid}/start", {})
        assert started.status == 200, started.text

        async def held_back() -> dict[str, Any] | None:
            shown = (await sveta.get(f"/api/campaigns/{cid}")).json()
            pace = shown.get("concurrency")
            return shown if pace and pace["reason"] == "channels" else None

        shown = await wait_for(held_back, 20, "the dialer to store its pace")
        page = (await sveta.get(f"/campaigns/{cid}")).text
        campaigns = console.app.part(Autoinformer).campaigns
        line = status_line(await campaigns.status(cid), KRS, campaigns.clock.now())

        async def ended() -> bool:
            return (await sveta.get(f"/api/campaigns/{cid}")).json()["status"] == "finished"

        await wait_for(ended, 60, "the campaign to finish")
        async with campaigns.sessions() as session:
            attempts = list(
                await session.scalars(select(Attempt).where(Attempt.campaign_id == cid))
            )
        finished = (await sveta.get(f"/api/campaigns/{cid}")).json()
        contacts = (await sveta.get(f"/api/campaigns/{cid}/contacts")).json()["contacts"]

    pace = shown["concurrency"]
    assert (pace["asked"], pace["limit"], pace["channels"]) == (10, 2, 2)
    assert pace["text"] == LIMITED
    assert shown["status"] == "running" and shown["status_label"] == "идёт"
    # codes stay codes; each has its Russian word beside it
    for code, label in shown["waiting_reasons_label"].items():
        assert code in shown["waiting_reasons"]
        assert label in ("на очереди", "ждёт повтора")
    assert LIMITED in page and 'id="campaign-pace"' in page
    assert LIMITED in line
    # never more than two calls at once (a call's end is stored a moment after its slot
    # is freed: that moment is not an overlap)
    spans = sorted((a.started_at, a.ended_at - SETTLE) for a in attempts if a.ended_at)
    assert len(spans) == len(attempts) >= 5
    for (_s1, e1), (_s2, e2), (s3, _e3) in itertools.combinations(spans, 3):
        assert not (s3 < e1 and s3 < e2), "three calls at once"
    # a finished campaign is not dialed: no pace, and its statuses in Russian
    assert finished["concurrency"] is None
    assert finished["by_status_label"] == {"no_answer": "не ответил"}
    assert all(c["status_ru"] == "не ответил" for c in contacts)

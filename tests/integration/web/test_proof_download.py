"""The proof of notification over HTTP: a supervisor downloads the ZIP (audited), an operator
may not, a missing or unknown account is refused naming the field; the campaign page links it."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select

from autoinformer.models import Attempt, CampaignContact
from autoinformer.proof import verify_zip

from .conftest import Console
from .test_campaigns_api import GOOD_LIST, add_short_scenario, create

pytestmark = pytest.mark.integration


async def test_a_supervisor_downloads_the_proof_pack_and_the_download_is_audited(
    console: Console,
) -> None:
    sveta = await console.user("sveta", "supervisor")
    await add_short_scenario(sveta)
    made = await create(sveta, GOOD_LIST)
    assert made.status == 201, made.text
    cid = made.json()["id"]
    now = console.app.clock.now()
    async with console.app.sessions() as session, session.begin():
        contact = await session.scalar(
            select(CampaignContact).where(
                CampaignContact.campaign_id == cid, CampaignContact.account == "1001"
            )
        )
        assert contact is not None
        session.add(
            Attempt(
                campaign_id=cid,
                contact_id=contact.id,
                phone=contact.phone,
                kind="debt",
                channel_id="cc-web-proof-1",
                started_at=now - timedelta(seconds=9),
                answered_at=now - timedelta(seconds=6),
                ended_at=now,
                outcome="answered",
                status="notified",
                played_to_end=True,
                message=json.dumps([{"text": "Задолженность", "sound": "cc/none"}]),
            )
        )

    reply = await sveta.get(f"/api/campaigns/{cid}/proof?account=1001")
    assert reply.status == 200, reply.text
    assert reply.headers["content-type"] == "application/zip"
    assert "attachment" in reply.headers["content-disposition"]
    assert verify_zip(reply.body) == []
    with zipfile.ZipFile(io.BytesIO(reply.body)) as zf:
        log = json.loads(zf.read("attempts.json"))
    assert [a["channel_id"] for a in log["attempts"]] == ["cc-web-proof-1"]

    audit = [a for a in await console.app.users.audit.list() if a.action == "campaign.proof"]
    assert len(audit) == 1
    assert (audit[0].actor, audit[0].object_id) == ("sveta", str(cid))

    missing = await sveta.get(f"/api/campaigns/{cid}/proof")
    assert missing.status == 400 and missing.json()["field"] == "account"
    unknown = await sveta.get(f"/api/campaigns/{cid}/proof?account=777")
    assert unknown.status == 404 and unknown.json()["field"] == "account"
    assert (await sveta.get("/api/campaigns/999/proof?account=1001")).status == 404
    oleg = await console.user("oleg", "operator")
    assert (await oleg.get(f"/api/campaigns/{cid}/proof?account=1001")).status == 403
    # refused downloads are not audited as downloads
    audit = [a for a in await console.app.users.audit.list() if a.action == "campaign.proof"]
    assert len(audit) == 1

    page = await sveta.get(f"/campaigns/{cid}")
    assert f'action="/api/campaigns/{cid}/proof"' in page.text

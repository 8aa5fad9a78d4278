"""`contact-center campaign proof ID --account A --out FILE` on a real database: the pack
holds the stored recording and the played parts, and names what is missing."""

from __future__ import annotations

import asyncio
import io
import json
import wave
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from autoinformer.models import Attempt, CampaignContact
from autoinformer.proof import verify_zip
from contact_center.cli import main
from contact_center.clock import Clock

KRS = ZoneInfo("Asia/Krasnoyarsk")
ANSWERED = datetime(2026, 12, 1, 11, 0, 5, tzinfo=KRS)


def _wav(path: Path, seconds: float) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x10\x20" * int(8000 * seconds))
    return path.read_bytes()


async def _attempt(url: str, campaign_id: int, recording: Path) -> int:
    engine = create_async_engine(url)
    try:
        async with async_sessionmaker(engine)() as session, session.begin():
            contact = await session.scalar(
                select(CampaignContact).where(CampaignContact.campaign_id == campaign_id)
            )
            assert contact is not None
            attempt = Attempt(
                campaign_id=campaign_id,
                contact_id=contact.id,
                phone=contact.phone,
                kind="debt",
                channel_id="cc-proof-test-1",
                started_at=ANSWERED - timedelta(seconds=5),
                answered_at=ANSWERED,
                ended_at=ANSWERED + timedelta(seconds=3),
                outcome="answered",
                status="notified",
                duration=8.0,
                parts_played=2,
                parts_total=2,
                played_to_end=True,
                digits="1",
                confirmed=True,
                recording_path=str(recording),
                message=json.dumps(
                    [
                        {"text": "Ваша задолженность", "sound": "cc/cache/ab/part1"},
                        {"text": "сто рублей", "sound": "cc/cache/ab/gone"},
                    ],
                    ensure_ascii=False,
                ),
            )
            session.add(attempt)
            await session.flush()
            attempt_id = attempt.id
        return attempt_id
    finally:
        await engine.dispose()


def test_campaign_proof_writes_a_zip_that_verifies_and_refuses_an_unknown_account(
    tmp_path: Path,
) -> None:
    from tests.integration.autoinformer.conftest import db_url

    url = db_url(tmp_path)
    sounds = tmp_path / "sounds"
    part = _wav(sounds / "cache/ab/part1.wav", 0.5)
    recording = _wav(tmp_path / "rec/autoinformer/2026/12/01/c1-a1.wav", 3.0)
    env = {
        "CC_DATABASE_URL": url,
        "CC_SOUNDS_DIR": str(sounds),
        "CC_RECORDINGS_DIR": str(tmp_path / "rec"),
        "CC_CLOCK_OFFSET": str(Clock.at(datetime(2026, 12, 1, 11, tzinfo=KRS)).offset_s),
    }
    runner = CliRunner()
    listing = tmp_path / "list.csv"
    listing.write_text("phone,account,debt\n+79130000001,240001,100\n", encoding="utf-8")
    created = runner.invoke(
        main,
        ["campaign", "create", "--name", "Д", "--kind", "debt", "--list", str(listing)],
        env=env,
    )
    assert created.exit_code == 0, created.output
    campaign_id = int(created.stdout.strip().splitlines()[-1])
    attempt_id = asyncio.run(
        # as an Asterisk in a container names it: its spool, mounted here as CC_RECORDINGS_DIR
        _attempt(
            url, campaign_id, Path("/var/spool/asterisk/monitor/autoinformer/2026/12/01/c1-a1.wav")
        )
    )

    out = tmp_path / "proof.zip"
    made = runner.invoke(
        main,
        ["campaign", "proof", str(campaign_id), "--account", "240001", "--out", str(out)],
        env=env,
    )
    assert made.exit_code == 0, made.output
    assert "Доказательство уведомления" in made.stdout
    content = out.read_bytes()
    assert verify_zip(content) == []
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        assert zf.read(f"recordings/attempt-{attempt_id}.wav") == recording
        assert zf.read(f"message/attempt-{attempt_id}/01.wav") == part
        text = zf.read(f"message/attempt-{attempt_id}.txt").decode()
        manifest = json.loads(zf.read("manifest.json"))
        log = json.loads(zf.read("attempts.json"))
    assert text == "01. Ваша задолженность\n02. сто рублей\n"
    # the second part's file is gone from the cache: named as missing, not silently left out
    assert manifest["missing"] == [f"message/attempt-{attempt_id}/02.wav"]
    (entry,) = log["attempts"]
    assert (entry["digits"], entry["channel_id"], entry["status_ru"]) == (
        "1",
        "cc-proof-test-1",
        "оповещён",
    )
    assert entry["answered_at"] == "2026-12-01T11:00:05+07:00"

    unknown = runner.invoke(
        main, ["campaign", "proof", str(campaign_id), "--account", "999"], env=env
    )
    assert unknown.exit_code == 2
    assert "нет абонента с лицевым счётом 999" in unknown.output


pytestmark = pytest.mark.integration

"""Proof of notification on the sim world: every campaign call is recorded, and the
customer's pack holds the recording (not silence, as long as the call), what was played,
the attempt log and checksums that verify."""

from __future__ import annotations

import array
import io
import json
import math
import time
import wave
import zipfile
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from autoinformer.campaigns.service import CampaignSpec
from autoinformer.models import Attempt
from autoinformer.proof import CHECKSUMS, MANIFEST, ProofNotFound, sha256_of, verify_zip
from autoinformer.scheduling import Caps, retry_policy
from tests.integration.autoinformer.conftest import SHORT_SCENARIO, World, WorldFactory
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration

KRS = ZoneInfo("Asia/Krasnoyarsk")
TUESDAY_11 = datetime(2026, 12, 1, 11, 0, tzinfo=KRS)
# a message of a few seconds: the recording's length is measured against the call's
SCENARIO = SHORT_SCENARIO.replace(
    'message = "Задолженность {money:debt}."',
    'message = "Уважаемый абонент, ваша задолженность составляет {money:debt}. '
    'Оплатите её, пожалуйста."',
)
# sim customers: 1 listens to the end, 5 presses 1 (confirms), 2 is busy
LIST = b"phone,account,debt\n+79130000001,5001,1500\n+79130000005,5005,230\n+79130000002,5002,99\n"


def spec() -> CampaignSpec:
    return CampaignSpec(
        name="доказательства",
        kind="debt",
        scenario="test-debt",
        concurrency=5,
        ring_timeout=3,
        retry=retry_policy(["busy=1/1s", "no_answer=1/1s", "failed=1/1s"]),
        caps=Caps(),
    )


def rms_and_seconds(wav: bytes) -> tuple[float, float]:
    with wave.open(io.BytesIO(wav)) as w:
        assert w.getsampwidth() == 2
        samples = array.array("h", w.readframes(w.getnframes()))
        seconds = w.getnframes() / w.getframerate()
    rms = math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0
    return rms, seconds


async def test_the_proof_pack_holds_a_recording_as_long_as_the_call_and_checksums_verify(
    world: WorldFactory,
) -> None:
    w: World
    async with world(now=TUESDAY_11) as w:
        await w.sim(SIM_CUSTOMER_PRESS_DELAY=0.5, SIM_CUSTOMER_BUSY_TIME=1)
        await w.scenario(SCENARIO)
        created = await w.campaigns.create(spec(), list_data=LIST)
        cid = created.campaign_id
        await w.listen_through(cid)
        await w.campaigns.start(cid)
        await w.wait_finished(cid, timeout=60)
        async with w.service.sessions() as session:
            query = select(Attempt).where(Attempt.campaign_id == cid)
            attempts = list(await session.scalars(query))
        answered = [a for a in attempts if a.answered_at is not None]
        assert len(answered) == 2
        assert all(a.recording_path.endswith(".wav") for a in answered)
        # a busy call has nothing to record
        assert all(not a.recording_path for a in attempts if a.answered_at is None)

        listened = next(a for a in answered if a.phone.endswith("1"))
        assert listened.ended_at is not None and listened.answered_at is not None
        call_s = (listened.ended_at - listened.answered_at).total_seconds()

        async def complete() -> bytes | None:
            # MixMonitor closes the file a moment after the hangup
            pack = await w.plugin.proofs.pack(cid, "5001")
            with zipfile.ZipFile(io.BytesIO(pack.content)) as zf:
                names = zf.namelist()
                recs = [n for n in names if n.startswith("recordings/")]
                if not recs:
                    return None
                _, seconds = rms_and_seconds(zf.read(recs[0]))
            return pack.content if seconds >= call_s - 1.0 else None

        started = time.perf_counter()
        content = await wait_for(complete, 10, "the recording to be complete in the pack")
        built_s = time.perf_counter() - started

        with pytest.raises(ProofNotFound):
            await w.plugin.proofs.pack(cid, "nobody")

    assert verify_zip(content) == []
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read(MANIFEST))
        sums = zf.read(CHECKSUMS).decode().splitlines()
        recording = zf.read(f"recordings/attempt-{listened.id}.wav")
        text = zf.read(f"message/attempt-{listened.id}.txt").decode()
        log = json.loads(zf.read("attempts.json"))
        parts = sorted(n for n in names if n.startswith(f"message/attempt-{listened.id}/"))
        part_bytes = [zf.read(n) for n in parts]
        csv_text = zf.read("attempts.csv").decode("utf-8-sig")
    # the manifest lists every file but itself and the sums, and the sums match them
    assert {e["path"] for e in manifest["files"]} == names - {MANIFEST, CHECKSUMS}
    assert manifest["missing"] == []
    for line in sums:
        digest, _, path = line.partition("  ")
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            assert sha256_of(zf.read(path)) == digest
    # the recording is the call: not silence, and about as long as it lasted
    rms, seconds = rms_and_seconds(recording)
    print(f"recording RMS {rms:.0f}, {seconds:.2f} s; call {call_s:.2f} s; pack {built_s:.3f} s")
    assert rms > 200
    assert abs(seconds - call_s) < 1.0
    # what was played: the text with the amount, and the audio of each part
    assert "одна тысяча пятьсот рублей" in text
    assert parts and len(parts) == len(text.strip().splitlines())
    assert all(b[:4] == b"RIFF" for b in part_bytes)
    # the log: times, keys, the Asterisk channel id
    (entry,) = log["attempts"]
    assert entry["channel_id"] == listened.channel_id
    assert entry["status"] == "notified" and entry["played_to_end"] is True
    assert entry["answered_at"] and entry["ended_at"] and entry["recording_found"] is True
    assert "Канал Asterisk" in csv_text.splitlines()[0]
    assert listened.channel_id in csv_text

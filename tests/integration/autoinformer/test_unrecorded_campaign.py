"""A scenario with `record = false` (a mass warning: 100,000 calls of 30 s would be about
48 GB of WAV): its calls are made and counted as any others, and nothing is recorded,
whether the dialplan plays the message alone or AGI takes the call after it (a key)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from autoinformer.proof import ProofPack
from tests.integration.autoinformer.conftest import SHORT_SCENARIO, WorldFactory
from tests.integration.autoinformer.test_campaign_calls import (
    TUESDAY_11,
    attempts_of,
    csv_of,
    spec,
)

pytestmark = pytest.mark.integration

UNRECORDED = SHORT_SCENARIO.replace('name = "test-debt"', 'name = "test-unrecorded"').replace(
    "repeats = 0", "repeats = 0\nrecord = false"
)
# nothing after the message: the dialplan plays it and hangs up, no AGI at all
UNRECORDED_NOTICE = UNRECORDED.replace('name = "test-unrecorded"', 'name = "test-notice"').replace(
    "wait_digit = 2", "wait_digit = 0"
)


def _recordings(folder: Path) -> dict[Path, int]:
    """Every recording under `folder` with its change time (the session's Asterisk is
    shared: earlier tests' campaigns had the same ids, so names alone prove nothing)."""
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*.wav")}


def _new(before: dict[Path, int], after: dict[Path, int]) -> list[str]:
    return sorted(p.name for p, changed in after.items() if before.get(p) != changed)


def _proof(pack: ProofPack) -> tuple[str, list[str]]:
    """The proof pack's README and the names of its files."""
    with zipfile.ZipFile(io.BytesIO(pack.content)) as zf:
        return zf.read("README.txt").decode("utf-8"), zf.namelist()


@pytest.mark.parametrize(
    ("scenario", "text"), [("test-unrecorded", UNRECORDED), ("test-notice", UNRECORDED_NOTICE)]
)
async def test_calls_of_an_unrecorded_scenario_leave_no_recording(
    world: WorldFactory, scenario: str, text: str
) -> None:
    async with world(now=TUESDAY_11) as w:
        await w.scenario(text, scenario)
        before = _recordings(w.settings.recordings_path)
        # 4001 listens to the end; 4005 presses 1 during the message
        created = await w.campaigns.create(
            spec("без записи", scenario=scenario), list_data=csv_of("4001", "4005")
        )
        await w.campaigns.start(created.campaign_id)
        await w.wait_finished(created.campaign_id, timeout=60)
        attempts = await attempts_of(w, created.campaign_id)
        made = _new(before, _recordings(w.settings.recordings_path))
        readme, packed = _proof(await w.plugin.proofs.pack(created.campaign_id, "1000"))
    assert len(attempts) == 2
    assert {a.status for a in attempts} == {"notified"}
    assert all(a.answered_at is not None and a.parts_played > 0 for a in attempts)
    assert [a.recording_path for a in attempts] == ["", ""]
    assert made == []
    # the proof pack says why it holds no recording, rather than leave it to look lost
    assert "звонки этой кампании не записывались (в сценарии record = false)" in readme
    assert not [n for n in packed if n.startswith("recordings/")]
    if scenario == "test-unrecorded":
        # the key came: AGI took the call, and it did not start a recording either
        assert sorted(a.confirmed for a in attempts) == [False, True]


async def test_a_recorded_scenario_still_records_its_calls(world: WorldFactory) -> None:
    """The control: the same campaign with the default (`record` not given)."""
    async with world(now=TUESDAY_11) as w:
        await w.scenario()
        before = _recordings(w.settings.recordings_path)
        created = await w.campaigns.create(spec("с записью"), list_data=csv_of("4001"))
        await w.campaigns.start(created.campaign_id)
        await w.wait_finished(created.campaign_id, timeout=60)
        [attempt] = await attempts_of(w, created.campaign_id)
        made = _new(before, _recordings(w.settings.recordings_path))
        readme, _ = _proof(await w.plugin.proofs.pack(created.campaign_id, "1000"))
    assert attempt.status == "notified"
    assert attempt.recording_path.endswith(f"c{created.campaign_id}-a{attempt.id}.wav")
    assert made == [f"c{created.campaign_id}-a{attempt.id}.wav"]
    assert "записи звонков (как их записал Asterisk, MixMonitor)" in readme

"""Recordings retention: files past CC_RECORDING_RETENTION_DAYS go, younger ones stay."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from contact_center.recordings import DAY, RecordingRetention, sweep
from contact_center.settings import SettingsError, load_settings

NOW = 1_800_000_000.0  # a fixed "now" for the fake clock


def _file(root: Path, relative: str, age_days: float, size: int = 100) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    stamp = NOW - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


def test_recordings_older_than_retention_are_deleted_and_younger_kept(tmp_path: Path) -> None:
    old_hotline = _file(tmp_path, "hotline/2023/01/02/a.wav", 1096)
    old_campaign = _file(tmp_path, "autoinformer/2023/01/02/b.wav", 2000, size=300)
    young = _file(tmp_path, "hotline/2026/11/30/c.wav", 1094)
    not_audio = _file(tmp_path, "notes/readme.txt", 5000)

    result = sweep(tmp_path, 1095, NOW)

    assert (result.deleted, result.freed_bytes, result.failed) == (2, 400, 0)
    assert not old_hotline.exists() and not old_campaign.exists()
    assert young.exists() and not_audio.exists()
    # the emptied date folders went; the root and folders still holding files stayed
    assert not (tmp_path / "hotline/2023/01/02").exists()
    assert (tmp_path / "hotline/2026/11/30").is_dir()
    assert tmp_path.is_dir()


def test_a_missing_recordings_directory_deletes_nothing(tmp_path: Path) -> None:
    assert sweep(tmp_path / "absent", 10, NOW).deleted == 0


async def test_the_periodic_sweep_logs_how_many_it_deleted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _file(tmp_path, "hotline/x.wav", 11)
    _file(tmp_path, "autoinformer/y.wav", 12)
    _file(tmp_path, "autoinformer/z.wav", 9)
    clock = [NOW]
    retention = RecordingRetention(tmp_path, 10, now=lambda: clock[0])
    with caplog.at_level(logging.INFO, logger="contact_center.recordings"):
        first = await retention.sweep_once()
    assert first.deleted == 2
    assert "recordings older than 10 days deleted: 2" in caplog.text
    # a day later the third one is past its time too
    clock[0] += DAY + 1
    assert (await retention.sweep_once()).deleted == 1
    assert not list(await asyncio.to_thread(lambda: list(tmp_path.rglob("*.wav"))))


def test_retention_setting_defaults_to_three_years_and_refuses_zero(tmp_path: Path) -> None:
    settings = load_settings({})
    assert settings.recording_retention_days == 1095
    assert settings.recordings_path == settings.asterisk_runtime_dir / "spool" / "monitor"
    chosen = load_settings(
        {"CC_RECORDINGS_DIR": str(tmp_path), "CC_RECORDING_RETENTION_DAYS": "30"}
    )
    assert (chosen.recordings_path, chosen.recording_retention_days) == (tmp_path, 30)
    with pytest.raises(SettingsError, match="CC_RECORDING_RETENTION_DAYS"):
        load_settings({"CC_RECORDING_RETENTION_DAYS": "0"})

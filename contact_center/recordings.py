"""Call recordings kept for CC_RECORDING_RETENTION_DAYS, then deleted.

Every recording (hotline, operator and campaign calls, left messages) is a file Asterisk
wrote under the recordings directory (Settings.recordings_path). Their age is the file's
modification time: MixMonitor writes until the call ends, so that is when the call ended.
The sweep walks the tree in a worker thread (a directory of three years of calls is many
thousands of files) and removes the date folders it emptied.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DAY = 86400.0
# how often `serve` looks for recordings past their retention
SWEEP_INTERVAL = 3600.0
AUDIO_SUFFIXES = frozenset({".wav", ".wav49", ".gsm", ".ulaw", ".alaw", ".sln", ".mp3", ".ogg"})


@dataclass(frozen=True, slots=True)
class SweepResult:
    deleted: int
    freed_bytes: int
    failed: int


def sweep(root: Path, retention_days: int, now: float) -> SweepResult:
    """Delete the audio files under `root` last written more than `retention_days` before
    `now` (seconds since the epoch), and the folders left empty. Blocking: run in a thread."""
    cutoff = now - retention_days * DAY
    deleted = freed = failed = 0
    if not root.is_dir():
        return SweepResult(0, 0, 0)
    for folder, _dirs, files in os.walk(root, topdown=False):
        base = Path(folder)
        deleted_here = 0
        for name in files:
            path = base / name
            if path.suffix.lower() not in AUDIO_SUFFIXES:
                continue
            try:
                st = path.stat()
                if st.st_mtime >= cutoff:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                failed += 1
                log.warning("recording %s could not be deleted: %s", path, exc)
                continue
            deleted += 1
            deleted_here += 1
            freed += st.st_size
        if base != root and deleted_here:
            # a date folder whose last recording just went; never the root itself
            try:
                base.rmdir()
            except OSError:
                pass  # not empty (a recent file, something else): kept
    return SweepResult(deleted, freed, failed)


class RecordingRetention:
    """`serve`'s periodic sweep (an owned task runs `run`)."""

    def __init__(
        self,
        root: Path,
        retention_days: int,
        *,
        interval: float = SWEEP_INTERVAL,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.retention_days = retention_days
        self.interval = interval
        self._now = now

    async def sweep_once(self) -> SweepResult:
        result = await asyncio.to_thread(sweep, self.root, self.retention_days, self._now())
        if result.deleted or result.failed:
            log.info(
                "recordings older than %d days deleted: %d (%.1f MB freed)%s in %s",
                self.retention_days,
                result.deleted,
                result.freed_bytes / 1e6,
                f", {result.failed} could not be deleted" if result.failed else "",
                self.root,
            )
        else:
            log.debug("no recordings older than %d days in %s", self.retention_days, self.root)
        return result

    async def run(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception:
                log.exception("deleting old recordings failed")
            await asyncio.sleep(self.interval)

"""The one clock of a process: the wall clock plus `settings.clock_offset` (tests and demos run
at a chosen hour); durations are unaffected because the offset is constant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from contact_center.settings import Settings


class Clock:
    def __init__(self, offset_s: float = 0.0, tz: ZoneInfo | None = None) -> None:
        self.offset_s = float(offset_s)
        self.offset = timedelta(seconds=self.offset_s)
        self.tz = tz or ZoneInfo("UTC")

    @classmethod
    def from_settings(cls, settings: Settings) -> Clock:
        return cls(settings.clock_offset, settings.tz)

    @classmethod
    def at(cls, instant: datetime, tz: ZoneInfo | None = None) -> Clock:
        """A clock that reads `instant` now and runs on from there."""
        return cls((instant - datetime.now(UTC)).total_seconds(), tz)

    def now(self) -> datetime:
        """Aware UTC now (shifted by the offset)."""
        return datetime.now(UTC) + self.offset

    def local_now(self) -> datetime:
        return self.now().astimezone(self.tz)

    def from_epoch(self, seconds: float) -> datetime:
        """An AMI event's `Timestamp` on this clock."""
        return datetime.fromtimestamp(seconds, UTC) + self.offset

"""`campaign status` in Russian: wait reasons in words, «запланирована на …» before the start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from autoinformer.campaigns.status import CampaignStatus
from autoinformer.cli import status_line

TZ = ZoneInfo("Asia/Krasnoyarsk")
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _status(start: datetime, status: str = "running") -> CampaignStatus:
    return CampaignStatus(
        id=3,
        name="долги",
        kind="debt",
        scenario="debt-notice@1",
        status=status,
        total=4,
        waiting=4,
        calling=0,
        retries_due=1,
        done=0,
        notified=0,
        failed=0,
        by_status={},
        waiting_reasons={"due": 2, "retry": 1, "window": 1},
        start_at=start,
        end_at=None,
        started_at=None,
        finished_at=None,
        expected_finish=None,
        channel="phone",
        email=None,
        attempts=1,
    )


def test_wait_reasons_are_russian_words() -> None:
    line = status_line(_status(NOW - timedelta(hours=1)), TZ, NOW)
    assert "на очереди: 2, ждёт повтора: 1, вне окна звонков: 1" in line
    assert "due" not in line and "retry" not in line
    assert line.startswith("Кампания 3 «долги» идёт:")


def test_a_campaign_whose_start_is_ahead_is_scheduled_not_running() -> None:
    line = status_line(_status(NOW + timedelta(hours=3)), TZ, NOW)
    assert line.startswith("Кампания 3 «долги» запланирована на 01.12.2026 12:00:")

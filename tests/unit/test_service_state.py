"""The one line `campaign status` prints about the service, from its heartbeat rows."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from contact_center.service_state import ServiceState, describe

KRS = ZoneInfo("Asia/Krasnoyarsk")
NOW = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)  # 14:30 in Krasnoyarsk


def state(
    *, beat: float = 2, up: bool = True, since: float = 600, stopped: float | None = None
) -> ServiceState:
    return ServiceState(
        "host:1",
        NOW - timedelta(hours=2),
        NOW - timedelta(seconds=beat),
        up,
        NOW - timedelta(seconds=since),
        "" if up else "Connect call failed",
        None if stopped is None else NOW - timedelta(seconds=stopped),
    )


def test_running_with_asterisk_needs_no_line() -> None:
    assert describe([state()], NOW, KRS) is None


def test_no_link_says_since_when_in_local_time() -> None:
    line = describe([state(up=False, since=25 * 60)], NOW, KRS)
    assert line == "Сервис: нет связи с Asterisk с 14:05 (Connect call failed)"


def test_a_day_old_outage_shows_the_date() -> None:
    line = describe([state(up=False, since=26 * 3600)], NOW, KRS)
    assert line is not None and "с 01.12.2026 12:30" in line


def test_stale_heartbeat_means_not_answering() -> None:
    line = describe([state(beat=120)], NOW, KRS)
    assert line == "Сервис: не отвечает с 14:28 (остановлен аварийно или завис)"


def test_stopped_and_never_started() -> None:
    assert describe([state(stopped=60)], NOW, KRS) == "Сервис: остановлен в 14:29"
    assert describe([], NOW, KRS) == "Сервис: не запущен (contact-center serve)"


def test_one_live_process_outweighs_a_stale_one() -> None:
    assert describe([state(beat=3600), state()], NOW, KRS) is None

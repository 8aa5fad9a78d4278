"""The one line `campaign status` prints about the service, from its heartbeat rows; the
lease a heartbeat gives the process itself (the fence of a stalled worker)."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from contact_center.clock import Clock
from contact_center.service_state import (
    HeartbeatLease,
    ServiceState,
    ServiceStateReporter,
    describe,
)
from contact_center.storage import migrate
from contact_center.telephony.ami import AmiConfig, AmiLink

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


class _Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_lease_holds_before_any_heartbeat_and_for_its_span_after_one() -> None:
    ticks = _Ticks()
    lease = HeartbeatLease(span=20, clock=ticks)
    assert lease.now_holds  # a process that writes no heartbeat is taken by nobody
    lease.renewed(ticks.now - 2)  # stamped 2 s ago, committed now
    ticks.now += 17.9
    assert lease.now_holds
    ticks.now += 0.1
    assert not lease.now_holds
    assert lease.epoch == 0 and lease.lapses == 0


def test_a_heartbeat_after_the_lease_ran_out_starts_an_epoch_old_claims_never_dial_in() -> None:
    ticks = _Ticks()
    lease = HeartbeatLease(span=20, clock=ticks)
    lease.renewed(ticks.now)
    claim = lease.epoch
    ticks.now += 45  # stalled: the other workers took this one for dead
    lease.renewed(ticks.now)
    assert lease.lapses == 1
    assert not lease.holds(claim)
    assert lease.now_holds


def test_heartbeats_in_time_keep_one_epoch() -> None:
    ticks = _Ticks()
    lease = HeartbeatLease(span=20, clock=ticks)
    for _ in range(10):
        lease.renewed(ticks.now)
        ticks.now += 5
    assert lease.epoch == 0 and lease.holds(0)


def test_a_heartbeat_whose_commit_outlasted_the_lease_is_a_lapse_and_gives_none() -> None:
    ticks = _Ticks()
    lease = HeartbeatLease(span=20, clock=ticks)
    lease.renewed(ticks.now)
    stamped = ticks.now + 5
    ticks.now += 30  # the write waited 25 s for its commit
    lease.renewed(stamped)
    assert lease.lapses == 1
    assert not lease.now_holds  # stamped + 20 is already past


async def test_the_reporter_renews_the_lease_only_with_a_committed_heartbeat(
    tmp_path: Path,
) -> None:
    link = AmiLink(AmiConfig(host="127.0.0.1", port=1, username="u", secret="s"))
    migrated = f"sqlite+aiosqlite:///{tmp_path / 'state.db'}"
    await asyncio.to_thread(migrate.upgrade, migrated, [])
    # a database never upgraded: the heartbeat's write fails (logged, not fatal)
    for url, renewed in ((migrated, True), (f"sqlite+aiosqlite:///{tmp_path / 'new.db'}", False)):
        engine = create_async_engine(url)
        ticks = _Ticks()
        lease = HeartbeatLease(span=20, clock=ticks)
        reporter = ServiceStateReporter(
            async_sessionmaker(engine), link, Clock(), instance="h:1", lease=lease
        )
        try:
            lease.renewed(ticks.now)
            ticks.now += 45
            await reporter._write()
        finally:
            await engine.dispose()
        assert lease.now_holds is renewed, url
        assert lease.lapses == int(renewed)

"""What the running service tells the commands beside it: is it alive, does it reach Asterisk.

`contact-center serve` writes one row per process to `service_state` every few seconds (and at
once when the AMI link goes up or down); `campaign status` and the like read it, so a
supervisor sees "no link to Asterisk since 14:05" instead of a campaign that silently waits.
A heartbeat older than `STALE_AFTER` means the process is gone or hung.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, String, Text, delete, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.storage.base import Base, UtcDateTime
from contact_center.telephony.exceptions import TelephonyError

if TYPE_CHECKING:  # the storage models import this module: keep it light
    from contact_center.clock import Clock
    from contact_center.telephony.ami import AmiLink

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 5.0
# a few missed heartbeats (a busy SQLite writer can hold one back) before "not running"
STALE_AFTER = timedelta(seconds=30)
# rows of processes long gone are cleared by the next service that starts
FORGET_AFTER = timedelta(days=1)
_ERROR_LOG_EVERY = 300.0
# the lease a heartbeat gives this process in its own eyes: shorter than STALE_AFTER by the
# clocks' difference between hosts and a commit's delay (the others judge by the stored time)
LEASE_MARGIN = timedelta(seconds=10)


class ServiceStateRow(Base):
    __tablename__ = "service_state"

    instance: Mapped[str] = mapped_column(String(128), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ami_up: Mapped[bool] = mapped_column(Boolean)
    ami_since: Mapped[datetime] = mapped_column(UtcDateTime)
    ami_error: Mapped[str] = mapped_column(Text, default="")
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # host:port of the Asterisk AMI this process drives (another worker asks it about this
    # one's calls once this one is dead)
    ami_address: Mapped[str] = mapped_column(String(255), default="", server_default="")
    # the run of Asterisk (AmiLink.asterisk_boot) seen up at heartbeat_at, "" while the
    # link is down: a later run learns from it that an Asterisk run was alive then
    asterisk_boot: Mapped[str] = mapped_column(String(64), default="", server_default="")


@dataclass(frozen=True, slots=True)
class ServiceState:
    instance: str
    started_at: datetime
    heartbeat_at: datetime
    ami_up: bool
    ami_since: datetime
    ami_error: str
    stopped_at: datetime | None

    def alive(self, now: datetime) -> bool:
        return self.stopped_at is None and now - self.heartbeat_at <= STALE_AFTER


class HeartbeatLease:
    """How long the other workers still take this process for alive (its last heartbeat
    written + STALE_AFTER, less LEASE_MARGIN); pure: the reporter tells it of each write.

    Once that time has passed, another worker may have taken this one's open attempts and
    handed their contacts to be called again (Dialer._take_over_dead): a process that was
    only stalled (a frozen VM, SIGSTOP, a swap storm) and wakes up must not dial what it
    claimed before. A claim carries the `epoch` it was made in; a lapse (the lease found run
    out) starts a new epoch, and only a claim of the current one, while the lease holds, may
    be dialed. Before the first heartbeat (and in a process that writes none: the CLI's
    demos, tests) it always holds: nobody takes the calls of a process they cannot see."""

    def __init__(
        self,
        *,
        span: float = (STALE_AFTER - LEASE_MARGIN).total_seconds(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.span = span
        self.clock = clock
        self._until: float | None = None
        self.epoch = 0
        self.lapses = 0

    def renewed(self, written_at: float) -> None:
        """A heartbeat stamped at `written_at` (this clock) is committed."""
        now = self.clock()
        if self._until is not None and now >= self._until:
            self.epoch += 1
            self.lapses += 1
            log.warning(
                "no heartbeat was written for %.1f s: other workers may have taken this "
                "one's calls; what it claimed before is handed back, not dialed",
                now - self._until + self.span,
            )
        self._until = written_at + self.span

    def holds(self, epoch: int) -> bool:
        """Whether a claim made in `epoch` may be dialed now."""
        if self._until is None:
            return True
        return epoch == self.epoch and self.clock() < self._until

    @property
    def now_holds(self) -> bool:
        """Whether a claim made now could be dialed."""
        return self.holds(self.epoch)


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


class ServiceStateReporter:
    """Writes this process's row: at start, every `interval`, at each link change, at stop."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        link: AmiLink,
        clock: Clock,
        *,
        interval: float = HEARTBEAT_INTERVAL,
        instance: str | None = None,
        ami_address: str = "",
        lease: HeartbeatLease | None = None,
    ) -> None:
        self._sessions = sessions
        self.lease = lease or HeartbeatLease()
        self.ami_address = ami_address
        self._link = link
        self._clock = clock
        self.interval = interval
        self.instance = instance or instance_name()
        self._wake = asyncio.Event()
        self._started_at: datetime | None = None
        self._ami_up = False
        self._ami_since = clock.now()
        self._error_logged = -_ERROR_LOG_EVERY
        self.writes = 0
        link.on_connection(self._on_connection)

    def _on_connection(self, up: bool) -> None:
        if up != self._ami_up:
            self._ami_up = up
            self._ami_since = self._clock.now()
            self._wake.set()

    async def run(self) -> None:
        """Until cancelled; a database that cannot be written is logged, never fatal."""
        self._started_at = self._clock.now()
        self._ami_up = self._link.connected
        self._ami_since = self._started_at
        await self._write(prune=True)
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a stop's cancellation
            # that comes as the wake-up does, and this loop would run on
            try:
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            await self._write()

    async def _asterisk_boot(self) -> str:
        # asked once per connection (AmiLink caches it); a link that drops meanwhile says
        # nothing of the run
        try:
            return await self._link.asterisk_boot()
        except TelephonyError:
            return ""

    async def mark_stopped(self) -> None:
        if self._started_at is not None:
            await self._write(stopped=True)

    async def _write(self, *, prune: bool = False, stopped: bool = False) -> None:
        boot = await self._asterisk_boot() if self._ami_up else ""
        now = self._clock.now()
        # the lease runs from the time stored, not from the commit (a slow commit shortens it)
        stamped = self.lease.clock()
        error = "" if self._ami_up else self._link.last_error[:500]
        try:
            async with self._sessions() as session, session.begin():
                if prune:
                    await session.execute(
                        delete(ServiceStateRow).where(
                            ServiceStateRow.instance != self.instance,
                            or_(
                                ServiceStateRow.stopped_at.is_not(None),
                                ServiceStateRow.heartbeat_at < now - FORGET_AFTER,
                            ),
                        )
                    )
                row = await session.get(ServiceStateRow, self.instance)
                if row is None:
                    row = ServiceStateRow(instance=self.instance)
                    session.add(row)
                row.started_at = self._started_at or now
                row.heartbeat_at = now
                row.ami_up = self._ami_up
                row.ami_since = self._ami_since
                row.ami_error = error
                row.stopped_at = now if stopped else None
                row.ami_address = self.ami_address
                row.asterisk_boot = boot[:64]
            self.writes += 1
            if not stopped:
                self.lease.renewed(stamped)
        except (SQLAlchemyError, OSError) as exc:
            mono = time.monotonic()
            if mono - self._error_logged >= _ERROR_LOG_EVERY:
                self._error_logged = mono
                log.warning(
                    "service state not written (%s); is the database upgraded "
                    "(contact-center db upgrade)?",
                    str(exc).splitlines()[0][:200],
                )


async def asterisk_seen_up(
    sessions: async_sessionmaker[AsyncSession], boot: str
) -> datetime | None:
    """The latest moment any `serve` (alive, or killed: its row stays) wrote a heartbeat
    with this run of Asterisk up; None if none did."""
    if not boot:
        return None
    async with sessions() as session:
        return await session.scalar(
            select(func.max(ServiceStateRow.heartbeat_at)).where(
                ServiceStateRow.asterisk_boot == boot, ServiceStateRow.ami_up.is_(True)
            )
        )


async def ami_address_of(sessions: async_sessionmaker[AsyncSession], instance: str) -> str:
    """The AMI address (host:port) a `serve` process stored; "" if unknown."""
    async with sessions() as session:
        row = await session.get(ServiceStateRow, instance)
    return row.ami_address if row is not None else ""


async def read_states(sessions: async_sessionmaker[AsyncSession]) -> list[ServiceState]:
    async with sessions() as session:
        rows = (await session.scalars(select(ServiceStateRow))).all()
    return [
        ServiceState(
            r.instance,
            r.started_at,
            r.heartbeat_at,
            r.ami_up,
            r.ami_since,
            r.ami_error,
            r.stopped_at,
        )
        for r in rows
    ]


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it runs
        return True
    return True


async def live_instances(sessions: async_sessionmaker[AsyncSession], now: datetime) -> set[str]:
    """The `serve` processes alive now: a heartbeat younger than STALE_AFTER (the lease of
    a worker on another host), except a process of this host that is not running any more
    (killed a moment ago: no need to wait out its lease)."""
    here = socket.gethostname()
    alive: set[str] = set()
    for state in await read_states(sessions):
        if not state.alive(now):
            continue
        host, _, pid = state.instance.rpartition(":")
        if host == here and pid.isdigit() and not _pid_running(int(pid)):
            continue
        alive.add(state.instance)
    return alive


def _at(moment: datetime, now: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    if local.date() == now.astimezone(tz).date():
        return f"{local:%H:%M}"
    return f"{local:%d.%m.%Y %H:%M}"


def describe(states: list[ServiceState], now: datetime, tz: ZoneInfo) -> str | None:
    """One line when something is wrong with the service; None when it runs with Asterisk."""
    if not states:
        return "Сервис: не запущен (contact-center serve)"
    alive = [s for s in states if s.alive(now)]
    if not alive:
        last = max(states, key=lambda s: s.heartbeat_at)
        if last.stopped_at is not None:
            return f"Сервис: остановлен в {_at(last.stopped_at, now, tz)}"
        return (
            f"Сервис: не отвечает с {_at(last.heartbeat_at, now, tz)} "
            "(остановлен аварийно или завис)"
        )
    down = [s for s in alive if not s.ami_up]
    if not down:
        return None
    first = min(down, key=lambda s: s.ami_since)
    line = f"Сервис: нет связи с Asterisk с {_at(first.ami_since, now, tz)}"
    if first.ami_error:
        line += f" ({first.ami_error})"
    return line


async def service_status_line(
    sessions: async_sessionmaker[AsyncSession], now: datetime, tz: ZoneInfo
) -> str | None:
    """`describe` of what the database holds; None if it cannot be read (not upgraded yet)."""
    try:
        states = await read_states(sessions)
    except SQLAlchemyError:
        return None
    return describe(states, now, tz)

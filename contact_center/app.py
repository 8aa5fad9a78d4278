"""The composition root: `build_app` builds every long-lived object of a process, once.

`serve`, every CLI command, the demos and the benchmarks get their objects here. Nothing is
global: each piece receives what it needs through its constructor (wazo style), and plugins
add their parts through `Plugin.build(app)` without the core naming them.

Lifecycle: building does no I/O. ``async with build_app(settings) as app`` opens the process's
resources (the calendar is read) and closes them all at exit; ``await app.start()`` brings
the running service up on top (AMI link, hotline, the plugins' parts), as `serve` does.

`serve` starts with `wait_for_asterisk=False`: an Asterisk that is down (or starts after us)
does not stop the service; the link keeps trying, the parts that need no Asterisk (e-mail)
work meanwhile, and the ones that do watch `link.connected` / `on_connection` /
`wait_connected`. A refused AMI login is the exception: our credentials are wrong, and the
service stops with that message rather than run without ever being able to call.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contact_center.calendar import ReloadingCalendar
from contact_center.clock import Clock
from contact_center.customers import http as customers_http
from contact_center.customers.services import CustomerService
from contact_center.events import EventHub
from contact_center.hotline import http as hotline_http
from contact_center.hotline.appeals import AppealService
from contact_center.hotline.board import HotlineBoard
from contact_center.hotline.handoffs import HANDOFF_FLOW, HandoffReceiver, Handoffs
from contact_center.hotline.ivr_library import IvrLibrary
from contact_center.hotline.journal import AppealJournal
from contact_center.hotline.metrics import HotlineMetrics
from contact_center.hotline.outage_store import OutageService
from contact_center.hotline.service import HotlineService
from contact_center.operators import http as operators_http
from contact_center.operators.callbacks import CallbackRegistry
from contact_center.operators.desk import DeskFeed, DeskService, HotlineMessages
from contact_center.operators.dialout import FLOW, OperatorPhones
from contact_center.operators.services import (
    OnDemandQueueControl,
    OperatorService,
    QueueControl,
)
from contact_center.plugins import Part, Plugin, load_plugins
from contact_center.recordings import RecordingRetention
from contact_center.service_state import ServiceStateReporter
from contact_center.settings import Settings
from contact_center.speech.service import Speech
from contact_center.storage.database import create_engine, session_factory
from contact_center.tasks import TaskSet
from contact_center.telephony.agi import AgiServer
from contact_center.telephony.ami import AmiConfig, AmiLink
from contact_center.telephony.exceptions import AmiConnectionError
from contact_center.telephony.originate import Originator, caller_id_field
from contact_center.users import http as users_http
from contact_center.users.roles import allowed
from contact_center.users.services import Users, build_users
from contact_center.web import http as web_http
from contact_center.web.console import WebConsole, WebContributor
from contact_center.web.http import HealthCheck

log = logging.getLogger(__name__)
P = TypeVar("P", bound=Part)
CALENDAR_RELOAD_INTERVAL = 2.0
SESSION_EXPIRY_INTERVAL = 300.0
# how long `serve` waits for Asterisk before it starts the rest without it: long enough for
# a local login (milliseconds), so a healthy start keeps its order (link, hotline, parts)
SERVE_LINK_GRACE = 3.0


class App:
    """The object graph of one process (see the module docstring for its lifecycle)."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        calendar: ReloadingCalendar,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        customers: CustomerService,
        link: AmiLink,
        agi: AgiServer,
        originator: Originator,
        speech: Speech,
        hotline: HotlineService,
        state: ServiceStateReporter,
        events: EventHub,
        web: WebConsole,
        users: Users,
        board: HotlineBoard,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.calendar = calendar
        self.engine = engine
        self.sessions = sessions
        self.customers = customers
        self.link = link
        self.agi = agi
        self.originator = originator
        self.speech = speech
        self.hotline = hotline
        self.state = state
        self.events = events
        self.web = web
        self.users = users
        self.board = board
        self.operators: OperatorService = hotline.operators
        # appeals of calls that reach an operator without the hotline flow (the autoinformer's
        # transfers, operator phones, call-backs)
        self.handoffs = Handoffs(
            hotline.appeals, customers, clock, default_region=settings.default_region
        )
        # transfers from dialer nodes over the node trunk (CC_DIALER_NODES)
        self.handoff_receiver = HandoffReceiver(hotline.appeals, link)
        # operators calling customers: AGI flow operator-phone and the desk's call-back
        self.phones = OperatorPhones(
            link=link,
            originator=originator,
            operators=hotline.operators,
            handoffs=self.handoffs,
            appeals=hotline.appeals,
            clock=clock,
            tz=settings.tz,
            dial_template=settings.dial_template,
            caller_id=settings.caller_id,
            caller_name=settings.caller_name,
            default_region=settings.default_region,
            ring_timeout=settings.ring_timeout,
        )
        # who asked to be called back: the hotline's messages here, plugins add their own
        self.callbacks = CallbackRegistry()
        self.callbacks.register("hotline", HotlineMessages(hotline.appeals))
        # the operator's desk (web) and its screen-pops
        self.desk = DeskService(
            operators=hotline.operators,
            appeals=hotline.appeals,
            customers=customers,
            outages=hotline.outages,
            callbacks=self.callbacks,
            clock=clock,
        )
        self.desk_feed = DeskFeed(link=link, desk=self.desk, clock=clock, publish=events.publish)
        # recordings past CC_RECORDING_RETENTION_DAYS are deleted while the service runs
        self.retention = RecordingRetention(
            settings.recordings_path, settings.recording_retention_days
        )
        self.parts: dict[str, Part] = {}
        self._tasks = TaskSet("app")
        self._started: list[Part] = []
        self._running = False
        self._reporting = False
        self._closed = False

    def part(self, kind: type[P]) -> P:
        """The plugin part of type `kind` (a plugin's own code asks for its part by type)."""
        for part in self.parts.values():
            if isinstance(part, kind):
                return part
        raise LookupError(f"no plugin part of type {kind.__name__} (is the plugin installed?)")

    # --- resources ------------------------------------------------------------------

    async def __aenter__(self) -> App:
        await self.calendar.reload()
        await self.calendar.warm(self.clock.now().date())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop whatever runs, then close the speech workers and the database engine."""
        if self._closed:
            return
        self._closed = True
        await self.stop()
        # a command may have connected the link on demand without starting the service
        await self.link.close()
        await self.speech.aclose()
        await self.engine.dispose()

    # --- the running service --------------------------------------------------------

    async def start(
        self,
        *,
        connect_timeout: float = 15.0,
        parts: bool = True,
        wait_for_asterisk: bool = True,
        report_state: bool = False,
        web: bool = False,
    ) -> None:
        """AMI link, hotline, every plugin's part, then the web console (`web`); anything
        failing half-way stops whatever had started before it re-raises.

        `wait_for_asterisk`: the link must be up within `connect_timeout` or this raises
        AmiConnectionError (commands and demos that call at once). Without it (`serve`) the
        link gets `connect_timeout` to come up, then everything starts anyway and the link
        keeps trying. `report_state`: write the service's heartbeat and link state for
        `campaign status` (service_state)."""
        if self._running:
            raise RuntimeError("the service is already running")
        self._running = True
        try:
            await self.calendar.reload()
            await self._own_silence()
            self.link.start()
            if report_state:
                self._reporting = True
                self._tasks.spawn(self.state.run(), name="service-state")
            try:
                await self.link.wait_connected(connect_timeout)
            except AmiConnectionError:
                where = f"{self.settings.ami_host}:{self.settings.ami_port}"
                if wait_for_asterisk:
                    reason = f": {self.link.last_error}" if self.link.last_error else ""
                    raise AmiConnectionError(
                        f"AMI at {where} not reachable within {connect_timeout:g} s{reason}"
                    ) from None
                log.warning(
                    "Asterisk AMI at %s not up yet; starting without it (calls wait for the "
                    "link, everything else runs)",
                    where,
                )
            else:
                log.info(
                    "connected to Asterisk AMI at %s:%d",
                    self.settings.ami_host,
                    self.settings.ami_port,
                )
            await self.hotline.start()
            await self.board.start()
            await self.desk_feed.start()
            self._tasks.spawn(self._reload_calendar(), name="calendar-reload")
            self._tasks.spawn(self._expire_sessions(), name="web-session-expiry")
            self._tasks.spawn(self.retention.run(), name="recording-retention")
            if parts:
                await self.start_parts()
            if web:
                await self._start_web()
        except BaseException:
            await self.stop()
            raise

    async def _own_silence(self) -> None:
        """Waits for a key play the service's own silence (written now if missing): the
        stock one the AGI server falls back to is not in every Asterisk."""
        try:
            self.agi.silence = await self.speech.silence()
        except OSError as exc:
            log.warning(
                "silence for key waits not written in %s (%s); using Asterisk's stock %s",
                self.speech.sounds_dir,
                exc,
                self.agi.silence,
            )

    async def start_parts(self) -> None:
        for name, part in self.parts.items():
            if part in self._started:
                continue
            try:
                await part.start()
            except BaseException:
                log.error("plugin %s failed to start; stopping what it started", name)
                await _stop_part(name, part)
                raise
            self._started.append(part)
            log.info("plugin %s started", name)
        # what start-up made lives as long as the service: out of the collector's sight, a
        # full collection no longer walks it (bench/campaign_efficiency.py at 50 channels:
        # the loop stalled up to 185 ms in each; after this, 20-30 ms)
        gc.freeze()

    async def stop_parts(self) -> None:
        """The plugins' parts, in reverse order of starting."""
        while self._started:
            part = self._started.pop()
            await _stop_part(self._name_of(part), part)

    async def _start_web(self) -> None:
        try:
            await self.web.start()
        except OSError as exc:
            # calls and letters matter more than the console: run on, but loudly
            log.error(
                "web console NOT running: cannot listen on %s:%d (%s); set CC_HTTP_HOST/"
                "CC_HTTP_PORT",
                self.settings.http_host,
                self.settings.http_port,
                exc,
            )

    async def stop(self) -> None:
        """The web console, plugins' parts, then the hotline, AGI and the AMI link."""
        await self.web.stop()
        await self.stop_parts()
        if not self._running:
            return
        self._running = False
        await self._tasks.close()
        self._tasks = TaskSet("app")
        if self._reporting:
            self._reporting = False
            await self.state.mark_stopped()
        await self.agi.close()
        await self.desk_feed.stop()
        await self.board.stop()
        await self.hotline.stop()
        await self.link.close()

    @asynccontextmanager
    async def running(
        self,
        *,
        connect_timeout: float = 15.0,
        parts: bool = True,
        wait_for_asterisk: bool = True,
        report_state: bool = False,
        web: bool = False,
    ) -> AsyncIterator[App]:
        """``async with build_app(s).running() as app``: started, and closed at exit."""
        async with self:
            await self.start(
                connect_timeout=connect_timeout,
                parts=parts,
                wait_for_asterisk=wait_for_asterisk,
                report_state=report_state,
                web=web,
            )
            yield self

    def _name_of(self, part: Part) -> str:
        return next((name for name, p in self.parts.items() if p is part), "?")

    async def _reload_calendar(self) -> None:
        # one calendar for the hotline and the autoinformer: next year's decree is entered
        # in the override file once and both see it without a restart
        while True:
            await asyncio.sleep(CALENDAR_RELOAD_INTERVAL)
            try:
                await self.calendar.reload()
            except Exception:
                log.exception("re-reading the calendar override file failed")

    async def _expire_sessions(self) -> None:
        # dead sessions and old failed logins are refused anyway; this only keeps the
        # tables small
        while True:
            try:
                await self.users.users.expire()
            except Exception:
                log.exception("deleting expired web sessions failed")
            await asyncio.sleep(SESSION_EXPIRY_INTERVAL)


async def _stop_part(name: str, part: Part) -> None:
    try:
        await part.stop()
    except Exception:
        log.exception("plugin %s failed to stop", name)


def build_app(
    settings: Settings,
    *,
    plugins: Sequence[Plugin] | None = None,
    speech_workers: int | None = None,
    queue_on_demand: bool = False,
) -> App:
    """The one place objects are built. `plugins` defaults to the installed ones (entry
    points); `speech_workers` overrides the synthesis pool size for one-shot commands;
    `queue_on_demand` lets a CLI command that never starts the service reach the operators'
    queue (the AMI link is connected on first use)."""
    if plugins is None:
        plugins = load_plugins()
    clock = Clock.from_settings(settings)
    calendar = ReloadingCalendar.from_settings(settings)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    customers = CustomerService(sessions)
    link = AmiLink(AmiConfig.from_settings(settings))
    agi = AgiServer(link)
    originator = Originator(
        link,
        settings.dial_template,
        caller_id=caller_id_field(settings.caller_id, settings.caller_name),
    )
    workers = {} if speech_workers is None else {"workers": speech_workers}
    speech = Speech.from_settings(settings, **workers)
    appeals = AppealService(sessions, settings.tz)
    events = EventHub()
    users = build_users(settings, sessions, clock)
    web = WebConsole(
        host=settings.http_host,
        port=settings.http_port,
        allowed=allowed,
        sessions=users_http.SessionAdapter(users),
        events=events,
        behind_proxy=settings.web_behind_proxy,
    )
    queue = OnDemandQueueControl(link) if queue_on_demand else QueueControl(link)
    hotline = HotlineService(
        settings,
        link=link,
        clock=clock,
        calendar=calendar,
        customers=customers,
        speech=speech,
        appeals=appeals,
        outages=OutageService(sessions, settings.tz),
        ivr=IvrLibrary(settings.ivr_scripts_dir, speech.prompts),
        operators=OperatorService(
            sessions, queue, appeals, clock, wrapup_limit=settings.hotline_wrapup_limit
        ),
    )
    board = HotlineBoard(
        link=link,
        clock=clock,
        operators=hotline.operators,
        appeals=appeals,
        calls=hotline.calls,
        publish=events.publish,
        on_call_finished=hotline.on_call_finished,
    )
    board.metrics = HotlineMetrics(
        web.metrics,
        calls=hotline.calls,
        waiting=lambda: len(board.state.waiting),
        link_up=lambda: link.connected,
    )
    # dialplan context [hotline] -> AGI(agi:async,hotline)
    agi.register_flow("hotline", hotline.handle_call)
    app = App(
        settings=settings,
        clock=clock,
        calendar=calendar,
        engine=engine,
        sessions=sessions,
        customers=customers,
        link=link,
        agi=agi,
        originator=originator,
        speech=speech,
        hotline=hotline,
        state=ServiceStateReporter(
            sessions, link, clock, ami_address=f"{settings.ami_host}:{settings.ami_port}"
        ),
        events=events,
        web=web,
        users=users,
        board=board,
    )
    # dialplan context [operator-phones] -> AGI(agi:async,operator-phone,<digits>)
    agi.register_flow(FLOW, app.phones.handle_call)
    # dialplan context [from-dialer-nodes] (the hotline node's end of the node trunk)
    agi.register_flow(HANDOFF_FLOW, app.handoff_receiver.handle_call)
    for plugin in plugins:
        app.parts[plugin.name] = plugin.build(app)
    _register_web(app)
    return app


def _register_web(app: App) -> None:
    """The console's routes: the core's domains, then each plugin part that has some."""
    web_http.register(app.web, checks=health_checks(app))
    users_http.register(app.web, app.users)
    hotline_http.register(
        app.web,
        board=app.board,
        appeals=app.hotline.appeals,
        journal=AppealJournal(app.sessions, app.settings.tz),
        outages=app.hotline.outages,
        clock=app.clock,
        audit=app.users.audit,
    )
    customers_http.register(
        app.web, app.customers, audit=app.users.audit, region=app.settings.default_region
    )
    operators_http.register(app.web, app.desk, app.phones)
    for part in app.parts.values():
        if isinstance(part, WebContributor):
            part.register_web(app.web)


def health_checks(app: App) -> dict[str, HealthCheck]:
    async def ami() -> tuple[bool, str]:
        if app.link.connected:
            return True, "связь с Asterisk есть"
        return False, f"нет связи с Asterisk: {app.link.last_error or 'подключается'}"

    async def database() -> tuple[bool, str]:
        async with app.sessions() as session:
            await session.execute(text("SELECT 1"))
        return True, "база данных отвечает"

    async def speech() -> tuple[bool, str]:
        await app.speech.synthesize("проверка", force=True)
        return True, "синтез речи работает"

    return {"ami": ami, "database": database, "speech": speech}


async def serve_forever(app: App) -> None:
    """Run until SIGINT or SIGTERM, with or without Asterisk (the link connects whenever it
    can); ends with AmiLoginError if Asterisk refuses our AMI login before it ever let us in."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        async with app.running(
            connect_timeout=SERVE_LINK_GRACE, wait_for_asterisk=False, report_state=True, web=True
        ):
            log.warning(
                "contact-center service running (plugins: %s); Ctrl+C stops it",
                ", ".join(app.parts) or "none",
            )
            stopping = asyncio.ensure_future(stop.wait())
            failing = asyncio.ensure_future(app.link.wait_failure())
            try:
                await asyncio.wait({stopping, failing}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
                failing.cancel()
            if failing.done() and not failing.cancelled():
                log.error("%s; stopping the service", failing.result())
                raise failing.result()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    log.warning("contact-center service stopped")

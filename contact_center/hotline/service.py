"""The hotline inside `contact-center serve`: builds the call flow's collaborators once, runs
each AsyncAGI call of the dialplan context [hotline], consumes the queue events, ends overdue
post-call work and re-reads the IVR scripts when they change (the shared calendar is the
app's to reload).

After every (re)connect it reconciles: the operators with the queue, and the calls its flows
let go of (or a previous run left) with Asterisk's channels (CallRecovery); when it stops,
the appeals of calls it no longer sees are closed."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from contact_center.calendar import ReloadingCalendar
from contact_center.clock import Clock
from contact_center.customers.services import CustomerService
from contact_center.hotline.appeals import AppealService
from contact_center.hotline.bus_consume import QueueEventConsumer
from contact_center.hotline.flow import CallDeps, HotlineCall
from contact_center.hotline.ivr_library import IvrLibrary
from contact_center.hotline.outage_store import OutageService
from contact_center.hotline.recovery import CallRecovery, LiveChannel
from contact_center.operators.services import OperatorService
from contact_center.privacy import mask_phone
from contact_center.settings import Settings
from contact_center.speech.service import Speech
from contact_center.tasks import TaskSet
from contact_center.telephony.agi import AgiChannel
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.exceptions import AmiNotSent
from contact_center.telephony.numbers import InvalidPhoneNumber, normalize_phone

log = logging.getLogger(__name__)

# the simulated world's operators (asterisk_conf/sim): they "press" wrap-up-done by themselves
SIM_OPERATOR_INTERFACE = re.compile(r"@sim-operators(/|$)")


class HotlineService:
    """The hotline in `contact-center serve`: runs the call flow with its collaborators (built
    by the composition root), the queue event consumer, post-call work limits, file watchers."""

    def __init__(
        self,
        settings: Settings,
        *,
        link: AmiLink,
        clock: Clock,
        calendar: ReloadingCalendar,
        customers: CustomerService,
        speech: Speech,
        appeals: AppealService,
        outages: OutageService,
        ivr: IvrLibrary,
        operators: OperatorService,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.tz = settings.tz
        self.customers = customers
        self.speech = speech
        self.link = link
        self.calendar = calendar
        self.appeals = appeals
        self.outages = outages
        self.ivr = ivr
        self.operators = operators
        self.calls: dict[str, HotlineCall] = {}
        # Uniqueids a flow of this run drives now (from AsyncAGIStart, before its appeal)
        self.driven: set[str] = set()
        # finished calls, for whoever watches (tests, a future live view)
        self.on_call_finished: list[Callable[[HotlineCall], Any]] = []
        config = link.config
        # a flow waits this long for a dropped link before it lets go of its call: enough
        # for a missed Ping or two and a reconnect with its back-off
        self.recovery = CallRecovery(
            link,
            self.appeals,
            clock,
            link_grace=max(30.0, 3 * config.ping_interval + config.reconnect_max),
            register=self._register_unseen,
        )
        self.events = QueueEventConsumer(
            link, self.appeals, self.operators, clock, self.calls, recovery=self.recovery
        )
        self._call_deps = CallDeps(
            appeals=self.appeals,
            outages=self.outages,
            customers=customers,
            speech=speech,
            ivr=self.ivr,
            calendar=calendar,
            clock=clock,
            tz=self.tz,
            live=self.calls,
            default_region=settings.default_region,
            queue_timeout=settings.hotline_queue_timeout,
            link=link,
            recovery=self.recovery,
            operators=self.operators,
            settle_events=self.events.settled,
        )
        self._tasks = TaskSet("hotline")
        self._started = False

    async def start(self) -> None:
        await self.ivr.reload()
        # the calendar is the app's, shared with the autoinformer: the app reloads it
        self.events.start(self._tasks)
        self.link.on_connection(self._on_connection)
        # with the link down this still takes up the appeals a previous run left open; the
        # link's first connection checks them against Asterisk (_on_connection)
        await self._reconcile(startup=True)
        if not self.operators_elsewhere:
            self._tasks.spawn(self._sweep(), name="hotline-wrapup-limits")
        self._tasks.spawn(self._watch_files(), name="hotline-file-watch")
        self._started = True

    async def stop(self) -> None:
        self._started = False
        await self._tasks.close()
        self.events.stop()
        # flows are stopped first (the AGI server's close): what they let go of, and what
        # still waited for its end, will not be seen ending by this run
        await self.recovery.close_all()

    async def handle_call(self, channel: AgiChannel) -> None:
        """The AsyncAGI flow `hotline` (dialplan context [hotline])."""
        call = HotlineCall(self._call_deps, channel)
        self.driven.add(call.uniqueid)
        try:
            await call.run()
        finally:
            self.driven.discard(call.uniqueid)
            for listener in list(self.on_call_finished):
                try:
                    listener(call)
                except Exception:
                    log.exception("call-finished listener failed")

    async def _register_unseen(self, live: LiveChannel) -> int | None:
        """The appeal of a hotline call no flow saw arrive (its AsyncAGIStart came while the
        link was down): registered at the reconciliation, from what the channel shows."""
        try:
            caller = normalize_phone(live.caller, self.settings.default_region)
        except InvalidPhoneNumber:
            caller = ""
        customer = await self.customers.find_by_phone(caller) if caller else None
        now = self.clock.now()
        ref = await self.appeals.register(
            uniqueid=live.uniqueid,
            channel=live.name,
            caller_number=caller or live.caller[:32],
            customer_id=customer.id if customer else None,
            arrived_at=now - timedelta(seconds=live.seconds),
        )
        stamp = now.isoformat()
        await self.appeals.save_progress(
            ref.id,
            ivr_path="handoff:unseen",
            timeline=[["note", "arrived while no flow could take it", stamp],
                      ["handoff", "unseen", stamp]],
        )  # fmt: skip
        log.warning(
            "hotline call %s from %s arrived unseen: appeal %s, released to the dialplan",
            live.uniqueid,
            mask_phone(caller) if caller else "unknown",
            ref.number,
        )
        return ref.id

    def _on_connection(self, up: bool) -> None:
        for call in list(self.calls.values()):
            call.link_changed(up)
        if up and self._started:
            self._tasks.spawn(self._reconcile(), name="hotline-reconcile")

    @property
    def operators_elsewhere(self) -> bool:
        """The operators' queue is on the hotline node (CC_HOTLINE_NODE), not on this one:
        their states in the shared database are that node's service's to keep, and this
        node's queue is never made to match them."""
        return bool(self.settings.hotline_node)

    async def _reconcile(self, *, startup: bool = False) -> None:
        try:
            if not self.operators_elsewhere:
                for note in await self.operators.reconcile():
                    log.info("operators: %s", note)
        except AmiNotSent as exc:
            log.warning("operators not reconciled with the queue (%s); the next link does", exc)
        except Exception:
            # a queue that cannot be read now is fixed by the next reconnect; calls still run
            log.exception("could not reconcile operators with the queue")
        try:
            for note in await self.recovery.reconcile(self.driven, startup=startup):
                log.info("hotline calls: %s", note)
        except AmiNotSent as exc:
            log.warning("hotline calls not reconciled (%s); the next link does", exc)
        except Exception:
            # the next reconnect tries again; the service's stop closes what is left
            log.exception("could not reconcile hotline calls with Asterisk's channels")

    async def _sweep(self) -> None:
        limit = self.settings.hotline_wrapup_limit
        sim = self.settings.sim_operator_wrapup_time
        shortest = min(limit, sim) if sim >= 0 else limit
        interval = min(1.0, max(0.1, shortest / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                await self.operators.expire_wrapups(
                    auto_interfaces=SIM_OPERATOR_INTERFACE, auto_after=sim
                )
            except Exception:
                log.exception("post-call work sweep failed")

    async def _watch_files(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            try:
                await self.ivr.reload()
            except Exception:
                log.exception("re-reading the IVR scripts failed")

"""Calls the hotline's flows no longer drive, and call ends the service did not see.

A flow lets go of its call when it cannot go on: a step failed, the AMI link stayed down
past the grace period, or the service is stopping. It releases the channel to the dialplan
(AGI `ASYNCAGI BREAK`: the fallback of context [hotline] queues the caller or says goodbye,
so nobody is left in silence) and hands its still open appeal over to CallRecovery, which
closes it when the end is learned:

- from the channel's Hangup event: the true end; who ended it comes from the fallback's
  UserEvent (an operator's conversation, the fallback's goodbye, or else the caller);
- by the reconciliation after every (re)connect (CoreShowChannels): a call whose channel is
  gone ended while nobody watched, so it is closed "lost" at that moment; one still in the
  hotline's AsyncAGI that no flow drives (released while the link was down, left by a run
  that died, or arrived while the link was down, so its AsyncAGIStart reached nobody) is
  released now, and gets an appeal if it has none;
- when the service stops: it will not see those ends, so they are closed "lost" then.

Everything here needs the database only, except the release and the channel list.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from panoramisk.message import Message

from contact_center.clock import Clock
from contact_center.hotline.appeals import AppealService
from contact_center.hotline.models import EndedBy
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.channels import show_channels
from contact_center.telephony.exceptions import AmiActionError, TelephonyError

log = logging.getLogger(__name__)

# set on the channel when the caller's business is done: the fallback says goodbye instead
# of queueing them again (asterisk_conf/extensions.conf, [hotline])
DONE_VARIABLE = "CC_HOTLINE_DONE"
# UserEvent(HotlineFallback,Step: queue|goodbye[,QueueStatus: ...]) from the fallback
FALLBACK_EVENT = "HotlineFallback"
# the dialplan context hotline calls run in (asterisk_conf/extensions.conf)
HOTLINE_CONTEXT = "hotline"
# ApplicationData of a channel in the hotline's AsyncAGI: "agi:async,hotline,<DID>"
_HOTLINE_AGI = re.compile(r"^agi:async,hotline(,|$)")
# a hotline channel in AsyncAGI that no flow drives is looked at twice, this far apart, so a
# call whose AsyncAGIStart is still on its way to its flow is not taken from it
STRAY_RECHECK_S = 1.0


async def release(link: AmiLink, channel: str, *, done: bool) -> None:
    """Let the [hotline] dialplan after AGI() take the call over (its fallback).

    `channel` is a channel name or a Uniqueid (Asterisk takes either; a Uniqueid cannot
    name a newer call after an Asterisk restart, a channel name can). CC_HOTLINE_DONE goes
    by AMI Setvar, which acts at once where an AGI command would wait behind the running
    one; ASYNCAGI BREAK ends AsyncAGI when the running command (a prompt, or Queue() with
    an operator on the line) is over, so a conversation is never cut.
    Raises AmiActionError when the channel is gone, AmiConnectionError without the link.
    """
    if done:
        await link.action("Setvar", Channel=channel, Variable=DONE_VARIABLE, Value="1")
    await link.action(
        "AGI",
        Channel=channel,
        Command="ASYNCAGI BREAK",
        # nobody waits for its AsyncAGIExec: the AGI server ignores an id it did not send
        CommandID=f"cc-release-{uuid.uuid4().hex}",
    )


@dataclass(slots=True)
class Orphan:
    """A hotline call no flow drives, whose end is still to be learned."""

    uniqueid: str
    # its appeal, open until the end is known (None: nothing left to close)
    appeal_id: int | None
    # the caller's business is done: the fallback says goodbye (CC_HOTLINE_DONE)
    done: bool
    # ASYNCAGI BREAK was sent (the dialplan has the call, or will once a command ends)
    released: bool
    # QueueStatus of the fallback's goodbye step ("" when it did not queue); None: not seen
    fallback: str | None = None
    # timeline entries learned from events, appended when the appeal closes
    steps: list[list[Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LiveChannel:
    """One channel as CoreShowChannels lists it. Its Application is the snapshot's: an app
    run by AGI EXEC (MixMonitor, Queue) stays listed after it returned to AsyncAGI, so
    whether a channel is in AsyncAGI is asked of the channel itself (AGISTATUS)."""

    uniqueid: str
    name: str
    application: str
    data: str
    caller: str = ""
    # how long the channel has existed (CoreShowChannel's Duration)
    seconds: float = 0.0
    context: str = ""

    @property
    def hotline(self) -> bool:
        """A hotline call: in the [hotline] dialplan (AsyncAGI, an app it runs, or the
        fallback after it)."""
        return self.context == HOTLINE_CONTEXT or (
            self.application.lower() == "agi" and _HOTLINE_AGI.match(self.data) is not None
        )


def fallback_ended_by(orphan: Orphan) -> EndedBy:
    """Who ended a call the dialplan's fallback had: the operator (Queue() returned
    CONTINUE: the operator hung up), the fallback (it reached its goodbye), else the caller
    (hung up waiting or talking)."""
    if orphan.fallback == "CONTINUE":
        return EndedBy.OPERATOR
    if orphan.fallback is not None:
        return EndedBy.SYSTEM
    return EndedBy.CALLER


class CallRecovery:
    """Orphaned hotline calls of this service run: released to the dialplan, watched until
    they end, their appeals closed. One per HotlineService."""

    def __init__(
        self,
        link: AmiLink,
        appeals: AppealService,
        clock: Clock,
        *,
        link_grace: float,
        register: Callable[[LiveChannel], Awaitable[int | None]] | None = None,
    ) -> None:
        self._link = link
        self._appeals = appeals
        self._clock = clock
        # registers the appeal of a call no flow ever saw; returns its id
        self._register = register
        # how long a flow waits for a dropped AMI link before it lets go of its call
        self.link_grace = link_grace
        self.orphans: dict[str, Orphan] = {}
        self._reconciling = asyncio.Lock()
        self.closed_lost = 0
        self.released = 0

    # ------------------------------------------------------------------ from the flows
    def adopt(self, uniqueid: str, appeal_id: int | None, *, done: bool, released: bool) -> Orphan:
        orphan = Orphan(uniqueid, appeal_id, done=done, released=released)
        self.orphans[uniqueid] = orphan
        if released:
            self.released += 1
        return orphan

    # ------------------------------------------------------------------ events
    def wants(self, event: Message) -> bool:
        """Hangup and UserEvent: only those of orphans are worth queueing (cheap filter)."""
        return str(event.get("Uniqueid", "")) in self.orphans

    async def handle(self, event: Message, at: datetime) -> None:
        orphan = self.orphans.get(str(event.get("Uniqueid", "")))
        if orphan is None:
            return
        name = str(event.get("Event", ""))
        if name == "UserEvent":
            if str(event.get("UserEvent", "")) != FALLBACK_EVENT:
                return
            step = str(event.get("Step", "")) or "?"
            orphan.released = True
            orphan.steps.append(["fallback", step, at.isoformat()])
            if step == "goodbye":
                orphan.fallback = str(event.get("QueueStatus", "") or "")
        elif name == "Hangup":
            self.orphans.pop(orphan.uniqueid, None)
            await self._close(orphan, at, fallback_ended_by(orphan))

    # ------------------------------------------------------------------ reconciliation
    async def channels(self) -> dict[str, LiveChannel]:
        """Every channel Asterisk has now, by Uniqueid."""
        return {
            shown.uniqueid: LiveChannel(
                shown.uniqueid,
                shown.name,
                shown.application,
                shown.data,
                caller=shown.caller_num,
                seconds=shown.seconds or 0.0,
                context=shown.context,
            )
            for shown in await show_channels(self._link)
        }

    async def reconcile(self, driven: Collection[str], *, startup: bool = False) -> list[str]:
        """Check the orphans (and, at start-up, the appeals a previous run left open)
        against Asterisk's channels. `driven`: Uniqueids a flow of this run drives now (a
        live view). Raises TelephonyError when Asterisk cannot be asked (the next
        reconnect tries again)."""
        async with self._reconciling:
            return await self._reconcile(driven, startup)

    async def _reconcile(self, driven: Collection[str], startup: bool) -> list[str]:
        notes: list[str] = []
        if startup:
            # a previous run that died left these open; a call of it may still be live
            for appeal_id, uid in await self._appeals.open_appeals():
                if uid not in driven and uid not in self.orphans:
                    self.orphans[uid] = Orphan(uid, appeal_id, done=False, released=False)
        channels = await self.channels()
        now = self._clock.now()
        for uid, orphan in list(self.orphans.items()):
            if uid in driven:
                continue
            live = channels.get(uid)
            if live is None:
                # it ended while nobody watched (the link was down, or no service ran)
                self.orphans.pop(uid, None)
                if await self._close(orphan, now, EndedBy.LOST, "gone when checked"):
                    notes.append(f"{uid}: ended unseen, closed as lost")
            elif not orphan.released:
                in_agi = await self.in_asyncagi(uid)
                if in_agi is None:
                    continue  # gone meanwhile: its Hangup event or the next check closes it
                if not in_agi:
                    orphan.released = True  # a previous run released it: the dialplan has it
                elif await self._release(orphan):
                    notes.append(f"{uid}: released to the dialplan")
        strays = [
            c.uniqueid
            for c in channels.values()
            if c.hotline and c.uniqueid not in driven and c.uniqueid not in self.orphans
        ]
        if strays:
            await asyncio.sleep(STRAY_RECHECK_S)
            again = await self.channels()
            for uid in strays:
                live = again.get(uid)
                if uid in driven or uid in self.orphans or live is None:
                    continue
                if not await self.in_asyncagi(uid):
                    continue  # in the fallback already (or gone)
                appeal = await self._appeals.by_uniqueid(uid)
                open_id = appeal.id if appeal is not None and appeal.ended_at is None else None
                # a closed appeal: its flow ended the call but could not hang it up (the
                # link); else whatever CC_HOTLINE_DONE a flow set stays on the channel
                done = appeal is not None and appeal.ended_at is not None
                orphan = Orphan(uid, open_id, done=done, released=False)
                self.orphans[uid] = orphan
                if not await self._release(orphan):
                    continue
                if appeal is None and self._register is not None:
                    # nobody saw it arrive: it is an appeal all the same
                    orphan.appeal_id = await self._register(live)
                notes.append(f"{uid}: nobody drove it, released to the dialplan")
        return notes

    async def in_asyncagi(self, uniqueid: str) -> bool | None:
        """Whether the channel is still in AGI(): AGI() sets AGISTATUS when it returns
        (a channel not yet in it counts as in it: a stray is looked at twice). None: gone."""
        try:
            reply = await self._link.action("Getvar", Channel=uniqueid, Variable="AGISTATUS")
        except AmiActionError:
            return None
        return not str(reply.get("Value", "") or "")

    async def _release(self, orphan: Orphan) -> bool:
        try:
            await release(self._link, orphan.uniqueid, done=orphan.done)
        except AmiActionError as exc:
            # gone meanwhile: the Hangup event (or the next check) closes it
            log.info("hotline call %s not released: %s", orphan.uniqueid, exc.message)
            return False
        if not orphan.released:
            self.released += 1
        orphan.released = True
        log.warning("hotline call %s released to the dialplan's fallback", orphan.uniqueid)
        return True

    # ------------------------------------------------------------------ stop
    async def close_all(self) -> None:
        """The service is stopping: it will not see these calls end. Each is released if
        that has not happened yet (best effort) and its appeal closed as lost now."""
        now = self._clock.now()
        for uid, orphan in list(self.orphans.items()):
            self.orphans.pop(uid, None)
            if not orphan.released and self._link.connected:
                try:
                    await self._release(orphan)
                except TelephonyError as exc:
                    log.warning("hotline call %s not released at stop: %s", uid, exc)
            try:
                await self._close(orphan, now, EndedBy.LOST, "service stopped")
            except Exception:
                log.exception("appeal of hotline call %s not closed at stop", uid)

    async def _close(
        self, orphan: Orphan, at: datetime, ended_by: EndedBy, note: str | None = None
    ) -> bool:
        if orphan.appeal_id is None:
            return False
        more = list(orphan.steps)
        if note:
            more.append(["note", note, at.isoformat()])
        more.append(["state", "ended", at.isoformat()])
        closed = await self._appeals.close(
            orphan.appeal_id, ended_at=at, ended_by=ended_by.value, more_timeline=more
        )
        if closed:
            if ended_by is EndedBy.LOST:
                self.closed_lost += 1
            log.info("hotline call %s closed: %s", orphan.uniqueid, ended_by.value)
        return closed

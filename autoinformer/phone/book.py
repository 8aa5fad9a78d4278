"""The dialer's persistence: due contacts, claims, attempts and their results, and what a
restart needs to reconcile.

A contact is claimed with a conditional UPDATE (state waiting -> calling) in the same
transaction that inserts the attempt with its ChannelId, so two dialers (or two passes)
never call one contact at once, and the ChannelId is committed before the Originate.
On PostgreSQL, where several dialer processes may share the database, the claim also
holds a lock per number to its commit and checks again, under it, what the dialer checked
before claiming: the number is in no call and within its frequency caps.

A call's progress is noted on its attempt as it happens (`note`); once the customer has
decided their fate (confirmed, opted out, asked for an operator, or heard the whole
message) the contact gets its final status at that moment, so whatever happens to the
service afterwards the contact is never called again. An Originate that never reached
Asterisk is voided (`void`): the contact waits again without having spent a retry.

Claims ahead (`claim_wave`): a dialer keeps the next wave of a campaign's contacts claimed
while the calls they will follow still play, so a slot that frees is dialed again with no
query. On PostgreSQL the campaign's concurrency is counted over every worker's open
attempts, and a contact claimed ahead holds no line yet: it is stored `ahead` and not
counted until a call of the same worker that ends hands it its slot (`hand_over`), in the
transaction that closes that call. The count never drops between the two, so another
worker never takes that slot meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    Integer,
    Text,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.campaigns.plan import ACTIVE, Plan, plan_of
from autoinformer.models import Attempt, Campaign, CampaignContact, Letter, OptOut
from autoinformer.phone.progress import CallProgress, CallRef
from autoinformer.scheduling import (
    CAP_LOOKBACK,
    FALLBACK_STATUSES,
    CallFacts,
    cap_release,
    classify,
    next_attempt_time,
    policy_from_data,
    status_at_end,
)
from autoinformer.writer import BatchedWriter
from contact_center.service_state import asterisk_seen_up
from contact_center.storage.base import UtcDateTime, utcnow
from contact_center.storage.database import affected_rows
from contact_center.telephony.originate import new_channel_id

# id, phone, account, name, timezone, values (JSON), attempts
_WaitingRow = tuple[int, str, str, str, str | None, str, int]


@dataclass(frozen=True, slots=True)
class DueContact:
    id: int
    phone: str
    account: str
    name: str
    timezone: str | None
    values: Mapping[str, str]
    attempts: int


# a contact claimed: (the contact, its attempt's id, the attempt's ChannelId)
Claim = tuple[DueContact, int, str]


@dataclass(frozen=True, slots=True)
class OpenAttempt:
    """An attempt not closed yet, with what its call stored so far."""

    id: int
    channel_id: str
    contact_id: int
    campaign_id: int
    answered: bool
    progress: CallProgress
    orphan_deadline: datetime | None = None
    started_at: datetime | None = None
    # taken over from another worker: the node and `serve` process that placed the call
    placed_on: str = ""
    placed_by: str = ""


def _progress_of(a: Attempt) -> CallProgress:
    return CallProgress(
        parts_total=a.parts_total,
        parts_played=a.parts_played,
        played_to_end=a.played_to_end,
        confirmed=a.confirmed,
        queued=a.queued_at is not None,
        transferred=a.transferred,
        callback=a.callback,
        opted_out=a.opted_out,
        digits=a.digits,
        operator=a.operator,
        asterisk_boot=a.asterisk_boot,
        recording=a.recording_path,
        message=a.message,
    )


def _note_statement() -> Any:
    """The UPDATE `CallBook.note` runs, built once (it runs several times a call: building
    and keying a statement each time was most of its cost). Nothing already stored is
    taken back: a flag stays set, a count never drops, a text or a time once stored stays,
    an empty value stores nothing."""

    def kept(column: Any, name: str) -> Any:
        value = bindparam(name, type_=Text)
        return case((value != "", value), else_=column)

    flags = {
        name: getattr(Attempt, name) | bindparam(name, type_=Boolean)
        for name in ("played_to_end", "confirmed", "transferred", "callback", "opted_out")
    }
    parts_played = bindparam("parts_played", type_=Integer)
    parts_total = bindparam("parts_total", type_=Integer)
    return (
        update(Attempt)
        .where(Attempt.id == bindparam("attempt_id", type_=Integer), Attempt.ended_at.is_(None))
        .values(
            parts_played=case(
                (Attempt.parts_played > parts_played, Attempt.parts_played), else_=parts_played
            ),
            parts_total=case((parts_total > 0, parts_total), else_=Attempt.parts_total),
            digits=case(
                (
                    func.length(Attempt.digits) > bindparam("digits_len", type_=Integer),
                    Attempt.digits,
                ),
                else_=bindparam("digits", type_=Text),
            ),
            operator=kept(Attempt.operator, "operator"),
            asterisk_boot=kept(Attempt.asterisk_boot, "asterisk_boot"),
            recording_path=kept(Attempt.recording_path, "recording_path"),
            message=kept(Attempt.message, "message"),
            queued_at=case(
                (
                    bindparam("queued", type_=Boolean),
                    func.coalesce(Attempt.queued_at, bindparam("now", type_=UtcDateTime)),
                ),
                else_=Attempt.queued_at,
            ),
            # a call claimed ahead starts when its Originate goes out, not at the claim:
            # its start and duration in reports and the proof pack are the call's
            started_at=func.coalesce(bindparam("dialed_at", type_=UtcDateTime), Attempt.started_at),
            answered_at=func.coalesce(
                Attempt.answered_at, bindparam("answered_at", type_=UtcDateTime)
            ),
            **flags,
        )
        # plain rows: no objects of the session to bring up to date
        .execution_options(synchronize_session=False)
    )


_NOTE = _note_statement()


def _claim_statements(*, skip_locked: bool) -> Any:
    """The UPDATE that takes the contacts of a claim still waiting, built once per
    database kind (building it at every claim cost more than running it): one
    conditional statement for the lot, the ids taken returned. On PostgreSQL a row
    another worker's claim holds is skipped rather than waited for."""
    ids: Any = bindparam("ids", expanding=True)
    waiting = select(CampaignContact.id).where(
        CampaignContact.id.in_(ids), CampaignContact.state == "waiting"
    )
    if skip_locked:
        waiting = waiting.with_for_update(skip_locked=True)
    return (
        update(CampaignContact)
        .where(
            CampaignContact.id.in_(waiting.scalar_subquery()),
            CampaignContact.state == "waiting",
        )
        .values(
            state="calling",
            attempts=CampaignContact.attempts + 1,
            last_attempt_at=bindparam("now", type_=UtcDateTime),
            wait_reason=None,
        )
        .returning(CampaignContact.id)
        # no contact object of the session to bring up to date: claims are urgent writes,
        # the first of their transaction (BatchedWriter)
        .execution_options(synchronize_session=False)
    )


_CLAIM = {False: _claim_statements(skip_locked=False), True: _claim_statements(skip_locked=True)}
_NEW_ATTEMPTS = insert(Attempt).returning(Attempt.id, Attempt.channel_id)


def _note_params(
    ref: CallRef, p: CallProgress, now: datetime, answered_at: datetime | None
) -> dict[str, Any]:
    return {
        "attempt_id": ref.attempt_id,
        "parts_played": p.parts_played,
        "parts_total": p.parts_total,
        "digits": p.digits[:32],
        "digits_len": len(p.digits[:32]),
        "played_to_end": p.played_to_end,
        "confirmed": p.confirmed,
        "transferred": p.transferred,
        "callback": p.callback,
        "opted_out": p.opted_out,
        "operator": p.operator[:128],
        "asterisk_boot": p.asterisk_boot[:32],
        "dialed_at": p.dialed_at,
        "recording_path": p.recording,
        "message": p.message,
        "queued": p.queued,
        "now": now,
        "answered_at": answered_at,
    }


# attempt id, facts, now, error (CallBook.record)
_RecordRow = tuple[int, CallFacts, datetime, str]


@dataclass(slots=True)
class _RecordGroup:
    """Calls waiting to be closed by one write (CallBook.record), as _NoteGroup."""

    rows: list[_RecordRow] = field(default_factory=list)
    task: asyncio.Future[Any] | None = None


@dataclass(slots=True)
class _NoteGroup:
    """Notes waiting for one write (CallBook.note): their rows and the write that takes
    them (None: none queued yet; a write takes the rows when it runs)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Future[Any] | None = None


class CallBook:
    """The dialer's persistence (see the module docstring). Its writer is shared with the
    mailer's LetterBook and the unsubscribe endpoint: one writer per process."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, node: str = "", instance: str = ""
    ) -> None:
        self._sessions = sessions
        self._writer = BatchedWriter(sessions)
        # progress notes waiting for a write: [ordinary, urgent]
        self._notes = (_NoteGroup(), _NoteGroup())
        self._records = _RecordGroup()
        # stored on each claimed attempt: the Asterisk node of the call and this process
        self.node = node
        self.instance = instance
        # a call's attempt -> the one claimed ahead it handed its slot to (`hand_over`)
        self._successors: dict[int, int] = {}

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """For reads beside the book's own (autoinformer.phone.fresh)."""
        return self._sessions

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A write transaction taking its turn with this book's own writes (on SQLite one
        writer at a time, queued here, not in SQLite's sleeping busy handler)."""
        return self._writer.transaction()

    async def active_plans(self, channels: Collection[str] = ("phone", "both")) -> list[Plan]:
        """Running and paused campaigns with one of `channels` (the dialer's by default)."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Campaign)
                .where(Campaign.status.in_(ACTIVE), Campaign.channel.in_(list(channels)))
                .order_by(Campaign.priority.desc(), Campaign.id)
            )
            return [plan_of(c) for c in rows]

    async def due(self, campaign_id: int, now: datetime, limit: int) -> list[DueContact]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(CampaignContact)
                .where(
                    CampaignContact.campaign_id == campaign_id,
                    CampaignContact.state == "waiting",
                    (CampaignContact.next_attempt_at.is_(None))
                    | (CampaignContact.next_attempt_at <= now),
                )
                .order_by(CampaignContact.next_attempt_at.is_not(None), CampaignContact.id)
                .limit(limit)
            )
            return [
                DueContact(
                    c.id,
                    c.phone,
                    c.account,
                    c.name,
                    c.timezone,
                    json.loads(c.values or "{}"),
                    c.attempts,
                )
                for c in rows
            ]

    async def all_waiting(self, campaign_id: int) -> list[DueContact]:
        return await self.due(campaign_id, datetime.max.replace(tzinfo=ZoneInfo("UTC")), 10**9)

    async def waiting(self, campaign_id: int, *, page: int = 1000) -> AsyncIterator[DueContact]:
        """Every waiting contact of the campaign, by id, read `page` at a time (keyset by
        id: a contact called meanwhile never makes a page skip another), never all at once.

        A page is kept as plain tuples and each DueContact is made as it is handed out: a
        page of objects alive across young garbage collections ends up in the oldest
        generation, and 100,000 contacts of those brought a full collection (about 50 ms
        of frozen loop here) every few dozen pages."""
        after = 0
        while True:
            async with self._sessions() as session:
                result = await session.execute(
                    select(
                        CampaignContact.id,
                        CampaignContact.phone,
                        CampaignContact.account,
                        CampaignContact.name,
                        CampaignContact.timezone,
                        CampaignContact.values,
                        CampaignContact.attempts,
                    )
                    .where(
                        # `+ 0` keeps the planner off the due index (campaign, state, next
                        # attempt), which reads every waiting contact of the campaign and
                        # sorts them for each page; walking the primary key from `after`
                        # reads one page (SQLite, 100,000 contacts: 13 ms a page -> 1 ms)
                        CampaignContact.campaign_id + 0 == campaign_id,
                        CampaignContact.state == "waiting",
                        CampaignContact.id > after,
                    )
                    .order_by(CampaignContact.id)
                    .limit(page)
                )
                # plain tuples, not Rows: see above
                rows = [cast(_WaitingRow, tuple(r)) for r in result]
            for cid, phone, account, name, timezone, values, attempts in rows:
                yield DueContact(
                    cid, phone, account, name, timezone, json.loads(values or "{}"), attempts
                )
            if len(rows) < page:
                return
            after = rows[-1][0]

    async def set_pace(self, campaign_id: int, pace: str) -> None:
        """The dialer's effective concurrency for the campaign (JSON), for its status."""
        async with self._writer.transaction() as session:
            await session.execute(
                update(Campaign).where(Campaign.id == campaign_id).values(pace=pace)
            )

    async def defer(self, contact_id: int, until: datetime, reason: str) -> None:
        async with self._writer.transaction() as session:
            await session.execute(
                update(CampaignContact)
                .where(CampaignContact.id == contact_id, CampaignContact.state == "waiting")
                .values(next_attempt_at=until, wait_reason=reason)
            )

    async def answered_times_of(
        self, phones: Collection[str], kind: str, since: datetime
    ) -> dict[str, list[datetime]]:
        """When each of these numbers answered a call of this kind since `since` (the
        frequency caps), in one query: number -> its answers."""
        found: dict[str, list[datetime]] = {}
        wanted = list(dict.fromkeys(phones))
        async with self._sessions() as session:
            for start in range(0, len(wanted), 500):
                rows = await session.execute(
                    select(Attempt.phone, Attempt.answered_at).where(
                        Attempt.phone.in_(wanted[start : start + 500]),
                        Attempt.kind == kind,
                        # an answered call cut off by our side spent no retry, but the
                        # customer did pick up: it counts against the caps all the same
                        Attempt.answered_at.is_not(None),
                        Attempt.answered_at > since,
                    )
                )
                for phone, answered_at in rows:
                    if answered_at is not None:
                        found.setdefault(phone, []).append(answered_at)
        return found

    async def phones_in_call(self, phones: Collection[str]) -> set[str]:
        """Which of these numbers are in a call of any campaign (any dialer) right now: an
        open attempt, since a contact whose fate was decided mid-call is already done."""
        if not phones:
            return set()
        async with self._sessions() as session:
            return set(
                await session.scalars(
                    select(Attempt.phone).where(
                        Attempt.phone.in_(list(phones)),
                        Attempt.ended_at.is_(None),
                    )
                )
            )

    async def claim_many(
        self, plan: Plan, contacts: Sequence[DueContact], now: datetime, *, limit: int = 0
    ) -> list[Claim]:
        """Claim several contacts in one transaction: (contact, attempt id, ChannelId) for
        each one taken; each ChannelId is committed before its Originate goes out. `limit`
        (> 0): the campaign's concurrency, held across every worker sharing PostgreSQL."""
        dial_now, _ahead = await self.claim_wave(plan, contacts, now, limit=limit)
        return dial_now

    async def claim_wave(
        self,
        plan: Plan,
        contacts: Sequence[DueContact],
        now: datetime,
        *,
        limit: int = 0,
        ahead: int = 0,
    ) -> tuple[list[Claim], list[Claim]]:
        """`claim_many`, and on PostgreSQL with a `limit` up to `ahead` contacts more
        claimed ahead of a free slot: those the concurrency leaves no room for, and those
        beyond the first `len(contacts) - ahead` (this worker's own free slots: a claim it
        cannot dial now must not hold a slot another worker could). Returns (the claims to
        dial now, those to dial only once `hand_over` gave them a slot). On SQLite (one
        worker, which keeps the concurrency itself) every claim is of the first kind."""

        async def op(session: AsyncSession) -> tuple[list[Claim], list[Claim]]:
            return await self._claim_in(session, plan, contacts, now, limit, ahead)

        dial_now, claimed_ahead = await self._writer.run(op, urgent=True)
        return list(dial_now), list(claimed_ahead)

    def hand_over(self, attempt_id: int, successor_id: int) -> None:
        """The call of `attempt_id` (this worker's, not closed yet) gives its slot to
        `successor_id`, claimed ahead and being dialed now: the write that closes it counts
        the successor in (see the module docstring)."""
        self._successors[attempt_id] = successor_id

    async def _claim_in(
        self,
        session: AsyncSession,
        plan: Plan,
        contacts: Sequence[DueContact],
        now: datetime,
        limit: int = 0,
        ahead: int = 0,
    ) -> tuple[list[Claim], list[Claim]]:
        shared = session.get_bind().dialect.name == "postgresql"
        room = len(contacts)
        if contacts and shared and limit > 0:
            room = await _room_within_concurrency(session, plan, limit)
            room = min(room, max(0, len(contacts) - max(0, ahead)))
            contacts = contacts[: room + max(0, ahead)]
        if contacts and shared:
            # the numbers of both kinds locked at once, in one order (no deadlock)
            contacts = await _numbers_free_for(session, plan, contacts, now)
        return (
            await self._insert_claims(session, plan, contacts[:room], now, shared, ahead=False),
            await self._insert_claims(session, plan, contacts[room:], now, shared, ahead=True),
        )

    async def _insert_claims(
        self,
        session: AsyncSession,
        plan: Plan,
        contacts: Sequence[DueContact],
        now: datetime,
        shared: bool,
        *,
        ahead: bool,
    ) -> list[Claim]:
        if not contacts:
            return []
        taken_ids = set(
            await session.scalars(_CLAIM[shared], {"ids": [c.id for c in contacts], "now": now})
        )
        chosen = [(c, new_channel_id()) for c in contacts if c.id in taken_ids]
        if not chosen:
            return []
        rows = [
            {
                "campaign_id": plan.id,
                "contact_id": c.id,
                "phone": c.phone,
                "kind": plan.kind,
                "channel_id": channel_id,
                "started_at": now,
                "duration": 0.0,
                "parts_played": 0,
                "parts_total": 0,
                "played_to_end": False,
                "digits": "",
                "transferred": False,
                "operator": "",
                "callback": False,
                "opted_out": False,
                "error": "",
                "confirmed": False,
                "counted": True,
                "node": self.node,
                "instance": self.instance,
                "ahead": ahead,
            }
            for c, channel_id in chosen
        ]
        ids = {
            channel_id: attempt_id
            for attempt_id, channel_id in (await session.execute(_NEW_ATTEMPTS, rows)).all()
        }
        return [(c, ids[channel_id], channel_id) for c, channel_id in chosen]

    async def note(
        self,
        ref: CallRef,
        progress: CallProgress,
        now: datetime,
        *,
        answered_at: datetime | None = None,
        urgent: bool = False,
    ) -> None:
        """Store a call's progress as it happens; a decided fate (see the module docstring)
        becomes the contact's final status now, not when the call ends. Plain UPDATEs, no
        rows read: this runs a few times per call, beside every other call's. `urgent`: the
        call waits for it (a decisive moment), so it goes before the queued writes."""

        if progress.decided:

            async def op(session: AsyncSession) -> None:
                await self._note_in(session, ref, progress, now, answered_at)

            await self._writer.run(op, urgent=urgent)
            return
        # nothing decided: one row to update, no more. The notes waiting meanwhile go in
        # one statement (executemany): a trip to the database's thread for all of them,
        # not one each (at 100 calls at once these trips queued the writes for seconds)
        group = self._notes[urgent]
        group.rows.append(_note_params(ref, progress, now, answered_at))
        if group.task is None:
            group.task = asyncio.ensure_future(
                self._writer.run(functools.partial(self._run_notes, group, []), urgent=urgent)
            )
        # shielded: a call cancelled while it waits does not take the others' notes along
        await asyncio.shield(group.task)

    async def _run_notes(
        self, group: _NoteGroup, rows: list[dict[str, Any]], session: AsyncSession
    ) -> None:
        if not rows:
            # the group's rows are this write's from now on (kept for the writer's one by
            # one retry of a failed batch); notes from here on wait for the next write
            rows.extend(group.rows)
            group.rows, group.task = [], None
        connection = await session.connection()
        await connection.execute(_NOTE, rows)

    async def _note_in(
        self,
        session: AsyncSession,
        ref: CallRef,
        p: CallProgress,
        now: datetime,
        answered_at: datetime | None,
    ) -> None:
        result = await session.execute(_NOTE, _note_params(ref, p, now, answered_at))
        if not affected_rows(result) or not p.decided:
            # closed meanwhile (the close had all of it), or nothing decided yet: a message
            # heard to its end is closed within seconds, and the attempt row says it
            return
        facts = p.facts()
        verdict = classify(facts)
        contact: dict[str, Any] = {
            "state": "done",
            "status": verdict.status,
            "finished_at": func.coalesce(CampaignContact.finished_at, now),
            "next_attempt_at": None,
            "wait_reason": None,
        }
        if verdict.notified:
            contact["notified"] = True
        if facts.callback:
            contact["callback"] = True
        await session.execute(
            update(CampaignContact).where(CampaignContact.id == ref.contact_id).values(**contact)
        )
        if p.opted_out:
            await _add_opt_out(session, ref.phone, ref.kind, ref.campaign_id)

    async def void(
        self, attempt_id: int, now: datetime, reason: str, *, unclaim: bool = False
    ) -> None:
        """Not an attempt: the Originate never reached Asterisk, the call vanished
        unanswered while nobody could see it, or it was cut off mid-message by our side
        (a restart). The row stays for the record with `counted` false (an answer it had
        stays too, for the frequency caps); the contact waits again with its retries
        untouched. `unclaim`: a claim handed back before its Originate was ever sent (a
        contact claimed ahead, not needed): no row is kept, as if never claimed."""

        async def op(session: AsyncSession) -> None:
            await self._count_in_successors(session, [attempt_id])
            attempt = await session.get(Attempt, attempt_id)
            if attempt is None or attempt.ended_at is not None:
                return
            if unclaim and (attempt.asterisk_boot or attempt.answered_at is not None):
                unclaim_row = False  # it was sent after all: kept as a voided attempt
            else:
                unclaim_row = unclaim
            attempt.ended_at = now
            attempt.counted = False
            attempt.outcome = "not_sent"
            attempt.error = reason[:500]
            contact = await session.get(CampaignContact, attempt.contact_id)
            campaign = await session.get(Campaign, attempt.campaign_id)
            if contact is None or campaign is None:
                return
            contact.attempts = max(0, contact.attempts - 1)
            contact.last_attempt_at = await session.scalar(
                select(func.max(Attempt.started_at)).where(
                    Attempt.contact_id == contact.id,
                    Attempt.counted.is_(True),
                    Attempt.id != attempt_id,
                )
            )
            if unclaim_row:
                await session.delete(attempt)
            if contact.state != "calling":
                return
            if campaign.status == "cancelled":
                _close(contact, "cancelled", now)
            elif campaign.end_at is not None and now >= campaign.end_at:
                _close(contact, status_at_end(campaign.kind, contact.status), now)
            else:
                # due again as it was before the claim (its earlier result and retry count)
                contact.state = "waiting"

        await self._writer.run(op)
        self._successors.pop(attempt_id, None)

    async def _count_in_successors(self, session: AsyncSession, attempt_ids: Sequence[int]) -> None:
        """In the write that closes these attempts: the claims ahead their calls handed
        their slots to count against the concurrency from now (`hand_over`). Read, not
        taken: a write that fails is tried again with the same rows."""
        successors = [self._successors[i] for i in attempt_ids if i in self._successors]
        if successors:
            await session.execute(
                update(Attempt).where(Attempt.id.in_(successors)).values(ahead=False)
            )

    async def asterisk_seen_up(self, boot: str) -> datetime | None:
        """The latest heartbeat of any `serve` with this Asterisk run up (service_state)."""
        return await asterisk_seen_up(self._sessions, boot)

    async def keep_orphan_deadline(self, attempt_id: int, deadline: datetime) -> datetime:
        """The instant a call nobody can drive is hung up: `deadline` the first time any
        run asks, the stored one ever after (a restart never pushes it back)."""

        async def op(session: AsyncSession) -> datetime:
            attempt = await session.get(Attempt, attempt_id)
            if attempt is None:
                return deadline
            if attempt.orphan_deadline is None:
                attempt.orphan_deadline = deadline
            return attempt.orphan_deadline

        return cast(datetime, await self._writer.run(op))

    async def record(
        self,
        attempt_id: int,
        facts: CallFacts,
        now: datetime,
        *,
        error: str = "",
    ) -> str:
        """Close an attempt, move its contact on (final, retry, cancelled, not in time);
        returns the contact's new status."""

        # the calls ending meanwhile are closed in one write that reads all their
        # attempts and contacts in one statement and stores them in one per table (at
        # 100 calls at once, a write per call with three trips to the database's thread
        # each fell seconds behind, and a campaign ends only once all are stored)
        group = self._records
        index = len(group.rows)
        group.rows.append((attempt_id, facts, now, error))
        if group.task is None:
            group.task = asyncio.ensure_future(
                self._writer.run(functools.partial(self._run_records, group, []))
            )
        results = await asyncio.shield(group.task)
        self._successors.pop(attempt_id, None)
        result = results[index]
        if isinstance(result, Exception):
            raise result
        return str(result)

    async def _run_records(
        self, group: _RecordGroup, rows: list[_RecordRow], session: AsyncSession
    ) -> list[str | Exception]:
        if not rows:
            # as in _run_notes: the rows are this write's, kept for a retry
            rows.extend(group.rows)
            group.rows, group.task = [], None
        ids = sorted({row[0] for row in rows})
        await self._count_in_successors(session, ids)
        # no autoflush: the changes of the lot are flushed together at the commit
        with session.no_autoflush:
            # the campaigns with them: a campaign got by id for each row was a SELECT per
            # call (the session's identity map holds an object only while it is referenced)
            found = {
                attempt.id: (attempt, contact, campaign)
                for attempt, contact, campaign in (
                    await session.execute(
                        select(Attempt, CampaignContact, Campaign)
                        .join(CampaignContact, CampaignContact.id == Attempt.contact_id)
                        .join(Campaign, Campaign.id == Attempt.campaign_id)
                        .where(Attempt.id.in_(ids))
                    )
                )
            }
            results: list[str | Exception] = []
            for attempt_id, facts, now, error in rows:
                try:
                    results.append(
                        await self._record_in(
                            session, attempt_id, facts, now, error, found.get(attempt_id)
                        )
                    )
                except LookupError as exc:
                    results.append(exc)
        return results

    async def _record_in(
        self,
        session: AsyncSession,
        attempt_id: int,
        facts: CallFacts,
        now: datetime,
        error: str,
        found: tuple[Attempt, CampaignContact, Campaign] | None,
    ) -> str:
        if found is None:
            raise LookupError(f"attempt {attempt_id} is gone")
        attempt, contact, campaign = found
        if attempt.ended_at is not None:
            # closed already (by whoever saw the call end first): counted once
            return contact.status or attempt.status or ""
        verdict = classify(facts)
        extra = facts.extra
        attempt.ended_at = now
        attempt.outcome = facts.outcome
        attempt.status = verdict.status
        attempt.duration = (now - attempt.started_at).total_seconds()
        attempt.parts_played = max(attempt.parts_played, int(extra.get("parts_played", 0)))
        if extra.get("parts_total"):
            attempt.parts_total = int(extra["parts_total"])
        attempt.played_to_end = facts.played_to_end
        attempt.confirmed = facts.confirmed
        attempt.digits = facts.digits[:32]
        attempt.transferred = facts.transferred
        attempt.operator = str(extra.get("operator", "") or attempt.operator)[:128]
        attempt.recording_path = str(extra.get("recording", "") or attempt.recording_path)
        attempt.callback = facts.callback
        opted_out_before = attempt.opted_out
        attempt.opted_out = facts.opted_out
        attempt.error = error
        if facts.outcome == "answered" and attempt.answered_at is None:
            attempt.answered_at = now
        if facts.outcome == "answered":
            contact.answered += 1
        if verdict.notified:
            contact.notified = True
        if facts.callback:
            contact.callback = True
        if facts.opted_out and not opted_out_before:
            await _add_opt_out(session, contact.phone, campaign.kind, campaign.id)
        status = verdict.status
        if contact.state == "done" and not verdict.final:
            # its fate was decided earlier in this call (noted as it happened): keep it
            return contact.status or status
        fallbacks = [n for n in (contact.phones or "").split(";") if n]
        if verdict.final:
            final = status
        elif campaign.status == "cancelled":
            final = "cancelled"
        elif status in FALLBACK_STATUSES and fallbacks and not _past_end(campaign, now):
            # the customer's next number is dialled now; the attempt keeps the one it used
            contact.phone, contact.phones = fallbacks[0], ";".join(fallbacks[1:])
            contact.state = "waiting"
            contact.status = status
            contact.next_attempt_at = now
            contact.wait_reason = "next_phone"
            return status
        else:
            retry = policy_from_data(json.loads(campaign.retry))
            when = next_attempt_time(status, contact.attempts, retry, now)
            if when is None:
                final = status
            elif campaign.end_at is not None and when >= campaign.end_at:
                final = status_at_end(campaign.kind, status)
            else:
                final = ""
                contact.state = "waiting"
                contact.status = status
                contact.next_attempt_at = when
                contact.wait_reason = "retry"
        if final:
            contact.state = "done"
            contact.status = final
            contact.finished_at = now
            contact.next_attempt_at = None
            contact.wait_reason = None
        return contact.status or status

    async def finish_at_end(self, plan: Plan, now: datetime) -> int:
        """The campaign's end (an outage campaign's cut-off) has come: every contact still
        waiting gets its final status. Calls in progress are closed by `record`."""
        async with self._writer.transaction() as session:
            contacts = list(
                await session.scalars(
                    select(CampaignContact).where(
                        CampaignContact.campaign_id == plan.id,
                        CampaignContact.state == "waiting",
                    )
                )
            )
            for c in contacts:
                c.state = "done"
                c.status = status_at_end(plan.kind, c.status)
                c.finished_at = now
                c.wait_reason = None
                c.next_attempt_at = None
            return len(contacts)

    async def finish_if_done(self, campaign_id: int, now: datetime) -> bool:
        """Finish the campaign when both its sides are done: every contact called and every
        letter sent (the dialer and the mailer each ask after their own work)."""
        async with self._writer.transaction() as session:
            left = await session.scalar(
                select(func.count(CampaignContact.id)).where(
                    CampaignContact.campaign_id == campaign_id,
                    CampaignContact.state != "done",
                )
            )
            if left:
                return False
            # a contact decided mid-call is done while its call goes on (an operator
            # talking to the customer): the campaign ends when that call has ended too
            calls_left = await session.scalar(
                select(func.count(Attempt.id)).where(
                    Attempt.campaign_id == campaign_id, Attempt.ended_at.is_(None)
                )
            )
            if calls_left:
                return False
            letters_left = await session.scalar(
                select(func.count(Letter.id)).where(
                    Letter.campaign_id == campaign_id, Letter.state != "done"
                )
            )
            if letters_left:
                return False
            campaign = await session.get(Campaign, campaign_id)
            if campaign is None or campaign.status not in ACTIVE:
                return False
            campaign.status = "finished"
            campaign.finished_at = now
            return True

    async def open_attempts(self) -> list[OpenAttempt]:
        """Every attempt not closed yet, whichever worker's."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Attempt).where(Attempt.ended_at.is_(None)).order_by(Attempt.id)
            )
            return [_open_attempt(a) for a in rows]

    async def dead_workers_calls(self, *, alive: Collection[str]) -> list[tuple[int, str, str]]:
        """(attempt id, ChannelId, the `serve` that placed it) of every open attempt a
        worker no longer alive placed on another node: the calls to ask that node about."""
        others = sorted(set(alive) | {self.instance})
        async with self._sessions() as session:
            rows = await session.execute(
                select(Attempt.id, Attempt.channel_id, Attempt.instance)
                .where(
                    Attempt.ended_at.is_(None),
                    Attempt.node.not_in([self.node, ""]),
                    Attempt.instance.not_in(others),
                )
                .order_by(Attempt.id)
            )
            return [(row[0], row[1], row[2]) for row in rows]

    async def take_over(
        self,
        now: datetime,
        *,
        alive: Collection[str],
        ended_by: timedelta | None = None,
        ended: Collection[int] = (),
    ) -> list[OpenAttempt]:
        """The open attempts this worker is to adopt, made its own in one transaction.

        Without `ended_by` (at a start): those of its node (or of no node) that no other
        live process placed. With it: a dead worker's on another node whose call is over
        there: those in `ended` (its node no longer has the channel), and any started
        longer ago than `ended_by`, whose call must have ended by now (TIMEOUT(absolute));
        only their outcome is left to take. A live worker's calls are never taken."""
        others = sorted(set(alive) - {self.instance})
        own_node = Attempt.node.in_([self.node, ""])
        chosen = select(Attempt.id).where(Attempt.ended_at.is_(None))
        if ended_by is None:
            chosen = chosen.where(own_node)
        else:
            over = Attempt.started_at < now - ended_by
            if ended:
                over = or_(over, Attempt.id.in_(sorted(ended)))
            chosen = chosen.where(~own_node, over)
        if others:
            chosen = chosen.where(Attempt.instance.not_in(others))
        placing = chosen.add_columns(Attempt.node, Attempt.instance)
        async with self._writer.transaction() as session:
            if session.get_bind().dialect.name == "postgresql":
                # two workers looking at one dead worker's calls: each row goes to one
                placing = placing.with_for_update(skip_locked=True)
            placed = {row[0]: (row[1], row[2]) for row in await session.execute(placing)}
            if not placed:
                return []
            rows = await session.scalars(
                update(Attempt)
                .where(Attempt.id.in_(list(placed)))
                # a claim ahead another worker left open: its call, if any, holds a line
                .values(node=self.node, instance=self.instance, ahead=False)
                .returning(Attempt)
            )
            taken = [
                replace(_open_attempt(a), placed_on=placed[a.id][0], placed_by=placed[a.id][1])
                for a in rows
            ]
            return sorted(taken, key=lambda a: a.id)

    async def is_open(self, channel_id: str) -> bool:
        """Whether a call with this ChannelId is one of ours not closed yet."""
        async with self._sessions() as session:
            found = await session.scalar(
                select(Attempt.id).where(
                    Attempt.channel_id == channel_id, Attempt.ended_at.is_(None)
                )
            )
            return found is not None

    async def plan(self, campaign_id: int) -> Plan | None:
        """A campaign as the dialer sees it, whatever its status (a call of a campaign
        cancelled or finished meanwhile is still driven to its end)."""
        async with self._sessions() as session:
            campaign = await session.get(Campaign, campaign_id)
            return plan_of(campaign) if campaign is not None else None

    async def release_stray_calling(self) -> int:
        """Contacts left `calling` without an open attempt (cannot happen with one
        transaction per claim; kept as a guard) go back to waiting."""
        async with self._writer.transaction() as session:
            open_contacts = select(Attempt.contact_id).where(Attempt.ended_at.is_(None))
            result = await session.execute(
                update(CampaignContact)
                .where(
                    CampaignContact.state == "calling",
                    CampaignContact.id.not_in(open_contacts),
                )
                .values(state="waiting")
            )
            return affected_rows(result)

    async def contact_fields(self, contact_id: int) -> DueContact | None:
        async with self._sessions() as session:
            c = await session.get(CampaignContact, contact_id)
            if c is None:
                return None
            return DueContact(
                c.id, c.phone, c.account, c.name, c.timezone, json.loads(c.values), c.attempts
            )


def _open_attempt(a: Attempt) -> OpenAttempt:
    return OpenAttempt(
        a.id,
        a.channel_id,
        a.contact_id,
        a.campaign_id,
        a.answered_at is not None,
        _progress_of(a),
        a.orphan_deadline,
        a.started_at,
    )


async def _room_within_concurrency(session: AsyncSession, plan: Plan, limit: int) -> int:
    """How many more calls the campaign's concurrency leaves room for, counting the open
    calls of every worker (not the claims ahead), under a lock on the campaign's row held
    to the commit: two workers claiming for one campaign take turns, and the second sees
    the first's calls."""
    await session.execute(select(Campaign.id).where(Campaign.id == plan.id).with_for_update())
    busy = await session.scalar(
        select(func.count())
        .select_from(Attempt)
        .where(
            Attempt.campaign_id == plan.id,
            Attempt.ended_at.is_(None),
            Attempt.ahead.is_(False),
        )
    )
    return max(0, limit - int(busy or 0))


def _past_end(campaign: Campaign, now: datetime) -> bool:
    return campaign.end_at is not None and now >= campaign.end_at


def _close(contact: CampaignContact, status: str, now: datetime) -> None:
    contact.state = "done"
    contact.status = status
    contact.finished_at = now
    contact.next_attempt_at = None
    contact.wait_reason = None


async def _add_opt_out(session: AsyncSession, phone: str, kind: str, campaign_id: int) -> None:
    """Store an opt-out once; another dialer storing the same one first is no error."""
    values = {"phone": phone, "kind": kind, "campaign_id": campaign_id, "created_at": utcnow()}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(OptOut).values(**values).on_conflict_do_nothing())


async def _numbers_free_for(
    session: AsyncSession, plan: Plan, contacts: Sequence[DueContact], now: datetime
) -> list[DueContact]:
    """The contacts whose number may be called now, checked under a lock per number held
    to the commit (PostgreSQL): another dialer process claiming the same number waits for
    this claim's commit and then sees its attempt. One contact per number; the others
    stay waiting and the dialer's next pass defers them with the reason."""
    phones = sorted({c.phone for c in contacts})
    # locks taken in one order (by key) in every claim: two claims never deadlock
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock(k) FROM "
            "(SELECT hashtext(p) AS k FROM unnest(CAST(:phones AS text[])) AS p ORDER BY k) AS s"
        ),
        {"phones": phones},
    )
    busy = set(
        await session.scalars(
            select(Attempt.phone).where(Attempt.phone.in_(phones), Attempt.ended_at.is_(None))
        )
    )
    answered: dict[str, list[datetime]] = {}
    if not plan.caps.none:
        rows = await session.execute(
            select(Attempt.phone, Attempt.answered_at).where(
                Attempt.phone.in_(phones),
                Attempt.kind == plan.kind,
                Attempt.answered_at.is_not(None),
                Attempt.answered_at > now - CAP_LOOKBACK,
            )
        )
        for phone, at in rows.tuples():
            assert at is not None  # selected so
            # `now` was read before this claim waited for the locks: a call another dialer
            # had answered meanwhile counts as answered now, not as one in the future
            answered.setdefault(phone, []).append(min(at, now))
    free: list[DueContact] = []
    for contact in contacts:
        phone = contact.phone
        if phone in busy or cap_release(answered.get(phone, ()), now, plan.caps) is not None:
            continue
        busy.add(phone)  # one call per number in this claim too
        free.append(contact)
    return free

"""Campaign logic over the database: scenarios (stored, versioned), campaigns (create, start,
pause, resume, cancel, status, report) and the dialer's book of attempts (`CallBook`).
A campaign goes by phone, by e-mail or both: its contacts are the phone side, its letters
(`ai_letters`, sent by autoinformer.mailer) the e-mail side; one status, one report.

The CLI and the service share these through the same database: the CLI changes a
campaign's status, the service's dialer sees it on its next pass.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.exceptions import (
    CallListError,
    CampaignNotFound,
    CampaignRefused,
    CampaignStateError,
    ScenarioError,
    ScenarioNotFound,
)
from autoinformer.lists import (
    ListContact,
    ListLetter,
    ParsedList,
    contacts_from_customers,
    parse_campaign_list,
)
from autoinformer.models import Attempt, Campaign, CampaignContact, Letter, OptOut, ScenarioRow
from autoinformer.reports import WAIT_RU, Report, ReportRow, build_report
from autoinformer.scenarios import (
    KINDS,
    Scenario,
    builtin_scenarios,
    load_scenario_file,
    scenario_from_body,
)
from autoinformer.scheduling import (
    DEFAULT_CAPS,
    DEFAULT_RETRY,
    NO_CAPS,
    CallFacts,
    CallingWindows,
    Caps,
    Clock,
    ProductionCalendar,
    Retry,
    classify,
    expected_finish,
    next_attempt_time,
    outage_end,
    parse_caps,
    policy_from_data,
    policy_to_data,
    status_at_end,
)
from contact_center.customers.models import Customer
from contact_center.storage.base import utcnow
from contact_center.telephony.originate import new_channel_id

log = logging.getLogger(__name__)

_Op = Callable[[AsyncSession], Awaitable[Any]]

CHANNELS = ("phone", "email", "both")
ACTIVE = ("running", "paused")
CHANNEL_RU = {"phone": "звонки", "email": "e-mail", "both": "звонки и e-mail"}


# ============================================================================ scenarios


class ScenarioStore:
    """Scenarios as stored versions: adding a changed file makes a new version; campaigns
    keep the version they were created with."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], prompts: Collection[str] | None
    ) -> None:
        self._sessions = sessions
        self._prompts = prompts
        self._cache: dict[int, Scenario] = {}
        self._builtin_done = False

    async def add(self, scenario: Scenario, source: str) -> tuple[ScenarioRow, bool]:
        """Store `scenario`; returns (row, created). An unchanged scenario is not duplicated."""
        body = scenario.body()
        async with self._sessions() as session, session.begin():
            latest = await session.scalar(
                select(ScenarioRow)
                .where(ScenarioRow.name == scenario.name)
                .order_by(ScenarioRow.version.desc())
                .limit(1)
            )
            if latest is not None and latest.body == body:
                return latest, False
            row = ScenarioRow(
                name=scenario.name,
                version=(latest.version + 1) if latest else 1,
                kind=scenario.kind,
                title=scenario.title,
                body=body,
                source=source,
            )
            session.add(row)
        return row, True

    async def add_file(self, path: Path) -> tuple[ScenarioRow, bool]:
        await self.ensure_builtin()
        return await self.add(load_scenario_file(path, prompts=self._prompts), path.name)

    async def ensure_builtin(self) -> None:
        """The shipped scenarios (debt-notice, outage-warning, reminder, tariff-change)."""
        if self._builtin_done:
            return
        for scenario in builtin_scenarios(prompts=self._prompts):
            await self.add(scenario, f"builtin:{scenario.name}")
        self._builtin_done = True

    async def latest(self) -> list[ScenarioRow]:
        await self.ensure_builtin()
        async with self._sessions() as session:
            newest = (
                select(ScenarioRow.name, func.max(ScenarioRow.version).label("v"))
                .group_by(ScenarioRow.name)
                .subquery()
            )
            rows = await session.scalars(
                select(ScenarioRow)
                .join(
                    newest,
                    (ScenarioRow.name == newest.c.name) & (ScenarioRow.version == newest.c.v),
                )
                .order_by(ScenarioRow.name)
            )
            return list(rows)

    async def get(self, ref: str) -> tuple[ScenarioRow, Scenario]:
        """`name` (latest version) or `name@version`."""
        await self.ensure_builtin()
        name, _, version = ref.partition("@")
        query = select(ScenarioRow).where(ScenarioRow.name == name)
        if version:
            if not version.isdigit():
                raise ScenarioNotFound(f"версия сценария должна быть числом: «{ref}»")
            query = query.where(ScenarioRow.version == int(version))
        async with self._sessions() as session:
            row = await session.scalar(query.order_by(ScenarioRow.version.desc()).limit(1))
        if row is None:
            raise ScenarioNotFound(f"нет сценария «{ref}» (список: contact-center scenario list)")
        return row, self._parse(row)

    async def by_id(self, scenario_id: int) -> Scenario:
        cached = self._cache.get(scenario_id)
        if cached is not None:
            return cached
        async with self._sessions() as session:
            row = await session.get(ScenarioRow, scenario_id)
        if row is None:
            raise ScenarioNotFound(f"нет сценария с номером {scenario_id}")
        return self._parse(row)

    def _parse(self, row: ScenarioRow) -> Scenario:
        if row.id not in self._cache:
            try:
                self._cache[row.id] = scenario_from_body(row.body, f"{row.name}@{row.version}")
            except ScenarioError:
                log.exception("stored scenario %s@%s no longer parses", row.name, row.version)
                raise
        return self._cache[row.id]


# ============================================================================ campaigns


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    name: str
    kind: str
    scenario: str
    channel: str = "phone"
    start: datetime | None = None
    end: datetime | None = None
    windows: CallingWindows = field(default_factory=CallingWindows)
    concurrency: int = 10
    ring_timeout: float = 30.0
    retry: Mapping[str, Retry] = field(default_factory=lambda: dict(DEFAULT_RETRY))
    # None: the kind's default (debt: 1/2/8)
    caps: Caps | None = None
    priority: int = 0
    outage_start: datetime | None = None
    decision_date: date | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class CreateResult:
    campaign_id: int
    contacts: int
    end_at: datetime | None
    parsed: ParsedList
    letters: int = 0


@dataclass(frozen=True, slots=True)
class EmailProgress:
    """The e-mail side of a campaign, live: letters by state and result."""

    total: int
    queued: int
    sending: int
    done: int
    accepted: int
    deferred: int
    failed: int
    unknown: int
    retries_due: int
    deferrals: int
    by_status: Mapping[str, int]
    # why the e-mail side stopped by itself (SMTP settings refused), None while it runs
    paused: str | None = None

    def to_data(self) -> dict[str, Any]:
        return {
            "letters": self.total,
            "queued": self.queued,
            "sending": self.sending,
            "done": self.done,
            "accepted": self.accepted,
            "deferred": self.deferred,
            "failed": self.failed,
            "unknown": self.unknown,
            "retries_due": self.retries_due,
            "deferrals": self.deferrals,
            "by_status": dict(self.by_status),
            "paused": self.paused,
        }


@dataclass(frozen=True, slots=True)
class CampaignStatus:
    id: int
    name: str
    kind: str
    scenario: str
    status: str
    total: int
    waiting: int
    calling: int
    retries_due: int
    done: int
    notified: int
    failed: int
    by_status: Mapping[str, int]
    waiting_reasons: Mapping[str, int]
    start_at: datetime
    end_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    expected_finish: datetime | None
    channel: str = "phone"
    email: EmailProgress | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("finished", "cancelled")

    def to_data(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "scenario": self.scenario,
            "status": self.status,
            "total": self.total,
            "waiting": self.waiting,
            "calling": self.calling,
            "retries_due": self.retries_due,
            "done": self.done,
            "notified": self.notified,
            "failed": self.failed,
            "by_status": dict(self.by_status),
            "waiting_reasons": dict(self.waiting_reasons),
            "start": iso(self.start_at),
            "end": iso(self.end_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "expected_finish": iso(self.expected_finish),
            "channel": self.channel,
            "email": self.email.to_data() if self.email is not None else None,
        }


def campaign_caps(campaign: Campaign) -> Caps:
    return parse_caps(campaign.caps)


class CampaignService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        timezone: str,
        region: str = "RU",
        prompts: Collection[str] | None = None,
        calendar: ProductionCalendar | None = None,
    ) -> None:
        self._sessions = sessions
        self.sessions = sessions
        self.clock = clock
        self.timezone = timezone
        self.region = region
        self.calendar = calendar or ProductionCalendar()
        self.scenarios = ScenarioStore(sessions, prompts)

    # ------------------------------------------------------------------ create
    async def opted_out_phones(self, kind: str) -> set[str]:
        async with self._sessions() as session:
            return set(
                await session.scalars(
                    select(OptOut.phone).where(OptOut.kind == kind, OptOut.phone.is_not(None))
                )
            )

    async def opted_out_addresses(self, kind: str) -> set[str]:
        async with self._sessions() as session:
            return set(
                await session.scalars(
                    select(OptOut.address).where(OptOut.kind == kind, OptOut.address.is_not(None))
                )
            )

    async def create(
        self,
        spec: CampaignSpec,
        *,
        list_data: bytes | None = None,
        list_name: str = "",
        from_base: bool = False,
    ) -> CreateResult:
        """Validate everything, store the campaign and its contacts (status `created`)."""
        if spec.kind not in KINDS:
            raise CampaignRefused(f"вид кампании должен быть одним из: {', '.join(KINDS)}")
        if spec.channel not in CHANNELS:
            raise CampaignRefused(f"канал должен быть одним из: {', '.join(CHANNELS)}")
        if not 1 <= spec.concurrency <= 1000:
            raise CampaignRefused("одновременных звонков: от 1 до 1000")
        if not 3 <= spec.ring_timeout <= 120:
            raise CampaignRefused("время дозвона: от 3 до 120 секунд")
        row, scenario = await self.scenarios.get(spec.scenario)
        if scenario.kind != spec.kind:
            raise CampaignRefused(
                f"сценарий {row.name} для уведомлений вида {scenario.kind}, а кампания {spec.kind}"
            )
        if spec.channel != "phone" and scenario.email is None:
            raise CampaignRefused(
                f"в сценарии {row.name}@{row.version} нет письма (таблица [email]): "
                "для --channel email или both добавьте его (contact-center scenario add)"
            )
        tz_name = spec.timezone or self.timezone
        tz = ZoneInfo(tz_name)
        now = self.clock.now()
        start = spec.start or now
        end = spec.end
        if end is not None and end <= start:
            raise CampaignRefused("конец кампании должен быть позже начала")
        if end is not None and end <= now:
            raise CampaignRefused("конец кампании уже прошёл")
        if spec.kind == "outage":
            if spec.outage_start is None or spec.decision_date is None:
                raise CampaignRefused(
                    "для планового отключения нужны --outage-start и --decision-date"
                )
            end = outage_end(
                start=max(start, now),
                end=end,
                outage_start=spec.outage_start,
                decision_date=spec.decision_date,
                tz=tz,
                windows=spec.windows,
                calendar=self.calendar,
            )
        elif spec.outage_start is not None or spec.decision_date is not None:
            raise CampaignRefused("--outage-start и --decision-date только для вида outage")
        caps = spec.caps if spec.caps is not None else DEFAULT_CAPS.get(spec.kind, NO_CAPS)
        opted_out = await self.opted_out_phones(spec.kind) if spec.channel != "email" else set()
        opted_addresses = (
            await self.opted_out_addresses(spec.kind) if spec.channel != "phone" else set()
        )
        if from_base:
            async with self._sessions() as session:
                customers = list(await session.scalars(select(Customer).order_by(Customer.id)))
            parsed = contacts_from_customers(
                customers,
                scenario=scenario,
                region=self.region,
                opted_out=opted_out,
                channel=spec.channel,
                opted_out_addresses=opted_addresses,
            )
            source = "customers"
        elif list_data is not None:
            parsed = parse_campaign_list(
                list_data,
                channel=spec.channel,
                scenario=scenario,
                region=self.region,
                opted_out=opted_out,
                opted_out_addresses=opted_addresses,
                today=now.astimezone(tz).date(),
            )
            source = list_name
        else:
            raise CallListError("нужен список: --list ФАЙЛ.csv или --list customers")
        if not parsed.contacts and not parsed.letters:
            raise CallListError(
                {
                    "phone": "в списке не осталось ни одного абонента для звонка",
                    "email": "в списке не осталось ни одного адреса с согласием на рассылку",
                    "both": "в списке не осталось ни одного абонента для звонка или письма",
                }[spec.channel]
            )
        campaign = Campaign(
            name=spec.name,
            kind=spec.kind,
            scenario_id=row.id,
            channel=spec.channel,
            status="created",
            start_at=start,
            end_at=end,
            windows=json.dumps(spec.windows.to_data()),
            timezone=tz_name,
            concurrency=spec.concurrency,
            ring_timeout=spec.ring_timeout,
            retry=json.dumps(policy_to_data(spec.retry)),
            caps=str(caps),
            priority=spec.priority,
            outage_start=spec.outage_start,
            decision_date=spec.decision_date,
            source=source,
            rejected_rows=len(parsed.rejected),
        )
        async with self._sessions() as session, session.begin():
            session.add(campaign)
            await session.flush()
            rows = [_contact_row(campaign.id, c) for c in parsed.contacts]
            session.add_all(rows)
            await session.flush()
            # a letter joins the phone contact of its row (same campaign, same phone)
            by_phone = {r.phone: r.id for r in rows}
            session.add_all(
                _letter_row(campaign.id, by_phone.get(letter.phone), letter)
                for letter in parsed.letters
            )
        log.info(
            "campaign %d created (%s): %d contacts, %d letters, %d rejected rows",
            campaign.id,
            spec.channel,
            len(parsed.contacts),
            len(parsed.letters),
            len(parsed.rejected),
        )
        return CreateResult(campaign.id, len(parsed.contacts), end, parsed, len(parsed.letters))

    # ------------------------------------------------------------------ control
    async def get(self, campaign_id: int) -> Campaign:
        async with self._sessions() as session:
            campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            raise CampaignNotFound(f"нет кампании {campaign_id}")
        return campaign

    async def list_campaigns(self) -> list[Campaign]:
        async with self._sessions() as session:
            return list(await session.scalars(select(Campaign).order_by(Campaign.id)))

    async def _transition(
        self, campaign_id: int, allowed: Sequence[str], target: str, verb: str
    ) -> Campaign:
        async with self._sessions() as session, session.begin():
            campaign = await session.get(Campaign, campaign_id)
            if campaign is None:
                raise CampaignNotFound(f"нет кампании {campaign_id}")
            if campaign.status not in allowed:
                raise CampaignStateError(
                    f"кампанию {campaign_id} в состоянии {campaign.status} нельзя {verb}"
                )
            now = self.clock.now()
            if target == "running" and campaign.kind == "outage" and campaign.end_at:
                if now >= campaign.end_at:
                    raise CampaignRefused("срок оповещения (за 24 часа до отключения) уже прошёл")
                if campaign.status == "created" and campaign.decision_date is not None:
                    outage_end(
                        start=max(now, campaign.start_at),
                        end=campaign.end_at,
                        outage_start=campaign.outage_start or campaign.end_at,
                        decision_date=campaign.decision_date,
                        tz=ZoneInfo(campaign.timezone),
                    )
            campaign.status = target
            if target == "running" and campaign.started_at is None:
                campaign.started_at = now
            if target == "running":
                # a resume is also the supervisor's word that the SMTP settings are fixed
                campaign.email_paused = None
                campaign.email_paused_at = None
            if target == "cancelled":
                campaign.finished_at = now
                # calls in progress finish; the dialer marks their contacts cancelled
                await session.execute(
                    update(CampaignContact)
                    .where(
                        CampaignContact.campaign_id == campaign_id,
                        CampaignContact.state == "waiting",
                    )
                    .values(state="done", status="cancelled", finished_at=now, wait_reason=None)
                )
                # a letter being sent keeps its result; queued ones are not sent
                await session.execute(
                    update(Letter)
                    .where(Letter.campaign_id == campaign_id, Letter.state == "queued")
                    .values(state="done", status="cancelled", finished_at=now)
                )
            return campaign

    async def start(self, campaign_id: int) -> Campaign:
        return await self._transition(campaign_id, ("created",), "running", "запустить")

    async def pause(self, campaign_id: int) -> Campaign:
        return await self._transition(campaign_id, ("running",), "paused", "приостановить")

    async def resume(self, campaign_id: int) -> Campaign:
        """A paused campaign runs again; a running one whose e-mail side stopped by itself
        (SMTP settings refused) sends letters again."""
        async with self._sessions() as session, session.begin():
            campaign = await session.get(Campaign, campaign_id)
            if campaign is not None and campaign.status == "running" and campaign.email_paused:
                campaign.email_paused = None
                campaign.email_paused_at = None
                return campaign
        return await self._transition(campaign_id, ("paused",), "running", "возобновить")

    async def cancel(self, campaign_id: int) -> Campaign:
        return await self._transition(
            campaign_id, ("created", "running", "paused"), "cancelled", "отменить"
        )

    # ------------------------------------------------------------------ monitoring
    async def status(self, campaign_id: int) -> CampaignStatus:
        campaign = await self.get(campaign_id)
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(
                        CampaignContact.state,
                        CampaignContact.status,
                        CampaignContact.notified,
                        CampaignContact.attempts,
                        CampaignContact.wait_reason,
                    ).where(CampaignContact.campaign_id == campaign_id)
                )
            ).all()
            scenario = await session.get(ScenarioRow, campaign.scenario_id)
            email = await self._email_progress(session, campaign)
        states = Counter(r.state for r in rows)
        done = [r for r in rows if r.state == "done"]
        waiting = [r for r in rows if r.state == "waiting"]
        now = self.clock.now()
        # the pace of both sides together: a letter and a call each count as one
        all_done = len(done) + (email.done if email else 0)
        all_total = len(rows) + (email.total if email else 0)
        return CampaignStatus(
            id=campaign.id,
            name=campaign.name,
            kind=campaign.kind,
            scenario=f"{scenario.name}@{scenario.version}" if scenario else "?",
            status=campaign.status,
            total=len(rows),
            waiting=states.get("waiting", 0),
            calling=states.get("calling", 0),
            retries_due=sum(1 for r in waiting if r.attempts > 0),
            done=len(done),
            notified=sum(1 for r in rows if r.notified),
            failed=sum(1 for r in done if not r.notified),
            by_status=dict(sorted(Counter(r.status for r in done).items())),
            waiting_reasons=dict(sorted(Counter(r.wait_reason or "due" for r in waiting).items())),
            start_at=campaign.start_at,
            end_at=campaign.end_at,
            started_at=campaign.started_at,
            finished_at=campaign.finished_at,
            expected_finish=(
                campaign.finished_at
                if campaign.status in ("finished", "cancelled")
                else expected_finish(now, campaign.started_at, all_done, all_total - all_done)
            ),
            channel=campaign.channel,
            email=email,
        )

    async def _email_progress(
        self, session: AsyncSession, campaign: Campaign
    ) -> EmailProgress | None:
        if campaign.channel == "phone":
            return None
        rows = (
            await session.execute(
                select(Letter.state, Letter.status, Letter.deferrals).where(
                    Letter.campaign_id == campaign.id
                )
            )
        ).all()
        states = Counter(r.state for r in rows)
        finals = Counter(r.status for r in rows if r.state == "done")
        return EmailProgress(
            total=len(rows),
            queued=states.get("queued", 0),
            sending=states.get("sending", 0),
            done=states.get("done", 0),
            accepted=finals.get("accepted", 0),
            deferred=finals.get("deferred", 0),
            failed=finals.get("failed", 0),
            unknown=finals.get("unknown", 0),
            retries_due=sum(1 for r in rows if r.state == "queued" and r.status == "deferred"),
            deferrals=sum(r.deferrals for r in rows),
            by_status=dict(sorted(finals.items())),
            paused=campaign.email_paused,
        )

    async def report(self, campaign_id: int) -> Report:
        campaign = await self.get(campaign_id)
        tz = ZoneInfo(campaign.timezone)
        async with self._sessions() as session:
            contacts = list(
                await session.scalars(
                    select(CampaignContact)
                    .where(CampaignContact.campaign_id == campaign_id)
                    .order_by(CampaignContact.line, CampaignContact.id)
                )
            )
            scenario = await session.get(ScenarioRow, campaign.scenario_id)
            letters = list(
                await session.scalars(
                    select(Letter)
                    .where(Letter.campaign_id == campaign_id)
                    .order_by(Letter.line, Letter.id)
                )
            )
        rows = _merge_rows(contacts, letters, tz)
        header = {
            "id": campaign.id,
            "name": campaign.name,
            "kind": campaign.kind,
            "scenario": f"{scenario.name}@{scenario.version}" if scenario else "?",
            "status": campaign.status,
            "start": campaign.start_at.isoformat(),
            "end": campaign.end_at.isoformat() if campaign.end_at else None,
            "caps": campaign.caps,
            "rejected_rows": campaign.rejected_rows,
            "channel": campaign.channel,
            "email_paused": campaign.email_paused,
        }
        return build_report(header, rows)


def _contact_row(campaign_id: int, c: ListContact) -> CampaignContact:
    values = dict(c.values)
    return CampaignContact(
        campaign_id=campaign_id,
        line=c.line,
        phone=c.phone,
        account=c.account,
        name=c.name,
        timezone=c.timezone,
        values=json.dumps(values, ensure_ascii=False),
        state="waiting",
        status=None,
        notified=False,
        attempts=0,
        answered=0,
        callback=False,
    )


def _letter_row(campaign_id: int, contact_id: int | None, letter: ListLetter) -> Letter:
    return Letter(
        campaign_id=campaign_id,
        contact_id=contact_id,
        line=letter.line,
        address=letter.address,
        account=letter.account,
        name=letter.name,
        values=json.dumps(dict(letter.values), ensure_ascii=False),
        state="queued",
        status=None,
        attempts=0,
        deferrals=0,
        rounds=0,
        reply="",
        last_deferral="",
    )


def _report_row(c: CampaignContact, tz: ZoneInfo, letter: Letter | None = None) -> ReportRow:
    note = ""
    if c.state == "waiting" and c.wait_reason:
        note = WAIT_RU.get(c.wait_reason, c.wait_reason)
        if c.next_attempt_at is not None:
            note += f" до {c.next_attempt_at.astimezone(tz):%d.%m %H:%M}"
    return ReportRow(
        phone=c.phone,
        account=c.account,
        status=c.status if c.state == "done" and c.status else c.state,
        notified=c.notified,
        attempts=c.attempts,
        answered=c.answered,
        callback=c.callback,
        note=note,
        **(_email_columns(letter, tz) if letter is not None else {}),
    )


def _email_columns(letter: Letter, tz: ZoneInfo) -> dict[str, Any]:
    status = letter.status if letter.state == "done" and letter.status else letter.state
    note = ""
    if letter.state == "queued" and letter.next_attempt_at is not None:
        note = f"повтор после {letter.next_attempt_at.astimezone(tz):%d.%m %H:%M}"
    if letter.unsubscribed_at is not None:
        note = (note + "; " if note else "") + "отписался по ссылке из письма"
    return {
        "email": letter.address,
        "email_status": status,
        "email_attempts": letter.attempts,
        "email_deferrals": letter.deferrals,
        "email_code": letter.code,
        "email_reply": letter.reply,
        "email_last_deferral": letter.last_deferral,
        "email_note": note,
    }


def _merge_rows(
    contacts: Sequence[CampaignContact], letters: Sequence[Letter], tz: ZoneInfo
) -> list[ReportRow]:
    """One row per contact with its first letter beside its phone result; further letters of
    a contact and letters of e-mail-only recipients are rows of their own, in list order."""
    by_contact: dict[int, list[Letter]] = {}
    alone: list[Letter] = []
    for letter in letters:
        if letter.contact_id is None:
            alone.append(letter)
        else:
            by_contact.setdefault(letter.contact_id, []).append(letter)
    keyed: list[tuple[int, int, ReportRow]] = []
    for c in contacts:
        own = by_contact.pop(c.id, [])
        keyed.append((c.line, 0, _report_row(c, tz, own[0] if own else None)))
        alone.extend(own[1:])
    for rest in by_contact.values():  # a contact deleted under its letters (not expected)
        alone.extend(rest)
    for letter in alone:
        row = ReportRow(
            phone="",
            account=letter.account,
            status="",
            notified=False,
            attempts=0,
            answered=0,
            **_email_columns(letter, tz),
        )
        keyed.append((letter.line, 1, row))
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [row for _line, _order, row in keyed]


# ============================================================================ call book


@dataclass(frozen=True, slots=True)
class Plan:
    """A running campaign as the dialer needs it (a snapshot per pass)."""

    id: int
    name: str
    kind: str
    status: str
    scenario_id: int
    start_at: datetime
    end_at: datetime | None
    windows: CallingWindows
    tz: ZoneInfo
    concurrency: int
    ring_timeout: float
    retry: Mapping[str, Retry]
    caps: Caps
    priority: int
    channel: str = "phone"
    # why the e-mail side stopped by itself (None: it runs)
    email_paused: str | None = None


@dataclass(frozen=True, slots=True)
class DueContact:
    id: int
    phone: str
    account: str
    name: str
    timezone: str | None
    values: Mapping[str, str]
    attempts: int


@dataclass(frozen=True, slots=True)
class OpenAttempt:
    id: int
    channel_id: str
    contact_id: int
    campaign_id: int
    answered: bool


def plan_of(c: Campaign) -> Plan:
    return Plan(
        id=c.id,
        name=c.name,
        kind=c.kind,
        status=c.status,
        scenario_id=c.scenario_id,
        start_at=c.start_at,
        end_at=c.end_at,
        windows=CallingWindows.from_data(json.loads(c.windows)),
        tz=ZoneInfo(c.timezone),
        concurrency=c.concurrency,
        ring_timeout=c.ring_timeout,
        retry=policy_from_data(json.loads(c.retry)),
        caps=parse_caps(c.caps),
        priority=c.priority,
        channel=c.channel,
        email_paused=c.email_paused,
    )


class CallBook:
    """The dialer's persistence: claim a contact, record an attempt, reconcile after a crash.

    A contact is claimed with a conditional UPDATE (state waiting -> calling) in the same
    transaction that inserts the attempt with its ChannelId, so two dialers (or two passes)
    never call one contact at once, and the ChannelId is committed before the Originate.
    """

    BATCH = 4

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        bind = sessions.kw.get("bind")
        # SQLite has one writer at a time and its busy handler sleeps (up to 100 ms) when
        # writers collide: queue this process's writes here instead; PostgreSQL needs none
        self._serial = getattr(getattr(bind, "dialect", None), "name", "") == "sqlite"
        self._lock = asyncio.Lock()

        self._queue: list[tuple[_Op, asyncio.Future[Any]]] = []
        self._urgent: list[tuple[_Op, asyncio.Future[Any]]] = []
        self._flushing = False

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A write transaction taking its turn with this book's own writes (the mailer's
        letters share it: on SQLite one writer at a time, queued here, not in SQLite's
        sleeping busy handler)."""
        return self._write()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        if self._serial:
            async with self._lock, self._sessions() as session, session.begin():
                yield session
        else:
            async with self._sessions() as session, session.begin():
                yield session

    async def _batched(self, op: _Op, *, urgent: bool = False) -> Any:
        """Run `op(session)` in a transaction shared with the writes queued meanwhile (a
        group commit: fifty calls ending together cost a few commits, not fifty). Urgent
        writes (claims: a free channel waits for them) go first; a transaction takes at
        most BATCH ordinary writes so an urgent one never waits long behind them."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._queue).append((op, future))
        if not self._flushing:
            self._flushing = True
            try:
                while self._urgent or self._queue:
                    batch, self._urgent = self._urgent, []
                    batch += self._queue[: self.BATCH]
                    del self._queue[: self.BATCH]
                    await self._flush(batch)
            finally:
                self._flushing = False
                stranded = self._urgent + self._queue
                self._urgent, self._queue = [], []
                for _op, queued in stranded:  # this writer was cancelled
                    if not queued.done():
                        queued.set_exception(RuntimeError("write not run: writer cancelled"))
        return await future

    async def _flush(self, batch: list[tuple[_Op, asyncio.Future[Any]]]) -> None:
        try:
            async with self._write() as session:
                results = [await op(session) for op, _future in batch]
        except Exception as exc:
            if len(batch) == 1:
                _op, future = batch[0]
                if not future.done():
                    future.set_exception(exc)
                return
            # one bad write must not cost the others their results: one by one
            for op, future in batch:
                await self._flush([(op, future)])
            return
        except BaseException:
            for _op, future in batch:
                if not future.done():
                    future.set_exception(RuntimeError("write cancelled"))
                    future.exception()  # the cancelled writer's own future has no reader
            raise
        for (_op, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

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

    async def defer(self, contact_id: int, until: datetime, reason: str) -> None:
        async with self._write() as session:
            await session.execute(
                update(CampaignContact)
                .where(CampaignContact.id == contact_id, CampaignContact.state == "waiting")
                .values(next_attempt_at=until, wait_reason=reason)
            )

    async def answered_times(self, phone: str, kind: str, since: datetime) -> list[datetime]:
        async with self._sessions() as session:
            return list(
                await session.scalars(
                    select(Attempt.answered_at).where(
                        Attempt.phone == phone,
                        Attempt.kind == kind,
                        Attempt.answered_at.is_not(None),
                        Attempt.answered_at > since,
                    )
                )
            )

    async def phone_in_call(self, phone: str) -> bool:
        """Is this number being called by any campaign (any dialer) right now?"""
        async with self._sessions() as session:
            found = await session.scalar(
                select(CampaignContact.id)
                .where(CampaignContact.phone == phone, CampaignContact.state == "calling")
                .limit(1)
            )
            return found is not None

    async def phones_in_call(self, phones: Collection[str]) -> set[str]:
        """Which of these numbers are in a call of any campaign (any dialer) right now."""
        if not phones:
            return set()
        async with self._sessions() as session:
            return set(
                await session.scalars(
                    select(CampaignContact.phone).where(
                        CampaignContact.phone.in_(list(phones)),
                        CampaignContact.state == "calling",
                    )
                )
            )

    async def claim_many(
        self, plan: Plan, contacts: Sequence[DueContact], now: datetime
    ) -> list[tuple[DueContact, int, str]]:
        """Claim several contacts in one transaction: (contact, attempt id, ChannelId) for
        each one taken; each ChannelId is committed before its Originate goes out."""

        async def op(session: AsyncSession) -> list[tuple[DueContact, int, str]]:
            return await self._claim_in(session, plan, contacts, now)

        return list(await self._batched(op, urgent=True))

    async def _claim_in(
        self, session: AsyncSession, plan: Plan, contacts: Sequence[DueContact], now: datetime
    ) -> list[tuple[DueContact, int, str]]:
        if not contacts:
            return []
        # one conditional UPDATE for the lot: only contacts still waiting are taken
        taken_ids = set(
            await session.scalars(
                update(CampaignContact)
                .where(
                    CampaignContact.id.in_([c.id for c in contacts]),
                    CampaignContact.state == "waiting",
                )
                .values(
                    state="calling",
                    attempts=CampaignContact.attempts + 1,
                    last_attempt_at=now,
                    wait_reason=None,
                )
                .returning(CampaignContact.id)
            )
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
            }
            for c, channel_id in chosen
        ]
        ids = {
            channel_id: attempt_id
            for attempt_id, channel_id in (
                await session.execute(
                    insert(Attempt).returning(Attempt.id, Attempt.channel_id), rows
                )
            ).all()
        }
        return [(c, ids[channel_id], channel_id) for c, channel_id in chosen]

    async def claim(
        self, plan: Plan, contact: DueContact, channel_id: str, now: datetime
    ) -> int | None:
        """waiting -> calling and a new attempt row with `channel_id`, committed together;
        None if someone else took the contact first."""
        async with self._write() as session:
            result = await session.execute(
                update(CampaignContact)
                .where(CampaignContact.id == contact.id, CampaignContact.state == "waiting")
                .values(
                    state="calling",
                    attempts=CampaignContact.attempts + 1,
                    last_attempt_at=now,
                    wait_reason=None,
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            attempt = Attempt(
                campaign_id=plan.id,
                contact_id=contact.id,
                phone=contact.phone,
                kind=plan.kind,
                channel_id=channel_id,
                started_at=now,
            )
            session.add(attempt)
            await session.flush()
            return attempt.id

    async def mark_answered(self, attempt_id: int, now: datetime, parts_total: int) -> None:
        async def op(session: AsyncSession) -> None:
            await session.execute(
                update(Attempt)
                .where(Attempt.id == attempt_id, Attempt.ended_at.is_(None))
                .values(answered_at=now, parts_total=parts_total)
            )

        await self._batched(op)

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

        async def op(session: AsyncSession) -> str:
            return await self._record_in(session, attempt_id, facts, now, error)

        return str(await self._batched(op))

    async def _record_in(
        self, session: AsyncSession, attempt_id: int, facts: CallFacts, now: datetime, error: str
    ) -> str:
        attempt = await session.get(Attempt, attempt_id)
        if attempt is None:
            raise LookupError(f"attempt {attempt_id} is gone")
        contact = await session.get(CampaignContact, attempt.contact_id)
        campaign = await session.get(Campaign, attempt.campaign_id)
        assert contact is not None and campaign is not None
        verdict = classify(facts)
        extra = facts.extra
        attempt.ended_at = now
        attempt.outcome = facts.outcome
        attempt.status = verdict.status
        attempt.duration = (now - attempt.started_at).total_seconds()
        attempt.parts_played = int(extra.get("parts_played", 0))
        if "parts_total" in extra:
            attempt.parts_total = int(extra["parts_total"])
        attempt.played_to_end = facts.played_to_end
        attempt.digits = facts.digits[:32]
        attempt.transferred = facts.transferred
        attempt.operator = str(extra.get("operator", ""))[:128]
        attempt.callback = facts.callback
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
        if facts.opted_out:
            await _add_opt_out(session, contact.phone, campaign.kind, campaign.id)
        status = verdict.status
        if verdict.final:
            final = status
        elif campaign.status == "cancelled":
            final = "cancelled"
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
        async with self._write() as session:
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
        async with self._write() as session:
            left = await session.scalar(
                select(func.count(CampaignContact.id)).where(
                    CampaignContact.campaign_id == campaign_id,
                    CampaignContact.state != "done",
                )
            )
            if left:
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
        async with self._sessions() as session:
            rows = await session.scalars(select(Attempt).where(Attempt.ended_at.is_(None)))
            return [
                OpenAttempt(
                    a.id, a.channel_id, a.contact_id, a.campaign_id, a.answered_at is not None
                )
                for a in rows
            ]

    async def release_stray_calling(self) -> int:
        """Contacts left `calling` without an open attempt (cannot happen with one
        transaction per claim; kept as a guard) go back to waiting."""
        async with self._write() as session:
            open_contacts = select(Attempt.contact_id).where(Attempt.ended_at.is_(None))
            result = await session.execute(
                update(CampaignContact)
                .where(
                    CampaignContact.state == "calling",
                    CampaignContact.id.not_in(open_contacts),
                )
                .values(state="waiting")
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def contact_fields(self, contact_id: int) -> DueContact | None:
        async with self._sessions() as session:
            c = await session.get(CampaignContact, contact_id)
            if c is None:
                return None
            return DueContact(
                c.id, c.phone, c.account, c.name, c.timezone, json.loads(c.values), c.attempts
            )


async def _add_opt_out(session: AsyncSession, phone: str, kind: str, campaign_id: int) -> None:
    """Store an opt-out once; another dialer storing the same one first is no error."""
    values = {"phone": phone, "kind": kind, "campaign_id": campaign_id, "created_at": utcnow()}
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(OptOut).values(**values).on_conflict_do_nothing())


def cap_horizon() -> timedelta:
    return timedelta(days=31)

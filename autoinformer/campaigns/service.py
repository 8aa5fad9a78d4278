"""Campaigns over the database: create (list checked against the scenario), start, pause,
resume, cancel, status and report. A campaign goes by phone, by e-mail or both: its
contacts are the phone side, its letters (`ai_letters`) the e-mail side; one status, one
report."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.campaigns.freshness import LIST_TIME
from autoinformer.campaigns.list_writer import write_list
from autoinformer.campaigns.report_rows import report_rows
from autoinformer.campaigns.scenario_store import ScenarioStore
from autoinformer.campaigns.status import CampaignStatus, EmailProgress, campaign_pace
from autoinformer.campaigns.transfers import settle_transfers
from autoinformer.exceptions import (
    CallListError,
    CampaignNotFound,
    CampaignRefused,
    CampaignStateError,
)
from autoinformer.lists import ParsedList, customers_list, open_campaign_list
from autoinformer.models import Attempt, Campaign, CampaignContact, Letter, OptOut, ScenarioRow
from autoinformer.reports import Report, build_report, check_format, filter_rows, render
from autoinformer.scenarios import KINDS, transfer_rule_of
from autoinformer.scheduling import (
    DEFAULT_CAPS,
    DEFAULT_RETRY,
    NO_CAPS,
    CallingWindows,
    Caps,
    ProductionCalendar,
    Retry,
    expected_finish,
    outage_end,
    policy_to_data,
)
from contact_center.calendar import WorkingDays
from contact_center.clock import Clock
from contact_center.customers.filters import CustomerFilter, describe, matches_all, parse_filter
from contact_center.customers.models import Customer
from contact_center.hotline.models import Outage
from contact_center.spreadsheets import ReportFile

log = logging.getLogger(__name__)

CHANNELS = ("phone", "email", "both")
CHANNEL_RU = {"phone": "звонки", "email": "e-mail", "both": "звонки и e-mail"}


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
    # what the list's rows lack is read out from these (a CSV list without the columns)
    outage_end: datetime | None = None
    # customers of the base only (`--list customers`), every filter holding
    where: tuple[CustomerFilter, ...] = ()
    # a registered outage (contact_center.hotline): its customers, its times, no list
    outage_id: int | None = None


@dataclass(frozen=True, slots=True)
class CreateResult:
    campaign_id: int
    contacts: int
    end_at: datetime | None
    parsed: ParsedList
    letters: int = 0


class CampaignService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        timezone: str,
        region: str = "RU",
        prompts: Collection[str] | None = None,
        calendar: WorkingDays | None = None,
    ) -> None:
        self._sessions = sessions
        self.sessions = sessions
        self.clock = clock
        self.timezone = timezone
        self.region = region
        self.calendar = calendar or ProductionCalendar()
        self.scenarios = ScenarioStore(sessions, prompts)
        # called after a campaign's status changed here (start, pause, resume, cancel): the
        # dialer and the mailer of this process act on it now, not at their next pass
        self._listeners: list[Callable[[int], None]] = []

    def on_change(self, listener: Callable[[int], None]) -> Callable[[], None]:
        """Call `listener(campaign_id)` after each status change made by this service;
        returns the function that stops it. (A change made by another process, the CLI
        say, is seen at the parts' next pass.)"""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

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
        """Validate everything, store the campaign and its contacts (status `created`).
        With `spec.outage_id` the list is the customers at the registered outage's
        addresses, its start and end the values read out (`from_base` implied)."""
        if spec.outage_id is not None:
            if list_data is not None:
                raise CampaignRefused(
                    "--outage берёт абонентов из базы по адресам отключения: список не нужен",
                    field="list",
                )
            if spec.outage_start is not None or spec.outage_end is not None:
                raise CampaignRefused(
                    "--outage: начало и конец берутся из реестра, "
                    "--outage-start/--outage-end не нужны",
                    field="outage_start" if spec.outage_start is not None else "outage_end",
                )
            spec = await self._from_outage(spec)
            from_base = True
        if spec.where and not from_base:
            raise CampaignRefused(
                "--where отбирает потребителей из базы: нужен --list customers", field="where"
            )
        if spec.kind not in KINDS:
            raise CampaignRefused(
                f"вид кампании должен быть одним из: {', '.join(KINDS)}", field="kind"
            )
        if spec.channel not in CHANNELS:
            raise CampaignRefused(
                f"канал должен быть одним из: {', '.join(CHANNELS)}", field="channel"
            )
        if not 1 <= spec.concurrency <= 1000:
            raise CampaignRefused("одновременных звонков: от 1 до 1000", field="concurrency")
        if not 3 <= spec.ring_timeout <= 120:
            raise CampaignRefused("время дозвона: от 3 до 120 секунд", field="ring_timeout")
        row, scenario = await self.scenarios.get(spec.scenario)
        if scenario.kind != spec.kind:
            raise CampaignRefused(
                f"сценарий {row.name} для уведомлений вида {scenario.kind}, а кампания {spec.kind}",
                field="scenario",
            )
        if spec.channel != "phone" and scenario.email is None:
            raise CampaignRefused(
                f"в сценарии {row.name}@{row.version} нет письма (таблица [email]): "
                "для --channel email или both добавьте его (contact-center scenario add)",
                field="channel",
            )
        tz_name = spec.timezone or self.timezone
        tz = ZoneInfo(tz_name)
        now = self.clock.now()
        start = spec.start or now
        end = spec.end
        if end is not None and end <= start:
            raise CampaignRefused("конец кампании должен быть позже начала", field="end")
        if end is not None and end <= now:
            raise CampaignRefused("конец кампании уже прошёл", field="end")
        if spec.kind == "outage":
            if spec.outage_start is None or spec.decision_date is None:
                raise CampaignRefused(
                    "для планового отключения нужны --outage-start и --decision-date",
                    field="outage_start" if spec.outage_start is None else "decision_date",
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
        elif (
            spec.outage_start is not None
            or spec.decision_date is not None
            or spec.outage_end is not None
        ):
            raise CampaignRefused(
                "--outage-start, --outage-end и --decision-date только для вида outage",
                field="outage_start",
            )
        if spec.outage_end is not None and spec.outage_start is not None:
            if spec.outage_end <= spec.outage_start:
                raise CampaignRefused("конец отключения раньше его начала", field="outage_end")
        # an outage's times for the rows that do not carry their own
        defaults: dict[str, str] = {}
        if spec.kind == "outage" and spec.outage_start is not None:
            defaults["outage_start"] = spec.outage_start.astimezone(tz).strftime(LIST_TIME)
        if spec.kind == "outage" and spec.outage_end is not None:
            defaults["outage_end"] = spec.outage_end.astimezone(tz).strftime(LIST_TIME)
        caps = spec.caps if spec.caps is not None else DEFAULT_CAPS.get(spec.kind, NO_CAPS)
        opted_out = await self.opted_out_phones(spec.kind) if spec.channel != "email" else set()
        opted_addresses = (
            await self.opted_out_addresses(spec.kind) if spec.channel != "phone" else set()
        )
        if from_base:
            async with self._sessions() as session:
                customers = list(await session.scalars(select(Customer).order_by(Customer.id)))
            if spec.where:
                customers = [c for c in customers if matches_all(spec.where, c)]
                if not customers:
                    raise CallListError(
                        f"в базе нет ни одного потребителя, для которого {describe(spec.where)}"
                    )
            items = customers_list(
                customers,
                scenario=scenario,
                region=self.region,
                opted_out=opted_out,
                channel=spec.channel,
                opted_out_addresses=opted_addresses,
                defaults=defaults,
            )
            source = "customers" + (f": {describe(spec.where)}" if spec.where else "")
            if spec.outage_id is not None:
                source = f"отключение {spec.outage_id}: " + source
        elif list_data is not None:
            items = open_campaign_list(
                list_data,
                channel=spec.channel,
                scenario=scenario,
                region=self.region,
                opted_out=opted_out,
                opted_out_addresses=opted_addresses,
                today=now.astimezone(tz).date(),
                defaults=defaults,
            )
            source = list_name
        else:
            raise CallListError("нужен список: --list ФАЙЛ.csv или --list customers")
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
            outage_end=spec.outage_end,
            from_base=from_base,
            outage_id=spec.outage_id,
            decision_date=spec.decision_date,
            source=source,
            rejected_rows=0,
        )
        # the list is read as it is written (list_writer): nothing to send rolls back
        async with self._sessions() as session, session.begin():
            session.add(campaign)
            await session.flush()
            written = await write_list(session, campaign, items)
        parsed = items.result
        log.info(
            "campaign %d created (%s): %d contacts, %d letters, %d rejected rows",
            campaign.id,
            spec.channel,
            written.contacts,
            written.letters,
            len(parsed.rejected),
        )
        # the dialer of this process renders its phrases now, ahead of its start
        self._changed(campaign.id)
        return CreateResult(campaign.id, written.contacts, end, parsed, written.letters)

    async def _from_outage(self, spec: CampaignSpec) -> CampaignSpec:
        """The spec of a warning about a registered outage: its customers (its addresses as
        a filter), its start and end read out; the registration day is the decision day
        unless one is given (the 3-day rule counts from it)."""
        if spec.kind != "outage":
            raise CampaignRefused("--outage только для кампаний вида outage", field="outage")
        async with self._sessions() as session:
            outage = await session.get(Outage, spec.outage_id)
        if outage is None:
            raise CampaignRefused(
                f"нет отключения {spec.outage_id} в реестре (contact-center outages list)",
                field="outage",
            )
        if outage.ends_at <= self.clock.now():
            raise CampaignRefused(f"отключение {outage.id} уже закончилось", field="outage")
        tz = ZoneInfo(spec.timezone or self.timezone)
        where = parse_filter(f"address={outage.addresses}")
        return replace(
            spec,
            outage_start=outage.starts_at,
            outage_end=outage.ends_at,
            decision_date=spec.decision_date or outage.created_at.astimezone(tz).date(),
            where=(where, *spec.where),
        )

    async def outages_to_warn(self) -> list[Outage]:
        """Registered outages not over yet: what a warning campaign can be built from."""
        async with self._sessions() as session:
            query = select(Outage).where(Outage.ends_at > self.clock.now())
            return list(await session.scalars(query.order_by(Outage.starts_at, Outage.id)))

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
        campaign = await self._transition_in(campaign_id, allowed, target, verb)
        self._changed(campaign_id)
        return campaign

    def _changed(self, campaign_id: int) -> None:
        for listener in list(self._listeners):
            try:
                listener(campaign_id)
            except Exception:
                log.exception("campaign %d: a listener of its change failed", campaign_id)

    async def _transition_in(
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
            mail_only = (
                campaign
                if campaign and campaign.status == "running" and campaign.email_paused
                else None
            )
            if mail_only is not None:
                mail_only.email_paused = None
                mail_only.email_paused_at = None
        if mail_only is not None:
            self._changed(campaign_id)  # the mailer sends again now
            return mail_only
        return await self._transition(campaign_id, ("paused",), "running", "возобновить")

    async def cancel(self, campaign_id: int) -> Campaign:
        return await self._transition(
            campaign_id, ("created", "running", "paused"), "cancelled", "отменить"
        )

    # ------------------------------------------------------------------ monitoring
    async def summaries(self) -> dict[int, dict[str, int]]:
        """Every campaign's contacts (total, waiting, calling, done, notified) and letters
        in two grouped queries: the campaigns list."""
        async with self._sessions() as session:
            contacts = (
                await session.execute(
                    select(
                        CampaignContact.campaign_id,
                        CampaignContact.state,
                        CampaignContact.notified,
                        func.count().label("n"),
                    ).group_by(
                        CampaignContact.campaign_id, CampaignContact.state, CampaignContact.notified
                    )
                )
            ).all()
            letters = (
                await session.execute(
                    select(Letter.campaign_id, Letter.state, func.count().label("n")).group_by(
                        Letter.campaign_id, Letter.state
                    )
                )
            ).all()
        out: dict[int, dict[str, int]] = {}
        blank = {"total": 0, "waiting": 0, "calling": 0, "done": 0, "notified": 0, "letters": 0}
        for r in contacts:
            counts = out.setdefault(r.campaign_id, dict(blank))
            counts["total"] += r.n
            if r.state in ("waiting", "calling", "done"):
                counts[r.state] += r.n
            if r.notified:
                counts["notified"] += r.n
        for letter in letters:
            counts = out.setdefault(letter.campaign_id, dict(blank))
            counts["letters"] += letter.n
            if letter.state == "done":
                counts["letters_done"] = counts.get("letters_done", 0) + letter.n
        return out

    async def contacts(
        self,
        campaign_id: int,
        *,
        status: str | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, list[CampaignContact]]:
        """A page of the campaign's contacts and how many match: `status` is waiting,
        calling or a final status; `search` a part of the phone, account or name."""
        await self.get(campaign_id)
        where = [CampaignContact.campaign_id == campaign_id]
        if status in ("waiting", "calling"):
            where.append(CampaignContact.state == status)
        elif status:
            where += [CampaignContact.state == "done", CampaignContact.status == status]
        if search:
            needle = search.strip()
            digits = "".join(ch for ch in needle if ch.isdigit())
            like = f"%{needle.replace('%', '').replace('_', '')}%"
            terms = [CampaignContact.account.ilike(like), CampaignContact.name.ilike(like)]
            if digits:
                terms.append(CampaignContact.phone.like(f"%{digits}%"))
            where.append(or_(*terms))
        async with self._sessions() as session:
            counted = select(func.count()).select_from(CampaignContact).where(*where)
            total = await session.scalar(counted) or 0
            rows = await session.scalars(
                select(CampaignContact)
                .where(*where)
                .order_by(CampaignContact.line, CampaignContact.id)
                .limit(limit)
                .offset(offset)
            )
            return int(total), list(rows)

    async def settle_transfers(self, campaign: Campaign) -> int:
        """Transfers the operators confirmed since (or that count at once, as the scenario
        says) become notified (autoinformer.campaigns.transfers)."""
        async with self._sessions() as session, session.begin():
            scenario = await session.get(ScenarioRow, campaign.scenario_id)
            rule = transfer_rule_of(scenario.body) if scenario is not None else "confirmed"
            return await settle_transfers(session, campaign.id, rule)

    async def status(self, campaign_id: int) -> CampaignStatus:
        campaign = await self.get(campaign_id)
        await self.settle_transfers(campaign)
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
            attempts=sum(r.attempts for r in rows),
            outage_note=campaign.outage_note,
            pace=campaign_pace(campaign),
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

    async def report(self, campaign_id: int, status: str | None = None) -> Report:
        """The campaign's report; `status` keeps the rows answering one question
        (reports.STATUS_FILTERS: not-notified, not-reached… or a call result)."""
        campaign = await self.get(campaign_id)
        tz = ZoneInfo(campaign.timezone)
        await self.settle_transfers(campaign)
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
            # the calls that were attempts (not the Originates that never went out)
            attempts = list(
                await session.scalars(
                    select(Attempt)
                    .where(
                        Attempt.campaign_id == campaign_id,
                        Attempt.counted.is_(True),
                        Attempt.ended_at.is_not(None),
                    )
                    .order_by(Attempt.started_at, Attempt.id)
                )
            )
        rows = filter_rows(report_rows(contacts, letters, tz, attempts), status)
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
            "timezone": campaign.timezone,
            "filter": status or None,
        }
        return build_report(header, rows)

    async def report_file(
        self, campaign_id: int, fmt: str, status: str | None = None
    ) -> ReportFile:
        """The report as a file for the web's download and `campaign report`: `fmt` is csv,
        json, xlsx or text. Raises CampaignNotFound, ReportFormatError (before any query)."""
        check_format(fmt)
        filter_rows([], status)  # an unknown filter is refused before any query
        report = await self.report(campaign_id, status)
        # a 100,000-row workbook takes seconds of CPU: not on the loop the calls run on
        return await asyncio.to_thread(render, report, fmt)

"""Campaigns and scenarios on the web console: the JSON API and the pages (thin over
`CampaignService` and its scenario store, the services the CLI calls).

Contacts' phones, names and addresses are shown to supervisors (they own the data) but
never logged; every state change is written to the audit log.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

from autoinformer.campaigns.follow_ups import FollowUpService
from autoinformer.campaigns.service import CHANNEL_RU, CHANNELS, CampaignService, CreateResult
from autoinformer.exceptions import (
    AutoinformerError,
    CallListError,
    CampaignNotFound,
    CampaignRefused,
    CampaignStateError,
    ReportFormatError,
    ScenarioError,
    ScenarioNotFound,
)
from autoinformer.lists import EmptyListError, ParsedList, RowNote
from autoinformer.models import Campaign, CampaignContact
from autoinformer.proof import ProofNotFound, ProofService
from autoinformer.reports import CAMPAIGN_RU, DONE_RU, WAITING_RU
from autoinformer.scenarios import KIND_RU, KINDS
from autoinformer.scheduling import STATUS_RU
from autoinformer.web.forms import DEFAULT_SCENARIO, Defaults, FieldError, campaign_spec
from autoinformer.web.preview import PreviewError, preview_text, preview_wav, sample_contact
from autoinformer.web.progress import CampaignProgress
from contact_center.speech import Speech, SynthesisError
from contact_center.web.console import WebConsole
from contact_center.web.routing import ApiError, WebRequest, WebResponse

log = logging.getLogger(__name__)
HERE: Final = Path(__file__).resolve().parent
TEMPLATES: Final = HERE / "templates"
STATIC: Final = HERE / "static"
STATIC_PREFIX: Final = "/ai/static"
STATIC_TYPES: Final = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
ACTIONS: Final = ("start", "pause", "resume", "cancel")
ACTION_DONE: Final = {
    "start": "запущена",
    "pause": "приостановлена",
    "resume": "возобновлена",
    "cancel": "отменена",
}
REPORT_FORMATS: Final = ("csv", "json", "xlsx")
MAX_SCENARIO: Final = 256 * 1024
MAX_PAGE: Final = 500


class Auditor(Protocol):
    async def record(
        self,
        actor_login: str,
        action: str,
        object_type: str = "",
        object_id: str | int = "",
        details: dict[str, Any] | None = None,
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class CampaignWeb:
    """What the campaign pages and API need from the process."""

    campaigns: CampaignService
    proofs: ProofService
    follow_ups: FollowUpService
    progress: CampaignProgress
    speech: Speech
    audit: Auditor
    defaults: Defaults
    # the AMI link and the service as `campaign status` prints them (None: unknown)
    service_line: Callable[[], Awaitable[str | None]]


def refused_campaign(exc: AutoinformerError) -> ApiError:
    """A domain refusal as the API's 4xx, naming the field at fault."""
    if isinstance(exc, CampaignNotFound):
        return ApiError(404, str(exc))
    if isinstance(exc, ProofNotFound):
        return ApiError(404, str(exc), field="account")
    if isinstance(exc, CampaignStateError):
        return ApiError(409, str(exc), field="status")
    if isinstance(exc, ScenarioNotFound):
        return ApiError(422, str(exc), field="scenario")
    if isinstance(exc, EmptyListError):
        return ApiError(422, str(exc), field="list", **notes_json(exc.parsed))
    if isinstance(exc, CallListError):
        return ApiError(422, str(exc), field="list")
    if isinstance(exc, CampaignRefused):
        return ApiError(422, str(exc), field=exc.field)
    if isinstance(exc, ReportFormatError):
        return ApiError(400, str(exc), field="format")
    if isinstance(exc, ScenarioError):
        return ApiError(422, str(exc), field=exc.key)
    return ApiError(422, str(exc))


def _notes(notes: list[RowNote]) -> list[dict[str, Any]]:
    return [{"line": n.line, "reason": n.reason} for n in notes]


def notes_json(parsed: ParsedList) -> dict[str, Any]:
    return {
        "rejected": _notes(parsed.rejected),
        "partial": _notes(parsed.partial),
        "duplicates": _notes(parsed.duplicates),
        "opted_out": _notes(parsed.opted_out),
    }


def campaign_json(campaign: Campaign, counts: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "kind": campaign.kind,
        "kind_ru": KIND_RU.get(campaign.kind, campaign.kind),
        "channel": campaign.channel,
        "status": campaign.status,
        "status_ru": CAMPAIGN_RU.get(campaign.status, campaign.status),
        "start": campaign.start_at.isoformat(),
        "end": campaign.end_at.isoformat() if campaign.end_at else None,
        "started_at": campaign.started_at.isoformat() if campaign.started_at else None,
        "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None,
        "counts": counts
        or {"total": 0, "waiting": 0, "calling": 0, "done": 0, "notified": 0, "letters": 0},
    }


def schedule_json(campaign: Campaign) -> dict[str, Any]:
    return {
        "windows": json.loads(campaign.windows),
        "timezone": campaign.timezone,
        "concurrency": campaign.concurrency,
        "ring_timeout": campaign.ring_timeout,
        "retry": json.loads(campaign.retry),
        "caps": campaign.caps,
        "priority": campaign.priority,
        "outage_start": campaign.outage_start.isoformat() if campaign.outage_start else None,
        "decision_date": campaign.decision_date.isoformat() if campaign.decision_date else None,
        "source": campaign.source,
    }


def contact_json(contact: CampaignContact) -> dict[str, Any]:
    status = contact.state if contact.state != "done" else (contact.status or "")
    return {
        "id": contact.id,
        "line": contact.line,
        "phone": contact.phone,
        "account": contact.account,
        "name": contact.name,
        "state": contact.state,
        "status": status,
        "status_ru": STATUS_RU.get(status, status),
        "notified": contact.notified,
        "attempts": contact.attempts,
        "answered": contact.answered,
        "callback": contact.callback,
        "wait_reason": contact.wait_reason,
        "wait_reason_label": (
            WAITING_RU.get(contact.wait_reason, contact.wait_reason)
            if contact.state == "waiting" and contact.wait_reason
            else DONE_RU.get(contact.wait_reason or "")
        ),
        "next_attempt_at": contact.next_attempt_at.isoformat() if contact.next_attempt_at else None,
        "last_attempt_at": contact.last_attempt_at.isoformat() if contact.last_attempt_at else None,
    }


def _int(request: WebRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name}: нужно целое число", field=name) from None
    if not low <= value <= high:
        raise ApiError(400, f"{name}: от {low} до {high}", field=name)
    return value


def register(web: WebConsole, cw: CampaignWeb) -> None:
    routes, pages = web.routes, web.pages
    campaigns, scenarios = cw.campaigns, cw.campaigns.scenarios
    pages.add_templates(TEMPLATES)
    pages.add_nav("Кампании", "/campaigns", permission="campaigns.read", order=20)
    pages.add_nav("Сценарии", "/scenarios", permission="scenarios.read", order=25)
    static_cache: dict[str, bytes] = {}

    async def call(action: Awaitable[Any]) -> Any:
        try:
            return await action
        except AutoinformerError as exc:
            raise refused_campaign(exc) from None

    # --- static files (the pages' scripts: no inline script passes the CSP) -----------

    @routes.get(STATIC_PREFIX + "/<name>", permission=None)
    async def static(request: WebRequest) -> WebResponse:
        name = str(request.args["name"])
        path = STATIC / name
        kind = STATIC_TYPES.get(path.suffix)
        if kind is None or path.parent != STATIC or name.startswith("."):
            raise ApiError(404, "нет такого файла")
        if name not in static_cache:
            try:
                static_cache[name] = await asyncio.to_thread(path.read_bytes)
            except OSError:
                raise ApiError(404, "нет такого файла") from None
        return WebResponse(static_cache[name], kind)

    # --- campaigns: API ---------------------------------------------------------------

    @routes.get("/api/campaigns", permission="campaigns.read")
    async def list_campaigns(request: WebRequest) -> WebResponse:
        rows = await call(campaigns.list_campaigns())
        counts = await call(campaigns.summaries())
        return WebResponse.json({"campaigns": [campaign_json(c, counts.get(c.id)) for c in rows]})

    @routes.post("/api/campaigns", permission="campaigns.write")
    async def create_campaign(request: WebRequest) -> WebResponse:
        result, spec_name = await _create(request)
        return WebResponse.json(
            {
                "id": result.campaign_id,
                "name": spec_name,
                "contacts": result.contacts,
                "letters": result.letters,
                "end": result.end_at.isoformat() if result.end_at else None,
                **notes_json(result.parsed),
            },
            201,
        )

    async def _create(request: WebRequest) -> tuple[CreateResult, str]:
        try:
            spec = campaign_spec(request.form, cw.defaults)
        except FieldError as exc:
            raise ApiError(422, exc.reason, field=exc.field) from None
        upload = request.files.get("list")
        if upload is not None and not upload.filename and not upload.content:
            upload = None  # a browser's file input left empty
        from_base = upload is None and (
            (request.field("list") or "").strip() == "customers" or spec.outage_id is not None
        )
        if upload is None and not from_base:
            raise ApiError(
                422,
                "нужен список: файл CSV в поле list, list=customers или outage=номер отключения",
                field="list",
            )
        if upload is not None and not upload.content.strip():
            raise ApiError(422, f"файл {upload.filename} пуст", field="list")
        list_name = (
            upload.filename
            if upload is not None
            else f"outage-{spec.outage_id}"
            if spec.outage_id is not None
            else "customers"
        )
        try:
            result = await campaigns.create(
                spec,
                list_data=upload.content if upload is not None else None,
                list_name=list_name,
                from_base=from_base,
            )
        except EmptyListError as exc:
            raise refused_campaign(exc) from None
        except CallListError as exc:
            raise ApiError(422, f"список {list_name}: {exc}", field="list") from None
        except AutoinformerError as exc:
            raise refused_campaign(exc) from None
        await cw.audit.record(
            request.principal.login,
            "campaign.create",
            "campaign",
            str(result.campaign_id),
            {
                "name": spec.name,
                "kind": spec.kind,
                "channel": spec.channel,
                "scenario": spec.scenario,
                "list": list_name,
                "contacts": result.contacts,
                "letters": result.letters,
                "rejected": len(result.parsed.rejected),
            },
        )
        return result, spec.name

    @routes.get("/api/campaigns/<int:campaign_id>", permission="campaigns.read")
    async def show_campaign(request: WebRequest) -> WebResponse:
        return WebResponse.json(await _status(int(request.args["campaign_id"])))

    async def _status(campaign_id: int) -> dict[str, Any]:
        status = await call(campaigns.status(campaign_id))
        campaign = await call(campaigns.get(campaign_id))
        data = status.to_data()
        data["status_ru"] = CAMPAIGN_RU.get(status.status, status.status)
        data["channel_label"] = CHANNEL_RU.get(status.channel, status.channel)
        data["series"] = cw.progress.series(campaign_id)
        data["schedule"] = schedule_json(campaign)
        data["service"] = await cw.service_line()
        return data

    @routes.get("/api/campaigns/<int:campaign_id>/contacts", permission="campaigns.read")
    async def list_contacts(request: WebRequest) -> WebResponse:
        campaign_id = int(request.args["campaign_id"])
        status = (request.arg("status") or "").strip() or None
        if status is not None and status not in STATUS_RU:
            raise ApiError(400, f"неизвестный статус «{status[:40]}»", field="status")
        total, rows = await call(
            campaigns.contacts(
                campaign_id,
                status=status,
                search=(request.arg("q") or "").strip()[:100] or None,
                limit=_int(request, "limit", 100, 1, MAX_PAGE),
                offset=_int(request, "offset", 0, 0, 10_000_000),
            )
        )
        return WebResponse.json({"total": total, "contacts": [contact_json(c) for c in rows]})

    def _transition(action: str) -> Callable[[WebRequest], Awaitable[WebResponse]]:
        async def handle(request: WebRequest) -> WebResponse:
            campaign_id = int(request.args["campaign_id"])
            campaign = await call(getattr(campaigns, action)(campaign_id))
            await cw.audit.record(
                request.principal.login,
                f"campaign.{action}",
                "campaign",
                str(campaign_id),
                {"status": campaign.status},
            )
            return WebResponse.json(
                {
                    "id": campaign_id,
                    "status": campaign.status,
                    "status_ru": CAMPAIGN_RU.get(campaign.status, campaign.status),
                    "message": f"Кампания {campaign_id} {ACTION_DONE[action]}.",
                }
            )

        return handle

    for action in ACTIONS:
        routes.add(
            f"/api/campaigns/<int:campaign_id>/{action}",
            _transition(action),
            methods=("POST",),
            permission="campaigns.write",
        )

    @routes.get("/api/campaigns/<int:campaign_id>/report", permission="campaigns.read")
    async def report(request: WebRequest) -> WebResponse:
        campaign_id = int(request.args["campaign_id"])
        fmt = (request.arg("format") or "csv").lower()
        if fmt not in REPORT_FORMATS:
            raise ApiError(400, "формат отчёта: csv, json или xlsx", field="format")
        # the office formats (BOM, ';', decimal comma; XLSX) the CLI writes too
        # ?status=not-notified: the supervisor's «не дозвонились» list, as `--status`
        status = request.arg("status") or None
        file = await call(campaigns.report_file(campaign_id, fmt, status))
        return WebResponse.file(file.content, file.content_type, file.filename)

    @routes.get("/api/campaigns/<int:campaign_id>/proof", permission="campaigns.read")
    async def proof(request: WebRequest) -> WebResponse:
        """The customer's proof of notification (ZIP: recordings, what was played, the
        attempt log, SHA-256 manifest); every download is in the audit log."""
        campaign_id = int(request.args["campaign_id"])
        account = (request.arg("account") or "").strip()
        if not account:
            raise ApiError(400, "укажите лицевой счёт абонента", field="account")
        if len(account) > 32:
            raise ApiError(400, "лицевой счёт длиннее 32 знаков", field="account")
        pack = await call(cw.proofs.pack(campaign_id, account))
        await cw.audit.record(
            request.principal.login,
            "campaign.proof",
            "campaign",
            str(campaign_id),
            {"account": account, "bytes": len(pack.content), "files": pack.files},
        )
        return WebResponse.file(pack.content, "application/zip", pack.filename)

    @routes.post("/api/campaigns/<int:campaign_id>/follow-up", permission="campaigns.write")
    async def follow_up(request: WebRequest) -> WebResponse:
        """Whom the phone did not reach: a letter where the base has consent, else an
        operator's call-back (`campaign follow-up`); `status` fields narrow it."""
        campaign_id = int(request.args["campaign_id"])
        statuses = [s for s in request.form.get("status", []) if s.strip()]
        if not statuses and request.body.strip().startswith(b"{"):
            statuses = list(request.json().get("status") or [])
        result = await call(cw.follow_ups.create(campaign_id, statuses=statuses or None))
        await cw.audit.record(
            request.principal.login,
            "campaign.follow_up",
            "campaign",
            str(campaign_id),
            {
                "letters": result.letters,
                "callbacks": result.callbacks,
                "letters_campaign": result.letters_campaign_id,
            },
        )
        return WebResponse.json(
            {
                "id": campaign_id,
                "letters": result.letters,
                "callbacks": result.callbacks,
                "letters_campaign": result.letters_campaign_id,
                "message": result.text(),
            }
        )

    # --- scenarios: API ---------------------------------------------------------------

    def scenario_json(row: Any, *, body: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": row.name,
            "version": row.version,
            "ref": f"{row.name}@{row.version}",
            "kind": row.kind,
            "kind_ru": KIND_RU.get(row.kind, row.kind),
            "title": row.title,
            "source": row.source,
            "created_at": row.created_at.isoformat() if row.created_at else None,
        }
        if body:
            data["body"] = json.loads(row.body)
        return data

    @routes.get("/api/scenarios", permission="scenarios.read")
    async def list_scenarios(request: WebRequest) -> WebResponse:
        rows = await call(scenarios.latest())
        return WebResponse.json({"scenarios": [scenario_json(r) for r in rows]})

    @routes.get("/api/scenarios/<name>", permission="scenarios.read")
    async def show_scenario(request: WebRequest) -> WebResponse:
        row, parsed = await call(scenarios.get(str(request.args["name"])))
        data = scenario_json(row, body=True)
        data["fields"] = sorted(parsed.fields)
        data["email"] = parsed.email is not None
        return WebResponse.json(data)

    @routes.post("/api/scenarios", permission="scenarios.write")
    async def add_scenario(request: WebRequest) -> WebResponse:
        upload = request.files.get("file") or request.files.get("scenario")
        if upload is not None:
            raw, source = upload.content, Path(upload.filename or "scenario.toml").name
        elif request.form.get("text"):
            raw, source = request.form["text"][0].encode(), "scenario.toml"
        else:
            raw, source = request.body, "scenario.toml"
        if not raw.strip():
            raise ApiError(422, "пустой сценарий: пришлите текст TOML или файл", field="file")
        if len(raw) > MAX_SCENARIO:
            raise ApiError(413, "сценарий больше 256 КБ", field="file")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ApiError(422, f"{source}: файл должен быть в UTF-8", field="file") from None
        row, created = await call(scenarios.add_text(text, source))
        if created:
            await cw.audit.record(
                request.principal.login,
                "scenario.add",
                "scenario",
                f"{row.name}@{row.version}",
                {"kind": row.kind, "source": source},
            )
        data = scenario_json(row)
        data["created"] = created
        data["message"] = (
            f"Сценарий {row.name} сохранён, версия {row.version}."
            if created
            else f"Сценарий {row.name} не изменился (версия {row.version})."
        )
        return WebResponse.json(data, 201 if created else 200)

    @routes.post("/api/scenarios/<name>/preview", permission="scenarios.read")
    async def preview(request: WebRequest) -> WebResponse:
        _, parsed = await call(scenarios.get(str(request.args["name"])))
        body = request.json() if request.body.strip() else {}
        given = body.get("sample", body)
        if not isinstance(given, dict):
            raise ApiError(400, "образец абонента — объект JSON", field="sample")
        try:
            sample = sample_contact(parsed, given)
            text = preview_text(cw.speech, parsed, sample)
        except PreviewError as exc:
            raise ApiError(422, str(exc), field=exc.field) from None
        return WebResponse.json({"text": text, "sample": sample})

    @routes.get("/api/scenarios/<name>/preview.wav", permission="scenarios.read")
    async def preview_audio(request: WebRequest) -> WebResponse:
        _, parsed = await call(scenarios.get(str(request.args["name"])))
        given = {k: v[0] for k, v in request.query.items() if v}
        try:
            sample = sample_contact(parsed, given)
            audio = await preview_wav(cw.speech, parsed, sample)
        except PreviewError as exc:
            raise ApiError(422, str(exc), field=exc.field) from None
        except SynthesisError as exc:
            log.warning("scenario preview: synthesis failed: %s", exc)
            raise ApiError(503, "синтез речи не удался, попробуйте позже") from None
        return WebResponse(audio, "audio/wav")

    # --- pages ------------------------------------------------------------------------

    @routes.get("/campaigns", permission="campaigns.read", page=True)
    async def campaigns_page(request: WebRequest) -> WebResponse:
        rows = await call(campaigns.list_campaigns())
        counts = await call(campaigns.summaries())
        tz = ZoneInfo(cw.defaults.timezone)
        items = []
        for c in reversed(rows):
            item = campaign_json(c, counts.get(c.id))
            item["channel_ru"] = CHANNEL_RU.get(c.channel, c.channel)
            item["start_local"] = c.start_at.astimezone(tz).strftime("%d.%m.%Y %H:%M")
            item["end_local"] = (
                c.end_at.astimezone(tz).strftime("%d.%m.%Y %H:%M") if c.end_at else "—"
            )
            items.append(item)
        return pages.render(
            request,
            "ai_campaigns.html",
            title="Кампании",
            campaigns=items,
            can_write=web.allowed(request.principal.role, "campaigns.write"),
        )

    @routes.get("/campaigns/new", permission="campaigns.write", page=True)
    async def new_campaign_page(request: WebRequest) -> WebResponse:
        rows = await call(scenarios.latest())
        tz = ZoneInfo(cw.defaults.timezone)
        outages = [
            {
                "id": o.id,
                "title": f"№ {o.id}: {o.starts_at.astimezone(tz):%d.%m %H:%M}–"
                f"{o.ends_at.astimezone(tz):%d.%m %H:%M}, {o.addresses}",
            }
            for o in await campaigns.outages_to_warn()
        ]
        return pages.render(
            request,
            "ai_campaign_new.html",
            outages=outages,
            title="Новая кампания",
            kinds=[(k, KIND_RU[k]) for k in KINDS],
            channels=[(c, CHANNEL_RU[c]) for c in CHANNELS],
            scenarios=[scenario_json(r) for r in rows],
            default_scenario=DEFAULT_SCENARIO,
            ring_timeout=cw.defaults.ring_timeout,
        )

    @routes.get("/campaigns/<int:campaign_id>", permission="campaigns.read", page=True)
    async def campaign_page(request: WebRequest) -> WebResponse:
        campaign_id = int(request.args["campaign_id"])
        data = await _status(campaign_id)
        return pages.render(
            request,
            "ai_campaign.html",
            title=f"Кампания {campaign_id}",
            c=data,
            statuses=STATUS_RU,
            state_ru=CAMPAIGN_RU,
            can_write=web.allowed(request.principal.role, "campaigns.write"),
            initial=json.dumps(data, ensure_ascii=False, default=str),
        )

    @routes.get("/scenarios", permission="scenarios.read", page=True)
    async def scenarios_page(request: WebRequest) -> WebResponse:
        rows = await call(scenarios.latest())
        return pages.render(
            request,
            "ai_scenarios.html",
            title="Сценарии",
            scenarios=[scenario_json(r) for r in rows],
            can_write=web.allowed(request.principal.role, "scenarios.write"),
        )

"""The hotline over HTTP (thin): the live board, the norms report, the appeals journal and its
export, the outages the IVR reads. Pages and the JSON API call the same services as the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from contact_center.clock import Clock
from contact_center.hotline.appeals import AppealService
from contact_center.hotline.board import STATE_RU, HotlineBoard
from contact_center.hotline.exceptions import OutageError
from contact_center.hotline.journal import (
    EXPORT_LIMIT,
    STATUS_RU,
    AppealJournal,
    JournalFilter,
    JournalFilterError,
    parse_day,
    parse_filter,
)
from contact_center.hotline.models import CLASSIFICATION_RU, Outage
from contact_center.hotline.norms import METRICS
from contact_center.hotline.outage_store import OutageService
from contact_center.hotline.outages import (
    KIND_RU,
    make_record,
    parse_affected,
    parse_kind,
    parse_local_datetime,
)
from contact_center.users.audit import AuditLog
from contact_center.users.roles import Permission
from contact_center.web.console import WebConsole
from contact_center.web.routing import ApiError, WebRequest, WebResponse

TEMPLATES = Path(__file__).resolve().parent / "templates"
METRIC_RU = {
    "wait": "Ожидание ответа оператора",
    "lookup": "Поиск информации о клиенте",
    "info": "Предоставление информации",
    "wrapup": "Постобработка",
}
FIELD_RU = {
    "kind": "вид",
    "addresses": "адреса",
    "start": "начало",
    "end": "окончание",
    "reason": "причина",
}
JOURNAL_QUERY = ("from", "to", "class", "operator", "status", "limit", "offset")


def register(
    web: WebConsole,
    *,
    board: HotlineBoard,
    appeals: AppealService,
    journal: AppealJournal,
    outages: OutageService,
    clock: Clock,
    audit: AuditLog,
) -> None:
    routes, pages = web.routes, web.pages
    pages.add_templates(TEMPLATES)
    pages.add_nav("Горячая линия", "/hotline", permission=Permission.HOTLINE_READ, order=20)
    pages.add_nav("Обращения", "/appeals", permission=Permission.HOTLINE_READ, order=25)
    pages.add_nav("Отключения", "/outages", permission=Permission.OUTAGES_READ, order=45)
    tz = clock.tz

    def today() -> date:
        return clock.local_now().date()

    def journal_filter(request: WebRequest, *, max_limit: int | None = None) -> JournalFilter:
        query = {name: request.arg(name) for name in JOURNAL_QUERY}
        try:
            if max_limit is None:
                return parse_filter(query, today())
            return parse_filter(query, today(), max_limit=max_limit)
        except JournalFilterError as exc:
            raise ApiError(400, str(exc), field=exc.field) from None

    # --- pages ------------------------------------------------------------------------

    @routes.get("/hotline", permission=Permission.HOTLINE_READ, page=True)
    async def board_page(request: WebRequest) -> WebResponse:
        return pages.render(
            request,
            "hotline_board.html",
            states=STATE_RU,
            metrics=METRIC_RU,
            norms=board_norms(),
        )

    @routes.get("/appeals", permission=Permission.HOTLINE_READ, page=True)
    async def appeals_page(request: WebRequest) -> WebResponse:
        query = {name: request.arg(name) or "" for name in JOURNAL_QUERY}
        error: ApiError | None = None
        page = None
        try:
            flt = journal_filter(request)
        except ApiError as exc:
            error, flt = exc, JournalFilter(today(), today())
        else:
            page = await journal.page(flt)
        export_query = "&".join(
            f"{name}={_quote(value)}"
            for name, value in query.items()
            if value and name not in ("limit", "offset")
        )
        return pages.render(
            request,
            "appeals.html",
            status=400 if error else 200,
            query=query,
            flt=flt,
            page=page,
            error=error,
            statuses=STATUS_RU,
            classes=CLASSIFICATION_RU,
            export_query=export_query,
        )

    @routes.get("/outages", permission=Permission.OUTAGES_READ, page=True)
    async def outages_page(request: WebRequest) -> WebResponse:
        include_past = request.arg("all") == "1"
        rows = await outages.listing(clock.now(), include_past=include_past)
        return pages.render(
            request,
            "outages.html",
            outages=[outage_json(o) for o in rows],
            include_past=include_past,
            kinds=KIND_RU,
            can_write=web.allowed(request.principal.role, Permission.OUTAGES_WRITE),
        )

    # --- API: board and report ----------------------------------------------------------

    def board_norms() -> dict[str, float]:
        from contact_center.hotline.norms import NORMS

        return {m: NORMS.limit(m) for m in METRICS}

    @routes.get("/api/hotline/board", permission=Permission.HOTLINE_READ)
    async def board_api(request: WebRequest) -> WebResponse:
        latest = board.latest
        if latest is None:
            latest = {"at": clock.now().timestamp(), **await board.build()}
        return WebResponse.json(latest)

    @routes.get("/api/hotline/report", permission=Permission.HOTLINE_READ)
    async def report_api(request: WebRequest) -> WebResponse:
        raw_day = request.arg("date")
        raw_from, raw_to = request.arg("from"), request.arg("to")
        try:
            if raw_day:
                start = end = parse_day(raw_day, "date")
            else:
                start = parse_day(raw_from, "from") if raw_from else today()
                end = parse_day(raw_to, "to") if raw_to else start
        except JournalFilterError as exc:
            raise ApiError(400, str(exc), field=exc.field) from None
        if end < start:
            raise ApiError(400, "дата «по» раньше даты «с»", field="to")
        if (end - start).days > 366:
            raise ApiError(400, "период не длиннее 366 дней", field="to")
        report = await appeals.report(start, end)
        return WebResponse.json(report.as_dict())

    # --- API: appeals journal -------------------------------------------------------------

    @routes.get("/api/appeals", permission=Permission.HOTLINE_READ)
    async def appeals_api(request: WebRequest) -> WebResponse:
        flt = journal_filter(request)
        page = await journal.page(flt)
        return WebResponse.json(
            {
                "from": flt.date_from.isoformat(),
                "to": flt.date_to.isoformat(),
                "total": page.total,
                "limit": flt.limit,
                "offset": flt.offset,
                "appeals": page.rows,
            }
        )

    @routes.get("/api/appeals/export", permission=Permission.HOTLINE_READ)
    async def appeals_export(request: WebRequest) -> WebResponse:
        fmt = (request.arg("format") or "csv").lower()
        if fmt not in ("csv", "xlsx"):
            raise ApiError(400, "формат: csv или xlsx", field="format")
        flt = journal_filter(request, max_limit=EXPORT_LIMIT)
        if (request.arg("form") or "") == "standard":
            # the standard's form (ch. 3 § 3): every appeal of the period, its 11 columns
            made = await appeals.standard_journal().file(flt.date_from, flt.date_to, fmt)
            return WebResponse.file(made.content, made.content_type, made.filename)
        if request.arg("limit") is None:
            flt = JournalFilter(
                flt.date_from,
                flt.date_to,
                flt.classification,
                flt.operator,
                flt.status,
                EXPORT_LIMIT,
                flt.offset,
            )
        page = await journal.page(flt)
        from contact_center.hotline.journal_file import journal_file

        made = await journal_file(page.rows, fmt, flt.date_from, flt.date_to)
        return WebResponse.file(made.content, made.content_type, made.filename)

    # --- API: outages -------------------------------------------------------------------

    def outage_json(o: Outage) -> dict[str, Any]:
        return {
            "id": o.id,
            "kind": o.kind,
            "kind_ru": KIND_RU.get(o.kind, o.kind),
            "addresses": o.addresses,
            "start": o.starts_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            "end": o.ends_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            "reason": o.reason,
            "current": o.starts_at <= clock.now() < o.ends_at,
        }

    @routes.get("/api/outages", permission=Permission.OUTAGES_READ)
    async def outages_api(request: WebRequest) -> WebResponse:
        include_past = request.arg("all") in ("1", "true", "yes")
        rows = await outages.listing(clock.now(), include_past=include_past)
        return WebResponse.json({"outages": [outage_json(o) for o in rows]})

    @routes.post("/api/outages", permission=Permission.OUTAGES_WRITE)
    async def add_outage(request: WebRequest) -> WebResponse:
        body = request.json()
        fields = _outage_fields(body)
        # each field on its own first, so the refusal names the one to fix
        checks = (
            ("kind", lambda: parse_kind(fields["kind"])),
            ("addresses", lambda: parse_affected(fields["addresses"])),
            ("start", lambda: parse_local_datetime(fields["start"], tz)),
            ("end", lambda: parse_local_datetime(fields["end"], tz)),
        )
        for name, check in checks:
            try:
                check()
            except OutageError as exc:
                raise ApiError(422, str(exc), field=name) from None
        try:
            record = make_record(
                fields["kind"],
                fields["addresses"],
                fields["start"],
                fields["end"],
                fields["reason"],
                tz,
            )
        except OutageError as exc:
            raise ApiError(422, str(exc), field="end") from None
        outage_id = await outages.add(record)
        await audit.record(
            request.principal.login,
            "outage.add",
            "outage",
            outage_id,
            {
                "kind": record.kind,
                "addresses": record.addresses,
                "start": fields["start"],
                "end": fields["end"],
            },
        )
        rows = await outages.listing(clock.now(), include_past=True)
        added = next(o for o in rows if o.id == outage_id)
        return WebResponse.json({"outage": outage_json(added)}, 201)

    async def remove_outage(request: WebRequest) -> WebResponse:
        outage_id = int(request.args["outage_id"])
        if not await outages.remove(outage_id):
            raise ApiError(404, f"отключения {outage_id} нет", field="id")
        await audit.record(request.principal.login, "outage.remove", "outage", outage_id)
        return WebResponse.json({"removed": outage_id})

    routes.add(
        "/api/outages/<int:outage_id>/remove",
        remove_outage,
        methods=("POST",),
        permission=Permission.OUTAGES_WRITE,
    )
    routes.add(
        "/api/outages/<int:outage_id>",
        remove_outage,
        methods=("DELETE",),
        permission=Permission.OUTAGES_WRITE,
    )


def _outage_fields(body: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, required in (
        ("kind", False),
        ("addresses", True),
        ("start", True),
        ("end", True),
        ("reason", False),
    ):
        value = body.get(name)
        if value is None or value == "":
            if required:
                raise ApiError(422, f"не заполнено поле «{FIELD_RU[name]}»", field=name)
            value = "planned" if name == "kind" else ""
        if not isinstance(value, str):
            raise ApiError(422, f"{FIELD_RU[name]}: ожидается строка", field=name)
        if len(value) > 4000:
            raise ApiError(422, f"{FIELD_RU[name]}: слишком длинное значение", field=name)
        out[name] = value
    return out


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")

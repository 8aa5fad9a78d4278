"""The customer base over HTTP (thin): import a file (all or nothing, every bad line named),
search, show one. The same reader and service as `contact-center customers import`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contact_center.customers.csv_import import CustomerReader, FileRefused, RowError
from contact_center.customers.services import CustomerService
from contact_center.customers.views import customer_data
from contact_center.users.audit import AuditLog
from contact_center.users.roles import Permission
from contact_center.web.console import WebConsole
from contact_center.web.routing import ApiError, WebRequest, WebResponse

TEMPLATES = Path(__file__).resolve().parent / "templates"
SEARCH_LIMIT = 50
MAX_QUERY = 100


def _errors(errors: list[RowError]) -> list[dict[str, Any]]:
    return [{"line": e.line, "reason": e.reason, "text": str(e)} for e in errors]


def register(web: WebConsole, customers: CustomerService, *, audit: AuditLog, region: str) -> None:
    routes, pages = web.routes, web.pages
    pages.add_templates(TEMPLATES)
    pages.add_nav("Клиенты", "/customers", permission=Permission.CUSTOMERS_READ, order=40)

    def query_of(request: WebRequest) -> str:
        q = (request.arg("q") or "").strip()
        if len(q) > MAX_QUERY:
            raise ApiError(400, f"запрос длиннее {MAX_QUERY} знаков", field="q")
        return q

    # --- pages ------------------------------------------------------------------------

    @routes.get("/customers", permission=Permission.CUSTOMERS_READ, page=True)
    async def customers_page(request: WebRequest) -> WebResponse:
        q = query_of(request)
        found = await customers.search(q, limit=SEARCH_LIMIT) if q else []
        return pages.render(
            request,
            "customers.html",
            q=q,
            found=[customer_data(c) for c in found],
            total=await customers.count(),
            limit=SEARCH_LIMIT,
            can_write=web.allowed(request.principal.role, Permission.CUSTOMERS_WRITE),
        )

    @routes.get("/customers/<account>", permission=Permission.CUSTOMERS_READ, page=True)
    async def customer_page(request: WebRequest) -> WebResponse:
        account = str(request.args["account"])
        customer = await customers.get(account)
        if customer is None:
            raise ApiError(404, f"потребителя с лицевым счётом {account} нет", field="account")
        return pages.render(request, "customer.html", c=customer_data(customer))

    # --- API --------------------------------------------------------------------------

    @routes.get("/api/customers", permission=Permission.CUSTOMERS_READ)
    async def search(request: WebRequest) -> WebResponse:
        q = query_of(request)
        if not q:
            raise ApiError(400, "укажите, что искать: счёт, ФИО, телефон или адрес", field="q")
        found = await customers.search(q, limit=SEARCH_LIMIT)
        return WebResponse.json(
            {"q": q, "limit": SEARCH_LIMIT, "customers": [customer_data(c) for c in found]}
        )

    @routes.get("/api/customers/<account>", permission=Permission.CUSTOMERS_READ)
    async def show(request: WebRequest) -> WebResponse:
        account = str(request.args["account"])
        customer = await customers.get(account)
        if customer is None:
            raise ApiError(404, f"потребителя с лицевым счётом {account} нет", field="account")
        return WebResponse.json({"customer": customer_data(customer)})

    @routes.post("/api/customers/import", permission=Permission.CUSTOMERS_WRITE)
    async def import_file(request: WebRequest) -> WebResponse:
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ApiError(400, "выберите файл CSV", field="file")
        name = Path(upload.filename).name
        reader = CustomerReader(upload.content, region=region)
        if not reader.ok:
            raise ApiError(
                422,
                f"Файл {name} не загружен: {reader.errors[0]}",
                field="file",
                errors=_errors(reader.errors),
            )
        try:
            # one transaction: a bad line anywhere rolls the whole file back
            summary = await customers.import_rows(reader.checked())
        except FileRefused as refused:
            raise ApiError(
                422,
                f"Файл {name} не загружен: ошибок {len(refused.errors)}",
                field="file",
                errors=_errors(refused.errors),
            ) from None
        if summary.total == 0:
            raise ApiError(422, f"В файле {name} нет ни одного потребителя", field="file")
        await audit.record(
            request.principal.login,
            "customers.import",
            "customers",
            name[:64],
            {"created": summary.created, "updated": summary.updated, "encoding": reader.encoding},
        )
        return WebResponse.json(
            {
                "created": summary.created,
                "updated": summary.updated,
                "total": summary.total,
                "encoding": reader.encoding,
            }
        )

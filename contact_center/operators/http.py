"""The operator's desk over HTTP (thin): the page and its JSON API.

Every action is the signed-in user's own: the operator code comes from their account
(`Principal.operator_code`), never from the request, so nobody acts for another operator.
The calls are the same services the CLI's `operator ...` commands use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, time
from pathlib import Path
from typing import Any, TypeVar

from contact_center.hotline.appeals import parse_classification
from contact_center.hotline.exceptions import AppealNotFound
from contact_center.hotline.models import CLASSIFICATION_RU, Classification
from contact_center.operators.desk import STATE_RU, DeskService
from contact_center.operators.dialout import OperatorPhones
from contact_center.operators.exceptions import (
    OperatorStateError,
    PhoneUnavailable,
    QueueControlError,
    UnknownOperator,
)
from contact_center.operators.models import OperatorState
from contact_center.telephony.exceptions import OriginateNotSent, TelephonyError
from contact_center.telephony.numbers import InvalidPhoneNumber
from contact_center.users.roles import Permission
from contact_center.web.console import WebConsole
from contact_center.web.routing import ApiError, WebRequest, WebResponse

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_TEXT = 2000
MAX_QUERY = 100
T = TypeVar("T")

NOT_LINKED = (
    "Ваша учётная запись не связана с кодом оператора: рабочее место оператора недоступно. "
    "Попросите администратора указать код оператора (contact-center user add --operator КОД)."
)


def operator_code(request: WebRequest) -> str:
    code = request.principal.operator_code
    if not code:
        raise ApiError(403, NOT_LINKED)
    return code


async def refusals(action: Awaitable[T]) -> T:
    """The services' refusals as 4xx with their Russian reason."""
    try:
        return await action
    except UnknownOperator as exc:
        raise ApiError(404, str(exc), error_id=exc.error_id) from None
    except PhoneUnavailable as exc:
        raise ApiError(422, str(exc), field="interface", error_id=exc.error_id) from None
    except (OperatorStateError, QueueControlError) as exc:
        raise ApiError(409, str(exc), error_id=exc.error_id) from None
    except AppealNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except InvalidPhoneNumber as exc:
        raise ApiError(422, f"неверный номер телефона: {exc}", field="number") from None
    except OriginateNotSent as exc:
        raise ApiError(409, f"Asterisk не принял вызов: {exc}") from None
    except TelephonyError as exc:
        raise ApiError(409, f"нет связи с Asterisk: {exc}") from None


def text_field(body: dict[str, Any], name: str, *, limit: int = MAX_TEXT) -> str:
    value = body.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(400, "ожидался текст", field=name)
    if len(value) > limit:
        raise ApiError(422, f"не длиннее {limit} знаков", field=name)
    return value.strip()


def own_body(request: WebRequest) -> dict[str, Any]:
    """The JSON body; one that names another operator is refused (no acting for others)."""
    body = request.json() if request.body else {}
    other = body.get("operator")
    if other is not None and other != request.principal.operator_code:
        raise ApiError(403, "действовать можно только за себя", field="operator")
    return body


def register(web: WebConsole, desk: DeskService, phones: OperatorPhones) -> None:
    routes, pages = web.routes, web.pages
    operators = desk.operators
    pages.add_templates(TEMPLATES)
    pages.add_nav("Рабочее место", "/desk", permission=Permission.DESK, order=5)

    def action(
        path: str,
    ) -> Callable[[Callable[[WebRequest, str, dict[str, Any]], Awaitable[Any]]], None]:
        """A POST /api/desk/... that does something as the user's operator and answers the
        desk's state afterwards."""

        def wrap(fn: Callable[[WebRequest, str, dict[str, Any]], Awaitable[Any]]) -> None:
            async def handler(request: WebRequest) -> WebResponse:
                code = operator_code(request)
                body = own_body(request)
                extra = await refusals(fn(request, code, body))
                state = await refusals(desk.state(code))
                if isinstance(extra, dict):
                    state.update(extra)
                return WebResponse.json(state)

            routes.add(path, handler, methods=("POST",), permission=Permission.DESK)

        return wrap

    # --- the page ---------------------------------------------------------------------

    @routes.get("/desk", permission=Permission.DESK, page=True)
    async def desk_page(request: WebRequest) -> WebResponse:
        code = operator_code(request)
        op = await refusals(operators.get(code))
        return pages.render(
            request,
            "desk.html",
            op=op,
            state_ru=STATE_RU.get(op.state, op.state),
            classes=[(c.value, CLASSIFICATION_RU[c.value]) for c in Classification],
            norms=desk.norms_s(),
        )

    # --- state and look-ups -----------------------------------------------------------

    @routes.get("/api/desk/state", permission=Permission.DESK)
    async def state(request: WebRequest) -> WebResponse:
        return WebResponse.json(await refusals(desk.state(operator_code(request))))

    @routes.get("/api/desk/customers", permission=Permission.DESK)
    async def search(request: WebRequest) -> WebResponse:
        operator_code(request)
        q = (request.arg("q") or "").strip()
        if not q:
            raise ApiError(400, "укажите лицевой счёт или адрес", field="q")
        if len(q) > MAX_QUERY:
            raise ApiError(400, f"запрос длиннее {MAX_QUERY} знаков", field="q")
        return WebResponse.json({"q": q, "customers": await desk.search(q)})

    @routes.get("/api/desk/customers/<account>", permission=Permission.DESK)
    async def card(request: WebRequest) -> WebResponse:
        operator_code(request)
        account = str(request.args["account"])
        found = await desk.customer_card(account)
        if found is None:
            raise ApiError(404, f"потребителя с лицевым счётом {account} нет", field="account")
        return WebResponse.json({"customer": found})

    @routes.get("/api/desk/callbacks", permission=Permission.DESK)
    async def callbacks(request: WebRequest) -> WebResponse:
        operator_code(request)
        return WebResponse.json({"callbacks": await desk.callbacks()})

    # --- queue ------------------------------------------------------------------------

    @action("/api/desk/ready")
    async def ready(request: WebRequest, code: str, body: dict[str, Any]) -> None:
        """«Готов»: join the queue (with the phone given, or the recorded one) or unpause."""
        op = await operators.get(code)
        interface = text_field(body, "interface", limit=128) or op.interface
        if op.state == OperatorState.LOGGED_OUT or interface != op.interface:
            if op.state != OperatorState.LOGGED_OUT:
                raise OperatorStateError(
                    "чтобы сменить телефон, сначала выйдите из очереди, затем войдите с новым"
                )
            await operators.login(code, interface, op.name)
        elif op.state == OperatorState.PAUSED or op.pause_after_call:
            await operators.unpause(code)
        elif op.state == OperatorState.AVAILABLE:
            # the desk says ready; make sure Asterisk still can ring the phone
            await operators.check_phone(op.interface)

    @action("/api/desk/pause")
    async def pause(request: WebRequest, code: str, body: dict[str, Any]) -> None:
        reason = text_field(body, "reason", limit=64)
        if not reason:
            raise ApiError(422, "укажите причину паузы", field="reason")
        await operators.pause(code, reason)

    @action("/api/desk/logout")
    async def logout(request: WebRequest, code: str, body: dict[str, Any]) -> None:
        await operators.logout(code)

    # --- the call's steps -------------------------------------------------------------

    def classification_of(body: dict[str, Any]) -> str | None:
        raw = text_field(body, "classification", limit=8)
        if not raw:
            return None
        try:
            return parse_classification(raw)
        except ValueError as exc:
            raise ApiError(422, str(exc), field="classification") from None

    @action("/api/desk/lookup-done")
    async def lookup_done(request: WebRequest, code: str, body: dict[str, Any]) -> None:
        await operators.lookup_done(code)

    @action("/api/desk/info-done")
    async def info_done(request: WebRequest, code: str, body: dict[str, Any]) -> None:
        await operators.info_done(code)

    @action("/api/desk/classify")
    async def classify(request: WebRequest, code: str, body: dict[str, Any]) -> None:
        await operators.classify(code, classification_of(body), text_field(body, "summary"))

    @action("/api/desk/wrap-up-done")
    async def wrap_up_done(request: WebRequest, code: str, body: dict[str, Any]) -> None:
        classification = classification_of(body)
        summary = text_field(body, "summary")
        if classification is None:
            raise ApiError(422, "выберите классификацию обращения", field="classification")
        await operators.wrap_up_done(code, classification, summary)

    @action("/api/desk/book")
    async def book(request: WebRequest, code: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            day = date.fromisoformat(text_field(body, "day", limit=10))
        except ValueError:
            raise ApiError(422, "дата приёма: ГГГГ-ММ-ДД", field="day") from None
        try:
            at = time.fromisoformat(text_field(body, "time", limit=8))
        except ValueError:
            raise ApiError(422, "время приёма: ЧЧ:ММ", field="time") from None
        office = text_field(body, "office", limit=200)
        if not office:
            raise ApiError(422, "укажите офис обслуживания", field="office")
        booking = await operators.book(code, day, at, office, text_field(body, "note"))
        return {"booking": booking}

    # --- call-backs -------------------------------------------------------------------

    @action("/api/desk/callback")
    async def call_back(request: WebRequest, code: str, body: dict[str, Any]) -> dict[str, Any]:
        number = text_field(body, "number", limit=32)
        if not number:
            raise ApiError(422, "нет номера, по которому перезвонить", field="number")
        placed = await phones.call_back(code, number)
        return {"callback": {"channel_id": placed.channel_id}}

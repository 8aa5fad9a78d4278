"""Logging in and out, and managing users (admins), over HTTP: thin, on `Users`' services."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from contact_center.users.exceptions import (
    AuthError,
    LoginThrottled,
    SessionInvalid,
    UserError,
)
from contact_center.users.roles import ROLE_RU, Permission, Role
from contact_center.users.services import IssuedSession, UserInfo, Users
from contact_center.web.console import WebConsole
from contact_center.web.routing import ApiError, Principal, WebRequest, WebResponse

HOME_OF = {Role.OPERATOR: "/", Role.SUPERVISOR: "/", Role.ADMIN: "/"}


class SessionAdapter:
    """The site's view of a session cookie."""

    def __init__(self, users: Users) -> None:
        self._users = users

    async def principal(self, session_id: str) -> Principal | None:
        try:
            info = await self._users.sessions.resolve(session_id)
        except SessionInvalid:
            return None
        return Principal(
            login=info.login,
            role=info.role.value,
            csrf=info.csrf,
            operator_code=info.user.operator_code,
        )


def user_json(user: UserInfo) -> dict[str, Any]:
    data = asdict(user)
    data["role"] = user.role.value
    data["role_ru"] = ROLE_RU[user.role]
    return data


def _refusal(exc: UserError) -> ApiError:
    if isinstance(exc, LoginThrottled):
        return ApiError(429, str(exc), field="login", retry_after=exc.retry_after)
    status = 401 if isinstance(exc, AuthError) else 422
    if type(exc).__name__ in ("UnknownUser",):
        status = 404
    if type(exc).__name__ in ("DuplicateLogin", "LastAdmin"):
        status = 409
    if type(exc).__name__ == "AccountDisabled":
        status = 403
    return ApiError(status, str(exc), field=getattr(exc, "field", None))


def register(web: WebConsole, users: Users) -> None:
    routes, pages = web.routes, web.pages
    pages.add_nav("Пользователи", "/users", permission=Permission.USERS_MANAGE, order=90)

    async def login(request: WebRequest, login: str, password: str) -> IssuedSession:
        try:
            issued = await users.users.authenticate(login, password, request.address)
        except UserError as exc:
            raise _refusal(exc) from None
        request.new_session = (
            issued.session_id,
            int(users.sessions.policy.max_age.total_seconds()),
        )
        return issued

    # --- pages ------------------------------------------------------------------------

    @routes.get("/login", permission=None, page=True)
    async def login_page(request: WebRequest) -> WebResponse:
        if request.user is not None:
            return WebResponse.redirect(HOME_OF.get(Role(request.user.role), "/"))
        return pages.render(request, "login.html", error=None, login="")

    @routes.post("/login", permission=None, page=True)
    async def login_form(request: WebRequest) -> WebResponse:
        name = request.field("login") or ""
        try:
            issued = await login(request, name, request.field("password") or "")
        except ApiError as exc:
            return pages.render(request, "login.html", exc.status, error=exc.reason, login=name)
        return WebResponse.redirect(HOME_OF.get(issued.user.role, "/"))

    @routes.post("/logout", permission=None, page=True)
    async def logout_form(request: WebRequest) -> WebResponse:
        await _logout(request)
        return WebResponse.redirect("/login")

    @routes.get("/users", permission=Permission.USERS_MANAGE, page=True)
    async def users_page(request: WebRequest) -> WebResponse:
        listed = await users.users.list()
        return pages.render(request, "users.html", users=listed, roles=ROLE_RU)

    # --- API --------------------------------------------------------------------------

    @routes.post("/api/login", permission=None)
    async def api_login(request: WebRequest) -> WebResponse:
        body = request.json()
        name, password = body.get("login"), body.get("password")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "укажите логин", field="login")
        if not isinstance(password, str) or not password:
            raise ApiError(400, "укажите пароль", field="password")
        issued = await login(request, name, password)
        return WebResponse.json({"user": user_json(issued.user), "csrf": issued.csrf})

    @routes.post("/api/logout", permission=None)
    async def api_logout(request: WebRequest) -> WebResponse:
        await _logout(request)
        return WebResponse.json({"ok": True})

    async def _logout(request: WebRequest) -> None:
        if request.user is None:
            request.end_session = True
            return
        # only the session's own pages may end it (a forged POST cannot log anyone out)
        token = request.headers.get("x-csrf-token") or request.field("csrf")
        if token != request.user.csrf:
            raise ApiError(403, "нет или неверный CSRF-токен", field="csrf")
        await users.sessions.logout(request.session_id)
        request.end_session = True

    @routes.get("/api/me", permission=None)
    async def me(request: WebRequest) -> WebResponse:
        user = request.principal
        return WebResponse.json(
            {
                "login": user.login,
                "role": user.role,
                "operator_code": user.operator_code,
                "csrf": user.csrf,
                "permissions": sorted(p.value for p in Permission if web.allowed(user.role, p)),
            }
        )

    @routes.get("/api/users", permission=Permission.USERS_MANAGE)
    async def list_users(request: WebRequest) -> WebResponse:
        return WebResponse.json({"users": [user_json(u) for u in await users.users.list()]})

    @routes.post("/api/users", permission=Permission.USERS_MANAGE)
    async def add_user(request: WebRequest) -> WebResponse:
        body = request.json()
        try:
            added = await users.users.add(
                str(body.get("login") or ""),
                str(body.get("role") or ""),
                str(body.get("password") or ""),
                actor=request.principal.login,
                operator_code=body.get("operator_code") or None,
            )
        except UserError as exc:
            raise _refusal(exc) from None
        return WebResponse.json({"user": user_json(added)}, 201)

    async def change(request: WebRequest, action: str) -> WebResponse:
        login_ = str(request.args["login"])
        actor = request.principal.login
        try:
            if action == "disable":
                changed = await users.users.disable(login_, actor=actor)
            elif action == "enable":
                changed = await users.users.enable(login_, actor=actor)
            elif action == "passwd":
                password = request.json().get("password")
                if not isinstance(password, str):
                    raise ApiError(400, "укажите пароль", field="password")
                changed = await users.users.passwd(login_, password, actor=actor)
            else:
                role = request.json().get("role")
                changed = await users.users.set_role(login_, str(role or ""), actor=actor)
        except UserError as exc:
            raise _refusal(exc) from None
        return WebResponse.json({"user": user_json(changed)})

    for action in ("disable", "enable", "passwd", "role"):

        async def handler(request: WebRequest, action: str = action) -> WebResponse:
            return await change(request, action)

        routes.add(
            f"/api/users/<login>/{action}",
            handler,
            methods=("POST",),
            permission=Permission.USERS_MANAGE,
        )

    @routes.get("/api/audit", permission=Permission.AUDIT_READ)
    async def audit(request: WebRequest) -> WebResponse:
        from contact_center.users.audit import AuditFilter

        limit = _int(request.arg("limit"), 200, "limit")
        records = await users.audit.list(AuditFilter(limit=min(limit, 1000)))
        return WebResponse.json({"audit": [asdict(r) for r in records]})


def _int(raw: str | None, default: int, field: str) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{field}: ожидается целое число", field=field) from None
    if value < 1:
        raise ApiError(400, f"{field}: ожидается число больше 0", field=field)
    return value

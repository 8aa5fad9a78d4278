"""Server-rendered pages (Jinja2): the console's layout, navigation and error page.

Each domain (and plugin) adds its templates folder and its menu entries; a page handler
calls `render`, which adds the user, their CSRF token and the menu they may see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jinja2

from contact_center.web.routing import WebRequest, WebResponse

TEMPLATES = Path(__file__).resolve().parent / "templates"
ERROR_TITLES = {
    400: "Неверный запрос",
    401: "Нужно войти",
    403: "Недостаточно прав",
    404: "Не найдено",
    405: "Метод не поддерживается",
    409: "Конфликт",
    413: "Слишком большой запрос",
    422: "Отклонено",
    429: "Слишком много попыток",
    500: "Внутренняя ошибка",
}


@dataclass(frozen=True, slots=True)
class NavItem:
    title: str
    href: str
    permission: str
    order: int


class Pages:
    def __init__(self, allowed: Callable[[str, str], bool]) -> None:
        self._allowed = allowed
        self._dirs: list[Path] = [TEMPLATES]
        self._nav: list[NavItem] = []
        self._env: jinja2.Environment | None = None

    def add_templates(self, folder: Path) -> None:
        if self._env is not None:
            raise RuntimeError("templates are added before the first page is rendered")
        self._dirs.append(folder)

    def add_nav(self, title: str, href: str, *, permission: str, order: int = 50) -> None:
        self._nav.append(NavItem(title, href, permission, order))

    def nav_for(self, role: str) -> list[NavItem]:
        items = [item for item in self._nav if self._allowed(role, item.permission)]
        return sorted(items, key=lambda item: item.order)

    @property
    def env(self) -> jinja2.Environment:
        if self._env is None:
            self._env = jinja2.Environment(
                loader=jinja2.FileSystemLoader([str(d) for d in self._dirs]),
                autoescape=True,
                undefined=jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
            )
            self._env.filters["money"] = _money
            self._env.filters["ru_date"] = _ru_date
        return self._env

    def render(
        self, request: WebRequest, template: str, status: int = 200, **context: Any
    ) -> WebResponse:
        user = request.user
        html = self.env.get_template(template).render(
            user=user,
            csrf=user.csrf if user is not None else "",
            nav=self.nav_for(user.role) if user is not None else [],
            path=request.path,
            **context,
        )
        return WebResponse.html(html, status)

    def error(self, request: WebRequest, status: int, reason: str) -> WebResponse:
        title = ERROR_TITLES.get(status, "Ошибка")
        return self.render(request, "error.html", status, title=title, reason=reason)


def _money(value: object) -> str:
    """1234.5 -> '1 234,50' (Russian grouping with a non-breaking space)."""
    if value is None or value == "":
        return ""
    text = f"{float(str(value)):,.2f}"
    return text.replace(",", "\u00a0").replace(".", ",")


def _ru_date(value: object) -> str:
    """A date (or its ISO text) as a Russian reader writes it: 2026-11-01 -> 01.11.2026."""
    if value is None or value == "":
        return ""
    text = value.isoformat() if isinstance(value, date) else str(value)
    try:
        return date.fromisoformat(text[:10]).strftime("%d.%m.%Y")
    except ValueError:
        return text

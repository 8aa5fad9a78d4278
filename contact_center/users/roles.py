"""Roles and what each may do, as plain data: the web asks `allowed(role, permission)` before
every page and API call.

Operators reach only their desk; supervisors reach everything but user management; admins
reach all. A permission the table does not know is a programming error (a typo in the web
would otherwise deny or allow silently), so it raises.
"""

from __future__ import annotations

from enum import StrEnum

from contact_center.users.exceptions import InvalidRole, PermissionDenied


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


ROLE_RU = {
    Role.OPERATOR: "оператор",
    Role.SUPERVISOR: "супервизор",
    Role.ADMIN: "администратор",
}


class Permission(StrEnum):
    # the operator's own desk (calls, post-call work, pause)
    DESK = "desk"
    CAMPAIGNS_READ = "campaigns.read"
    # create, start, pause, resume, cancel campaigns
    CAMPAIGNS_WRITE = "campaigns.write"
    SCENARIOS_READ = "scenarios.read"
    SCENARIOS_WRITE = "scenarios.write"
    # the live board, the hotline report, the appeals journal and its export
    HOTLINE_READ = "hotline.read"
    CUSTOMERS_READ = "customers.read"
    CUSTOMERS_WRITE = "customers.write"
    OUTAGES_READ = "outages.read"
    OUTAGES_WRITE = "outages.write"
    # add, disable, enable users, set passwords and roles
    USERS_MANAGE = "users.manage"
    AUDIT_READ = "audit.read"
    # the live event stream (each role sees the keys its other permissions allow)
    EVENTS = "events"


ALL_PERMISSIONS = frozenset(Permission)

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset({Permission.DESK, Permission.EVENTS}),
    Role.SUPERVISOR: ALL_PERMISSIONS - {Permission.USERS_MANAGE},
    Role.ADMIN: ALL_PERMISSIONS,
}


def parse_role(raw: str) -> Role:
    try:
        return Role(raw.strip().lower())
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidRole(f"роль «{raw}» неизвестна: допустимы {choices}") from None


def allowed(role: Role | str, permission: Permission | str) -> bool:
    """May a user with `role` do `permission`? Unknown names raise ValueError."""
    return Permission(permission) in PERMISSIONS[Role(role)]


def require(role: Role | str, permission: Permission | str) -> None:
    """`allowed` that raises PermissionDenied (Russian message) instead of answering False."""
    if not allowed(role, permission):
        raise PermissionDenied("недостаточно прав для этого действия")


def permissions_of(role: Role | str) -> frozenset[Permission]:
    return PERMISSIONS[Role(role)]

"""The permissions table: operators reach only their desk, supervisors all but users, admins all."""

from __future__ import annotations

import pytest

from contact_center.users.exceptions import InvalidRole, PermissionDenied
from contact_center.users.roles import (
    ALL_PERMISSIONS,
    Permission,
    Role,
    allowed,
    parse_role,
    permissions_of,
    require,
)


def test_an_operator_reaches_only_the_desk_and_its_live_events() -> None:
    assert permissions_of(Role.OPERATOR) == {Permission.DESK, Permission.EVENTS}
    for permission in ALL_PERMISSIONS - {Permission.DESK, Permission.EVENTS}:
        assert not allowed("operator", permission)


def test_a_supervisor_reaches_everything_but_user_management() -> None:
    assert not allowed("supervisor", "users.manage")
    for permission in ALL_PERMISSIONS - {Permission.USERS_MANAGE}:
        assert allowed(Role.SUPERVISOR, permission), permission


def test_an_admin_reaches_everything() -> None:
    assert all(allowed("admin", p) for p in ALL_PERMISSIONS)


def test_the_names_the_web_uses_exist() -> None:
    names = {p.value for p in Permission}
    assert {
        "desk",
        "campaigns.read",
        "campaigns.write",
        "hotline.read",
        "customers.read",
        "customers.write",
        "outages.write",
        "scenarios.write",
        "users.manage",
        "audit.read",
    } <= names


def test_an_unknown_permission_or_role_is_a_programming_error_not_a_silent_no() -> None:
    with pytest.raises(ValueError):
        allowed("admin", "campaign.write")
    with pytest.raises(ValueError):
        allowed("root", "desk")


def test_require_raises_permission_denied_in_russian() -> None:
    require("supervisor", "campaigns.write")
    with pytest.raises(PermissionDenied, match="недостаточно прав"):
        require("operator", "campaigns.read")


def test_roles_are_parsed_case_insensitively_and_a_bad_one_is_named() -> None:
    assert parse_role(" Supervisor ") is Role.SUPERVISOR
    with pytest.raises(
        InvalidRole, match="«boss» неизвестна: допустимы operator, supervisor, admin"
    ):
        parse_role("boss")

"""Logging in and out, sessions, roles, CSRF and login throttling over real HTTP."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import Client, Console

pytestmark = pytest.mark.integration


async def test_login_sets_an_httponly_strict_cookie_and_me_answers(console: Console) -> None:
    await console.app.users.users.add("anna", "supervisor", "пароль-для-тестов-1", actor="test")
    client = console.client()
    reply = await client.login("anna")
    assert reply.status == 200, reply.text
    cookie = reply.cookies[0].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie, "plain HTTP on loopback: no Secure flag"
    me = (await client.get("/api/me")).json()
    assert me["login"] == "anna" and me["role"] == "supervisor"
    assert "campaigns.write" in me["permissions"] and "users.manage" not in me["permissions"]


async def test_a_wrong_password_is_401_with_a_reason_and_no_cookie(console: Console) -> None:
    await console.user("boris", "supervisor")
    client = console.client()
    reply = await client.login("boris", "не тот пароль")
    assert reply.status == 401
    assert reply.json() == {"error": "неверный логин или пароль", "field": reply.json()["field"]}
    assert reply.cookies == [] and (await client.get("/api/me")).status == 401


async def test_five_failures_a_minute_lock_the_login_out_even_with_the_right_password(
    console: Console,
) -> None:
    await console.user("vera", "supervisor")
    client = console.client()
    for _ in range(5):
        assert (await client.login("vera", "неверный-пароль")).status == 401
    reply = await client.login("vera")
    assert reply.status == 429
    assert reply.json()["retry_after"] > 0 and reply.json()["field"] == "login"


async def test_roles_operators_reach_only_their_desk_supervisors_not_users(
    console: Console,
) -> None:
    operator = await console.user("oleg", "operator")
    supervisor = await console.user("sveta", "supervisor")
    admin = await console.user("adam", "admin")
    assert (await operator.get("/api/users")).status == 403
    assert (await supervisor.get("/api/users")).status == 403
    assert (await admin.get("/api/users")).status == 200
    assert (await console.client().get("/api/users")).status == 401
    denied = await operator.get("/api/users")
    assert denied.json() == {"error": "недостаточно прав", "field": None}


async def test_state_changes_need_the_sessions_csrf_token(console: Console) -> None:
    admin = await console.user("alla", "admin")
    body = {"login": "new.user", "role": "operator", "password": "длинный-пароль"}
    missing = await admin.post("/api/users", body, csrf=False)
    assert missing.status == 403 and missing.json()["field"] == "csrf"
    wrong = await admin.post("/api/users", body, headers={"X-CSRF-Token": "x" * 40}, csrf=False)
    assert wrong.status == 403
    assert (await admin.get("/api/users")).json()["users"][-1]["login"] != "new.user"
    made = await admin.post("/api/users", body)
    assert made.status == 201, made.text
    assert made.json()["user"]["login"] == "new.user"


async def test_a_post_from_another_sites_page_is_refused(console: Console) -> None:
    admin = await console.user("alik", "admin")
    admin.origin = "http://evil.example"
    reply = await admin.post("/api/users/alik/disable", {})
    assert reply.status == 403 and "чужого сайта" in reply.json()["error"]


async def test_logout_ends_the_session_server_side(console: Console) -> None:
    client = await console.user("gleb", "supervisor")
    stolen = Client(console.port, cookies=dict(client.cookies))
    assert (await client.post("/api/logout", {})).status == 200
    assert (await stolen.get("/api/me")).status == 401, "the old cookie is dead everywhere"


async def test_disabling_a_user_ends_their_sessions_and_is_audited(console: Console) -> None:
    admin = await console.user("root.admin", "admin")
    victim = await console.user("dina", "supervisor")
    reply = await admin.post("/api/users/dina/disable", {})
    assert reply.status == 200 and reply.json()["user"]["disabled"] is True
    assert (await victim.get("/api/me")).status == 401
    audit = (await admin.get("/api/audit")).json()["audit"]
    assert any(
        a["actor"] == "root.admin" and a["action"] == "user.disable" and a["object_id"] == "dina"
        for a in audit
    )


async def test_errors_are_json_with_a_reason_never_a_traceback(console: Console) -> None:
    admin = await console.user("ivan.admin", "admin")
    bad = await admin.request(
        "POST", "/api/users", body=b"{not json", content_type="application/json"
    )
    assert bad.status == 400 and bad.json()["error"] == "тело запроса — не JSON"
    weak = await admin.post("/api/users", {"login": "x1y", "role": "operator", "password": "1"})
    assert weak.status == 422 and weak.json()["field"] == "password"
    missing = await admin.get("/api/nothing-here")
    assert missing.status == 404 and missing.json()["error"]
    assert b"Traceback" not in bad.body + weak.body + missing.body


async def test_pages_redirect_to_login_and_the_login_form_works(console: Console) -> None:
    await console.user("petr", "supervisor")
    client = console.client()
    reply = await client.get("/users")
    assert reply.status == 303 and reply.headers["location"] == "/login"
    page = await client.get("/login")
    assert page.status == 200 and "Вход" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    wrong = await client.request(
        "POST",
        "/login",
        body=b"login=petr&password=nope",
        content_type="application/x-www-form-urlencoded",
    )
    assert wrong.status == 401 and "неверный логин или пароль" in wrong.text
    ok = await client.request(
        "POST",
        "/login",
        body="login=petr&password=пароль-для-тестов-1".encode(),
        content_type="application/x-www-form-urlencoded",
    )
    assert ok.status == 303 and ok.headers["location"] == "/"
    home = await client.get("/")
    assert home.status == 200 and "Здравствуйте, petr" in home.text


async def test_healthz_reports_the_link_database_and_speech(console: Console) -> None:
    reply = await console.client().get("/healthz")
    assert reply.status == 200, reply.text
    checks = reply.json()["checks"]
    assert set(checks) == {"ami", "database", "speech"}
    assert all(c["ok"] for c in checks.values())


async def test_a_body_over_the_limit_is_refused_before_it_is_stored(console: Console) -> None:
    from contact_center.web.site import MAX_BODY

    reader, writer = await asyncio.open_connection("127.0.0.1", console.port)
    writer.write(
        f"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {MAX_BODY + 1}\r\n\r\n".encode()
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert head.startswith(b"HTTP/1.1 413 ") and "слишком большой".encode() in head


async def test_a_large_body_is_read_off_the_loop_and_still_answered(console: Console) -> None:
    from contact_center.web.site import OFF_LOOP_BODY

    client = console.client()
    body = {"login": "nobody", "password": "wrong", "pad": "a" * (OFF_LOOP_BODY + 1)}
    reply = await client.request("POST", "/api/login", json_body=body)
    assert reply.status == 401 and reply.json()["error"] == "неверный логин или пароль"

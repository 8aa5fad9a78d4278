"""The running service with its web console on a free port, and a small HTTP client that
keeps its session cookie like a browser does (tests talk HTTP to the real site)."""

from __future__ import annotations

import asyncio
import http.client
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from autoinformer.phone.config import DialerConfig
from autoinformer.plugin import AutoinformerPlugin
from contact_center.app import App, build_app
from contact_center.clock import Clock
from contact_center.storage import migrate
from tests.conftest import NewDatabase
from tests.integration.conftest import AsteriskFixture

PASSWORD = "пароль-для-тестов-1"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: list[str]

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass
class Client:
    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""
    origin: str | None = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        csrf: bool = True,
    ) -> Reply:
        sent = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            content_type = "application/json"
        if content_type:
            sent["Content-Type"] = content_type
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if csrf and self.csrf and method != "GET":
            sent.setdefault("X-CSRF-Token", self.csrf)
        if self.origin:
            sent["Origin"] = self.origin

        def run() -> Reply:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                conn.request(method, path, body=body, headers=sent)
                response = conn.getresponse()
                data = response.read()
                cookies = response.headers.get_all("Set-Cookie") or []
                headers_ = {k.lower(): v for k, v in response.getheaders()}
                return Reply(response.status, headers_, data, cookies)
            finally:
                conn.close()

        reply = await asyncio.to_thread(run)
        for cookie in reply.cookies:
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0]
            if value and "max-age=0" not in cookie.lower():
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return reply

    async def login(self, login: str, password: str = PASSWORD) -> Reply:
        reply = await self.request(
            "POST", "/api/login", json_body={"login": login, "password": password}
        )
        if reply.status == 200:
            self.csrf = reply.json()["csrf"]
        return reply

    async def get(self, path: str) -> Reply:
        return await self.request("GET", path)

    async def post(self, path: str, json_body: Any = None, **kw: Any) -> Reply:
        return await self.request("POST", path, json_body=json_body, **kw)


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for name, (filename, content) in files.items():
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


@dataclass
class Console:
    app: App
    port: int

    def client(self) -> Client:
        return Client(self.port)

    async def user(self, login: str, role: str) -> Client:
        """A user of `role` (added once), logged in."""
        try:
            await self.app.users.users.add(login, role, PASSWORD, actor="test")
        except Exception as exc:
            if type(exc).__name__ != "DuplicateLogin":
                raise
        client = self.client()
        reply = await client.login(login)
        assert reply.status == 200, reply.text
        return client


@pytest.fixture
def web_database(new_database: NewDatabase) -> str:
    url = new_database("web")
    migrate.upgrade(url, [AutoinformerPlugin()])
    return url


@pytest.fixture
async def console(asterisk: AsteriskFixture, web_database: str) -> AsyncIterator[Console]:
    """`serve` as it runs (AMI link to the session's Asterisk, the autoinformer, the web
    console on a free port), on a fresh database."""
    url = web_database
    plugin = AutoinformerPlugin(DialerConfig(tick=0.2, drain_timeout=2.0))
    settings = asterisk.settings.replace(
        database_url=url, http_port=0, unsubscribe_secret="test-secret"
    )
    app = build_app(settings, plugins=[plugin])
    async with app.running(web=True):
        yield Console(app, app.web.bound_port)


# `console_at(now=datetime, config=DialerConfig(...), settings={...})`
ConsoleFactory = Callable[..., AbstractAsyncContextManager[Console]]


@pytest.fixture
async def console_at(asterisk: AsteriskFixture, web_database: str) -> AsyncIterator[ConsoleFactory]:
    """`async with console_at(now=...) as console:` the `console` service with its clock at
    `now` (campaigns call inside their window) and optionally another dialer config or
    settings; sim-world globals set through `console.app.link` are the test's to put back."""

    @asynccontextmanager
    async def make(
        *,
        now: datetime | None = None,
        config: DialerConfig | None = None,
        settings: dict[str, Any] | None = None,
    ) -> AsyncIterator[Console]:
        offset = Clock.at(now).offset_s if now is not None else 0.0
        plugin = AutoinformerPlugin(config or DialerConfig(tick=0.2, drain_timeout=2.0))
        changed = asterisk.settings.replace(
            database_url=web_database,
            http_port=0,
            unsubscribe_secret="test-secret",
            clock_offset=offset,
            **(settings or {}),
        )
        app = build_app(changed, plugins=[plugin])
        async with app.running(web=True):
            yield Console(app, app.web.bound_port)

    yield make


@pytest.fixture
async def hotline_console(
    asterisk: AsteriskFixture, web_database: str, tmp_path: Path
) -> AsyncIterator[Console]:
    """`console` inside the hotline's opening hours, with the IVR scripts and quick sim
    operators, for tests that ring the hotline; leaves the shared Asterisk as it found it
    (callers hung up, sim operators unpaused)."""
    async with hotline_service(asterisk, web_database, tmp_path) as console:
        yield console


@pytest.fixture
async def desk_console(
    asterisk: AsteriskFixture, web_database: str, tmp_path: Path
) -> AsyncIterator[Console]:
    """The hotline console for the operator's desk: sim operators talk long enough for a
    person to press «Клиент найден» during the call, and never end post-call work by
    themselves (the operator presses «Постобработка завершена»)."""
    async with hotline_service(
        asterisk,
        web_database,
        tmp_path,
        sim_globals={"SIM_OPERATOR_TALK_TIME": "8"},
        sim_operator_wrapup_time=-1.0,
    ) as console:
        yield console


@asynccontextmanager
async def hotline_service(
    asterisk: AsteriskFixture,
    web_database: str,
    tmp_path: Path,
    *,
    sim_globals: dict[str, str] | None = None,
    **changes: Any,
) -> AsyncIterator[Console]:
    """The `hotline_console` service, with `changes` to its settings and `sim_globals` over
    the quick sim operators' dialplan globals."""
    import shutil

    from contact_center.operators.services import QueueControl
    from contact_center.settings import PROJECT_ROOT
    from contact_center.speech.service import Speech
    from contact_center.telephony.ami import AmiConfig, AmiLink
    from tests.integration.hotline.conftest import IN_HOURS, SIM_GLOBALS, offset_to

    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed for the hotline's speech")
    async with Speech.from_settings(asterisk.settings) as speech:
        await speech.build_prompts()
    ivr_dir = tmp_path / "ivr"
    shutil.copytree(PROJECT_ROOT / "ivr_scripts", ivr_dir)
    settings = asterisk.settings.replace(
        database_url=web_database,
        http_port=0,
        unsubscribe_secret="test-secret",
        ivr_scripts_dir=ivr_dir,
        clock_offset=offset_to(IN_HOURS),
        sim_operator_wrapup_time=0.2,
    ).replace(**changes)
    app = build_app(settings, plugins=[])
    try:
        async with app.running(web=True):
            for name, value in {**SIM_GLOBALS, **(sim_globals or {})}.items():
                await app.link.action("Setvar", Variable=name, Value=value)
            yield Console(app, app.web.bound_port)
    finally:
        cleanup = AmiLink(AmiConfig.from_settings(asterisk.settings))
        await cleanup.connect(timeout=10)
        try:
            for event in await cleanup.action_list("CoreShowChannels"):
                if str(event.get("Channel", "")).startswith("Local/s@hotline-"):
                    try:
                        await cleanup.action("Hangup", Channel=str(event.get("Uniqueid")))
                    except Exception:  # gone meanwhile
                        pass
            queue = QueueControl(cleanup)
            for member in await queue.members():
                if member.paused:
                    await queue.set_paused(member.interface, False)
            s = asterisk.settings
            for variable, seconds in (
                ("SIM_OPERATOR_TALK_TIME", s.sim_operator_talk_time),
                ("SIM_OPERATOR_ANSWER_DELAY", s.sim_operator_answer_delay),
            ):
                await cleanup.action("Setvar", Variable=variable, Value=f"{seconds:g}")
        finally:
            await cleanup.close()

"""Gather the `Facts` the checks judge: every I/O of `doctor` is here, each with a timeout.

AMI is spoken directly (a few actions, events off) rather than through the service's link:
the doctor must report what Asterisk answers, including refusals the link would hide.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterable
from pathlib import Path

import aiosmtplib

from contact_center.devtools.asterisk_config import AsteriskError
from contact_center.devtools.local_asterisk import LocalAsterisk
from contact_center.doctor.checks import (
    FORBIDDEN_ACTIONS,
    REQUIRED_MODULES,
    AmiFacts,
    Facts,
    HttpFacts,
    SmtpFacts,
)
from contact_center.plugins import Plugin
from contact_center.settings import Settings
from contact_center.speech.prompts import PromptCatalog, PromptError, prompt_path
from contact_center.speech.silence import silence_path
from contact_center.storage import migrate

TIMEOUT = 5.0


async def gather_facts(
    settings: Settings, plugins: Iterable[Plugin] = (), skip: frozenset[str] = frozenset()
) -> Facts:
    plugins = tuple(plugins)
    ami = None if "ami" in skip and "modules" in skip else await ami_facts(settings)
    local_pid, modules, transports = await asyncio.to_thread(local_asterisk_facts, settings)
    total, missing = prompt_facts(settings)
    current, heads, db_error = await database_facts(settings, plugins)
    return Facts(
        ami=ami,
        local_pid=local_pid,
        local_modules=modules,
        local_transports=transports,
        sip_port_bound=sip_port_bound(settings),
        prompts_total=total,
        prompts_missing=missing,
        db_current=current,
        db_heads=heads,
        db_error=db_error,
        smtp=None if "smtp" in skip else await smtp_facts(settings),
        ntp_synchronized=await asyncio.to_thread(ntp_synchronized),
        system_timezone=system_timezone(),
        disk_free=disk_free(settings),
        http=None if "http" in skip else await http_facts(settings),
    )


# --- AMI -----------------------------------------------------------------------------


class _AmiSession:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def action(self, name: str, **fields: str) -> dict[str, str]:
        action_id = uuid.uuid4().hex
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        lines += [f"{k}: {v}" for k, v in fields.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()
        while True:  # skip events and anything not ours
            block = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
            message = _parse(block)
            if message.get("ActionID") == action_id and "Response" in message:
                return message


def _parse(block: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep and key not in out:
            out[key.strip()] = value.strip()
    return out


async def ami_facts(settings: Settings) -> AmiFacts:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(settings.ami_host, settings.ami_port), TIMEOUT
        )
    except (OSError, TimeoutError) as exc:
        return AmiFacts(reachable=False, error=_why(exc))
    try:
        try:
            banner = (await asyncio.wait_for(reader.readline(), TIMEOUT)).decode("utf-8", "replace")
        except (OSError, TimeoutError) as exc:
            return AmiFacts(reachable=False, error=_why(exc))
        banner = banner.strip()
        if not banner.startswith("Asterisk Call Manager"):
            return AmiFacts(reachable=True, banner=banner)
        ami = _AmiSession(reader, writer)
        login = await ami.action(
            "Login", Username=settings.ami_user, Secret=settings.ami_secret, Events="off"
        )
        if login.get("Response") != "Success":
            return AmiFacts(reachable=True, banner=banner, login_message=login.get("Message", ""))
        listed = await ami.action("ListCommands")
        actions = frozenset(k for k in listed if k not in ("Response", "ActionID", "Message"))
        allowed = []
        for action in FORBIDDEN_ACTIONS:
            probe = {"Command": {"Command": "core show uptime"}, "GetConfig": {"Filename": "x"}}
            reply = await ami.action(action, **probe.get(action, {}))
            if "permission denied" not in reply.get("Message", "").lower():
                allowed.append(action)
        try:
            await ami.action("Logoff")
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        return AmiFacts(
            reachable=True,
            banner=banner,
            login_ok=True,
            actions=actions,
            forbidden_allowed=tuple(allowed),
        )
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        return AmiFacts(reachable=False, error=_why(exc))
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


# --- the local Asterisk ----------------------------------------------------------------


def local_asterisk_facts(
    settings: Settings,
) -> tuple[int | None, dict[str, bool] | None, str | None]:
    """Pid, modules and transports of the Asterisk running from our runtime dir, if any."""
    local = LocalAsterisk(settings)
    try:
        status = local.status(with_version=False)
        if not status.running:
            return None, None, None
        modules = {}
        for module in REQUIRED_MODULES:
            out = local.rx(f"module show like {module}", timeout=TIMEOUT)
            modules[module] = "1 modules loaded" in out
        transports = local.rx("pjsip show transports", timeout=TIMEOUT)
    except (AsteriskError, OSError, subprocess.TimeoutExpired):
        return None, None, None
    return status.pid, modules, transports


def sip_port_bound(settings: Settings) -> bool | None:
    """Whether something holds the SIP UDP port here; None when it is not ours to probe."""
    if not settings.sip_port or not _is_local_address(settings.sip_bind):
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((settings.sip_bind, settings.sip_port))
        except OSError:
            return True
    return False


def _is_local_address(address: str) -> bool:
    if address in ("0.0.0.0", "127.0.0.1"):
        return True
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


# --- prompts, database ---------------------------------------------------------------------


def prompt_facts(settings: Settings) -> tuple[int, tuple[str, ...]]:
    try:
        catalog = PromptCatalog.load()
    except PromptError:
        return 0, ("(файл подсказок не читается)",)
    missing = tuple(n for n in catalog if not prompt_path(settings.sounds_dir, n).is_file())
    # the silence waits for a key play, built with the prompts
    silence = silence_path(settings.sounds_dir)
    if not silence.is_file():
        missing += (str(silence.relative_to(settings.sounds_dir).with_suffix("")),)
    return len(catalog) + 1, missing


async def database_facts(
    settings: Settings, plugins: tuple[Plugin, ...]
) -> tuple[frozenset[str] | None, frozenset[str], str]:
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import make_url

    heads = frozenset(
        ScriptDirectory.from_config(
            migrate.alembic_config(settings.database_url, plugins)
        ).get_heads()
    )
    url = make_url(settings.database_url)
    if (
        url.get_backend_name() == "sqlite"
        and url.database
        and not await asyncio.to_thread(Path(url.database).exists)
    ):
        return frozenset(), heads, ""  # not created yet (and asking would create it)
    try:
        current = await asyncio.wait_for(migrate.current_heads(settings.database_url), TIMEOUT)
    except Exception as exc:  # any driver's error: the doctor reports it, whatever it is
        return None, heads, _why(exc)
    return current, heads, ""


# --- SMTP ----------------------------------------------------------------------------------


async def smtp_facts(settings: Settings) -> SmtpFacts:
    smtp = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        timeout=min(TIMEOUT, settings.smtp_timeout),
        use_tls=settings.smtp_tls == "tls",
        start_tls=settings.smtp_tls == "starttls",
    )
    try:
        await smtp.connect()
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return SmtpFacts(reachable=False, error=_why(exc))
    try:
        if not settings.smtp_user:
            return SmtpFacts(reachable=True)
        try:
            await smtp.login(settings.smtp_user, settings.smtp_password)
        except aiosmtplib.SMTPException as exc:
            return SmtpFacts(reachable=True, login_tried=True, error=_why(exc))
        return SmtpFacts(reachable=True, login_tried=True, login_ok=True)
    finally:
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            smtp.close()


# --- clock, disk, HTTP -----------------------------------------------------------------------


def ntp_synchronized() -> bool | None:
    binary = shutil.which("timedatectl")
    if binary is None:
        return None
    try:
        proc = subprocess.run(
            [binary, "show", "--property=NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    answer = proc.stdout.strip()
    return {"yes": True, "no": False}.get(answer) if proc.returncode == 0 else None


def system_timezone(etc: Path = Path("/etc")) -> str | None:
    """The system's zone name: /etc/timezone (Debian), else the /etc/localtime link."""
    try:
        name = (etc / "timezone").read_text(encoding="utf-8").strip()
        if name:
            return name
    except OSError:
        pass
    try:
        target = str((etc / "localtime").readlink())
    except OSError:
        return None
    _, sep, name = target.partition("zoneinfo/")
    return name if sep else None


def disk_free(settings: Settings) -> dict[str, int]:
    """Free bytes where recordings (CC_RECORDINGS_DIR), Asterisk's files and the sounds go."""
    out: dict[str, int] = {}
    devices: set[int] = set()
    places = (
        settings.recordings_path,
        Path(settings.asterisk_runtime_dir),
        Path(settings.sounds_dir),
    )
    for path in places:
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        device = existing.stat().st_dev
        if device not in devices:  # one line per file system
            devices.add(device)
            out[str(path)] = shutil.disk_usage(existing).free
    return out


async def http_facts(settings: Settings) -> HttpFacts:
    host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "") else settings.http_host
    if not settings.http_port:
        return HttpFacts(state="free", detail="порт выбирается при запуске")
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, settings.http_port), TIMEOUT
        )
    except (ConnectionRefusedError, TimeoutError):
        return HttpFacts(state="free")
    except OSError as exc:
        return HttpFacts(state="other", detail=_why(exc))
    try:
        writer.write(f"GET /healthz HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(65536), TIMEOUT)
    except (OSError, TimeoutError) as exc:
        return HttpFacts(state="other", detail=_why(exc))
    finally:
        writer.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    if b'"checks"' in body:
        return HttpFacts(state="ours", detail=status)
    return HttpFacts(state="other", detail=status or "не HTTP")


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "нет ответа"
    if isinstance(exc, ConnectionRefusedError):
        return "соединение отклонено"
    return str(exc) or type(exc).__name__

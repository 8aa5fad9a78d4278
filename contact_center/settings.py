"""One typed settings object, read from `CC_*` environment variables and an optional TOML file.

Precedence: environment over the TOML file (``CC_CONFIG`` or ``--config``) over defaults.
The defaults run everything on one machine: SQLite under ``var/``, AMI on loopback.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "CC_"


class SettingsError(ValueError):
    """A setting has a value the service cannot use; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'var' / 'contact_center.db'}"
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "contact-center"
    ami_secret: str = field(default="change-me-local-only", repr=False)
    # seconds an AMI action may wait for its reply before the link is considered stuck
    ami_action_timeout: float = 10.0
    ami_ping_interval: float = 5.0
    dial_template: str = "PJSIP/{number}@trunk"
    # campaign calls the trunk carries at once, every campaign together (0: no limit)
    dial_channels: int = 0
    timezone: str = "Asia/Krasnoyarsk"
    default_region: str = "RU"
    # the local Asterisk that `contact-center asterisk start` runs
    asterisk_conf_dir: Path = PROJECT_ROOT / "asterisk_conf"
    asterisk_runtime_dir: Path = PROJECT_ROOT / "var" / "asterisk"
    asterisk_binary: str = "asterisk"
    sim_operators: int = 3
    sim_operator_answer_delay: float = 1.0
    sim_operator_talk_time: float = 5.0
    # SIP of the Asterisk we render (issue 15): where phones and the trunk reach it, the NAT
    # addresses a server behind a router announces, and the RTP range (rtp.conf and the
    # ports docker-compose publishes); 0 for sip_port binds no SIP at all
    sip_bind: str = "127.0.0.1"
    sip_port: int = 5060
    sip_external_address: str = ""
    sip_local_net: str = ""
    rtp_ports: str = "10000-10100"
    # where pjsip_trunk.conf and pjsip_operators.conf (passwords) are read from; production:
    # /etc/contact-center, outside the checkout (in asterisk_conf/ they are git-ignored)
    asterisk_secrets_dir: Path = PROJECT_ROOT / "asterisk_conf"
    # `serve`'s log: stderr (journald under systemd) unless a file is named; the level of
    # the service's own loggers (libraries stay at WARNING)
    log_file: str = ""
    log_level: str = "INFO"
    sounds_dir: Path = PROJECT_ROOT / "sounds"
    # e-mail notices (autoinformer.email): the SMTP server they are handed to
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "Электросеть Дивногорск <noreply@localhost>"
    # none | starttls | tls (implicit TLS, usually port 465)
    smtp_tls: str = "none"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_timeout: float = 30.0
    # messages per second over the one SMTP connection; 0 means no limit
    smtp_rate: float = 50.0
    # where one-click unsubscribe links point; the secret signs them (the default secret is
    # refused for a non-local URL: anyone could forge opt-outs with it)
    unsubscribe_base_url: str = "http://127.0.0.1:8080/unsubscribe"
    unsubscribe_secret: str = field(default="change-me-local-only", repr=False)
    # the service's HTTP listener (`serve`): the one-click unsubscribe endpoint behind
    # unsubscribe_base_url; 0 picks a free port (tests)
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # behind a reverse proxy (TLS ends there): trust its X-Forwarded-For/-Proto/-Host for the
    # client's address (login throttling, audit) and for the session cookie's Secure flag
    web_behind_proxy: bool = False
    # speech synthesis (espeak-ng called directly is the reliable default: README)
    tts_engine: str = "espeak-ng"
    tts_voice: str = "ru"
    tts_rate: int = 150
    tts_timeout: float = 10.0
    tts_workers: int = 2
    # the name under which Asterisk sees sounds_dir (a link in its sounds folder)
    asterisk_sounds_prefix: str = "cc"
    # originate ring timeout for outbound calls
    ring_timeout: float = 30.0
    # several `serve` workers (PostgreSQL): each drives its own Asterisk node, named here
    # ("" -> "<host name>:<AMI port>", one name per Asterisk on a host); a worker adopts the
    # open calls of its node after a restart
    node: str = ""
    # several Asterisk nodes (issue 14), over the node trunk (PJSIP between nodes, password
    # in <asterisk_secrets_dir>/node_trunk.secret). On a dialer node: the hotline node's SIP
    # ("host" or "host:port"): transfers to an operator go there and the pacing counts the
    # free operators from the shared database ("": the operators are on this node). On the
    # hotline node: the dialer nodes' addresses or networks (comma-separated) it takes
    # transfers from ("": none).
    hotline_node: str = ""
    dialer_nodes: str = ""
    # seconds an answered campaign call may last before Asterisk hangs it up itself
    # (TIMEOUT(absolute); lifted when the customer joins the operators' queue): a call whose
    # worker died ends by this bound, and another worker then closes its attempt
    call_hard_limit: float = 900.0
    # seconds a campaign call in AGI lives with nobody driving it (TIMEOUT(absolute) the
    # service renews while it drives the call): a customer whose worker died and did not
    # come back hears a goodbye by then, not silence until the hard limit; 0: off
    driven_lease: float = 60.0
    # a campaign call's dialplan plays the message itself (app_controlplayback; AGI where
    # Asterisk lacks it), with no round trip to the service before or between its parts;
    # "no": every part is an AGI command
    dialplan_message: bool = True
    # the utility's outbound caller ID on every call it places (campaigns, call-backs, operator
    # phones dialing out): digits as the carrier expects them. Without one a PJSIP INVITE goes
    # out as "Anonymous", which carriers reject. The default is the demo's placeholder.
    caller_id: str = "73914400000"
    caller_name: str = "Электросеть"
    # seconds added to the wall clock wherever the service asks "what time is it" for
    # scheduling (calling windows, campaign ends): lets tests and demos run at a chosen hour
    clock_offset: float = 0.0
    # hotline (issue 4): opening hours on working days ("08:00-17:00", or several intervals
    # "08:00-12:00,13:00-17:00"), a calendar override file, IVR menus, post-call work limit
    hotline_hours: str = "08:00-17:00"
    calendar_file: Path = PROJECT_ROOT / "contact_center/calendar_overrides.toml"
    ivr_scripts_dir: Path = PROJECT_ROOT / "ivr_scripts"
    hotline_wrapup_limit: float = 300.0
    # seconds a caller may wait for an operator before being offered to leave a message
    hotline_queue_timeout: float = 600.0
    # seconds a simulated operator spends on post-call work (negative: never finishes, the
    # hotline_wrapup_limit ends it)
    sim_operator_wrapup_time: float = 1.0
    # web console sessions (contact_center.users): minutes without a request, and hours after
    # login, after which a session ends and its user logs in again
    web_session_idle_min: float = 30.0
    web_session_max_h: float = 12.0
    # call recordings (MixMonitor: hotline, operator calls, campaign calls; left messages):
    # where they are ("" is Asterisk's spool/monitor under asterisk_runtime_dir, where a
    # relative MixMonitor name goes), and the days they are kept before `serve` deletes them
    recordings_dir: str = ""
    recording_retention_days: int = 1095

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def node_name(self) -> str:
        """The Asterisk node this process drives (CC_NODE, or host name and AMI port)."""
        return self.node or f"{socket.gethostname()}:{self.ami_port}"

    @property
    def recordings_path(self) -> Path:
        """Where the recordings are: CC_RECORDINGS_DIR, else the local Asterisk's spool."""
        if self.recordings_dir:
            return Path(self.recordings_dir).expanduser()
        return Path(self.asterisk_runtime_dir) / "spool" / "monitor"

    def public_items(self) -> dict[str, str]:
        """Settings as strings for display, with secrets masked."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS:
                value = "***" if value else ""
            elif f.name == "database_url":
                value = mask_url_password(str(value))
            out[f.name] = str(value)
        return out

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


SECRET_FIELDS = frozenset({"smtp_password", "unsubscribe_secret", "ami_secret"})


def mask_url_password(url: str) -> str:
    """``postgresql+asyncpg://cc:secret@db/cc`` -> ``postgresql+asyncpg://cc:***@db/cc``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, at, host = rest.rpartition("@")
    user, colon, _ = creds.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}{at}{host}"


def _coerce(name: str, kind: Any, raw: Any) -> Any:
    try:
        if kind in (int, "int"):
            if isinstance(raw, bool):
                raise ValueError
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        if kind in (bool, "bool"):
            if isinstance(raw, bool):
                return raw
            from contact_center.parsing import parse_yes_no

            return parse_yes_no(str(raw))
        if kind in (Path, "Path"):
            return Path(str(raw)).expanduser()
        return str(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{ENV_PREFIX}{name.upper()}: not a valid {kind}: {raw!r}") from None


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Build settings from a TOML file and the environment; raise SettingsError naming a bad key."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or (Path(env["CC_CONFIG"]) if env.get("CC_CONFIG") else None)
    known = {f.name: f.type for f in fields(Settings)}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: {exc}") from None
        for key, raw in data.items():
            if key not in known:
                raise SettingsError(f"{path}: unknown setting {key!r}")
            values[key] = _coerce(key, known[key], raw)
    for name, kind in known.items():
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None and raw != "":
            values[name] = _coerce(name, kind, raw)
    if "unsubscribe_base_url" not in values and "http_port" in values:
        # the link in letters points at our own listener's port unless told otherwise (a
        # public address comes with CC_UNSUBSCRIBE_BASE_URL and its own secret)
        values["unsubscribe_base_url"] = f"http://127.0.0.1:{values['http_port']}/unsubscribe"
    settings = Settings(**values)
    _validate(settings)
    return settings


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def rtp_range(value: str) -> tuple[int, int]:
    """``"10000-10100"`` -> (10000, 10100); SettingsError for anything else."""
    start, dash, end = value.replace(" ", "").partition("-")
    if not (dash and start.isdigit() and end.isdigit()):
        raise SettingsError(f"CC_RTP_PORTS: expected FIRST-LAST, e.g. 10000-10100: {value!r}")
    first, last = int(start), int(end)
    if not 1024 <= first < last <= 65535:
        raise SettingsError(f"CC_RTP_PORTS: {value!r}: 1024 <= FIRST < LAST <= 65535")
    return first, last


def _validate_sip(s: Settings) -> None:
    import ipaddress

    if not 0 <= s.sip_port < 65536:
        raise SettingsError(f"CC_SIP_PORT: {s.sip_port} is not a UDP port (0: no SIP)")
    if s.dial_channels < 0:
        raise SettingsError(f"CC_DIAL_CHANNELS: calls at once, 0 for no limit: {s.dial_channels}")
    try:
        ipaddress.ip_address(s.sip_bind)
    except ValueError:
        raise SettingsError(f"CC_SIP_BIND: an IP address (0.0.0.0: all): {s.sip_bind!r}") from None
    if s.sip_external_address and not re.fullmatch(r"[A-Za-z0-9.\-:]+", s.sip_external_address):
        raise SettingsError("CC_SIP_EXTERNAL_ADDRESS: an IP address or a host name")
    for net in filter(None, (n.strip() for n in s.sip_local_net.split(","))):
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise SettingsError(f"CC_SIP_LOCAL_NET: not a network: {net!r}") from None
    if s.sip_external_address and not s.sip_local_net:
        raise SettingsError(
            "CC_SIP_LOCAL_NET: set the office networks (e.g. 192.168.1.0/24) together with "
            "CC_SIP_EXTERNAL_ADDRESS, or phones inside would get the outside address"
        )
    rtp_range(s.rtp_ports)
    _validate_node_trunk(s)


_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?")


def _validate_node_trunk(s: Settings) -> None:
    import ipaddress

    if s.hotline_node:
        host, colon, port = (
            s.hotline_node.rpartition(":") if ":" in s.hotline_node else (s.hotline_node, "", "")
        )
        if not _HOST.fullmatch(host) or (colon and not (port.isdigit() and 0 < int(port) < 65536)):
            raise SettingsError(
                "CC_HOTLINE_NODE: the hotline node's SIP address, host or host:port "
                f"(e.g. hotline:5060): {s.hotline_node[:60]!r}"
            )
    for net in filter(None, (n.strip() for n in s.dialer_nodes.split(","))):
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise SettingsError(
                f"CC_DIALER_NODES: addresses or networks of the dialer nodes: not one: {net!r}"
            ) from None
    if (s.hotline_node or s.dialer_nodes.strip()) and not s.sip_port:
        raise SettingsError(
            "CC_SIP_PORT: the node trunk (CC_HOTLINE_NODE, CC_DIALER_NODES) needs SIP, not 0"
        )


_CALLER_ID = re.compile(r"\+?\d{3,15}")
_LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def _validate_email(s: Settings) -> None:
    if s.smtp_tls not in ("none", "starttls", "tls"):
        raise SettingsError("CC_SMTP_TLS: none, starttls or tls")
    if not 0 < s.smtp_port < 65536:
        raise SettingsError(f"CC_SMTP_PORT: {s.smtp_port} is not a TCP port")
    if s.smtp_timeout <= 0 or s.smtp_rate < 0:
        raise SettingsError("CC_SMTP_TIMEOUT must be positive and CC_SMTP_RATE zero or more")
    if "@" not in s.smtp_from or any(ch in s.smtp_from for ch in "\r\n"):
        raise SettingsError("CC_SMTP_FROM: expected 'Name <address@domain>'")
    url = urlsplit(s.unsubscribe_base_url)
    if url.scheme not in ("http", "https") or not url.hostname or not url.geturl().isascii():
        raise SettingsError("CC_UNSUBSCRIBE_BASE_URL: an http(s) URL in ASCII")
    if not s.unsubscribe_secret:
        raise SettingsError("CC_UNSUBSCRIBE_SECRET: must not be empty")
    if not 0 <= s.http_port < 65536 or not s.http_host.strip():
        raise SettingsError("CC_HTTP_HOST must be set and CC_HTTP_PORT a TCP port (0: any free)")
    default_secret = Settings.__dataclass_fields__["unsubscribe_secret"].default
    if s.unsubscribe_secret == default_secret and url.hostname not in _LOCAL_HOSTS:
        raise SettingsError(
            "CC_UNSUBSCRIBE_SECRET: set your own secret before unsubscribe links leave this machine"
        )


def _validate(s: Settings) -> None:
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"CC_TIMEZONE: unknown time zone {s.timezone!r}") from None
    if not 0 < s.ami_port < 65536:
        raise SettingsError(f"CC_AMI_PORT: {s.ami_port} is not a TCP port")
    if len(s.node) > 100 or any(not (ch.isalnum() or ch in "-_.:/") for ch in s.node):
        raise SettingsError("CC_NODE: up to 100 letters, digits and - _ . : /")
    if not 60 <= s.call_hard_limit <= 86400:
        raise SettingsError("CC_CALL_HARD_LIMIT: seconds between 60 and 86400")
    if s.driven_lease != 0 and not 2 <= s.driven_lease <= 3600:
        raise SettingsError("CC_DRIVEN_LEASE: 0 (off) or seconds between 2 and 3600")
    if "{number}" not in s.dial_template:
        raise SettingsError("CC_DIAL_TEMPLATE: must contain {number}")
    if s.dial_template.count("{") != 1 or s.dial_template.count("}") != 1:
        raise SettingsError("CC_DIAL_TEMPLATE: only the {number} placeholder is allowed")
    if any(ch in s.dial_template for ch in "\r\n,&|"):
        raise SettingsError("CC_DIAL_TEMPLATE: must not contain line breaks, ',', '&' or '|'")
    if not _CALLER_ID.fullmatch(s.caller_id):
        raise SettingsError(
            f"CC_CALLER_ID: the outbound number, 3 to 15 digits (an optional leading +): "
            f"{s.caller_id[:20]!r}"
        )
    if len(s.caller_name) > 40 or any(ch in s.caller_name for ch in '"<>\\\r\n'):
        raise SettingsError("CC_CALLER_NAME: at most 40 characters, without quotes, <, > or \\")
    if s.tts_engine not in ("espeak-ng", "pyttsx3"):
        raise SettingsError("CC_TTS_ENGINE: espeak-ng or pyttsx3")
    if not 50 <= s.tts_rate <= 500:
        raise SettingsError("CC_TTS_RATE: words per minute between 50 and 500")
    if s.tts_workers < 1 or s.tts_timeout <= 0:
        raise SettingsError("CC_TTS_WORKERS must be at least 1 and CC_TTS_TIMEOUT positive")
    if s.sim_operators < 0:
        raise SettingsError("CC_SIM_OPERATORS: must be zero or more")
    _validate_email(s)
    _validate_sip(s)
    if s.log_level.upper() not in LOG_LEVELS:
        raise SettingsError(f"CC_LOG_LEVEL: one of {', '.join(LOG_LEVELS)}")
    if not 0 < s.web_session_idle_min <= s.web_session_max_h * 60:
        raise SettingsError(
            "CC_WEB_SESSION_IDLE_MIN must be positive and not longer than CC_WEB_SESSION_MAX_H"
        )
    if s.recording_retention_days < 1:
        raise SettingsError("CC_RECORDING_RETENTION_DAYS: the days recordings are kept, 1 or more")
    if s.hotline_wrapup_limit <= 0 or s.hotline_queue_timeout <= 0:
        raise SettingsError("CC_HOTLINE_WRAPUP_LIMIT and CC_HOTLINE_QUEUE_TIMEOUT: positive")
    from contact_center.calendar import CalendarError, parse_hours

    try:
        parse_hours(s.hotline_hours)
    except CalendarError as exc:
        raise SettingsError(f"CC_HOTLINE_HOURS: {exc}") from None

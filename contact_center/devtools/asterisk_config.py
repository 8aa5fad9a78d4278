"""The Asterisk configuration of ``asterisk_conf/`` filled in for one installation.

The ``*.conf`` files there are templates: ``@NAME@`` placeholders (directories, the AMI user
and port, SIP, the simulated operators' timings) and blocks between ``; @IF FLAG@`` and
``; @ENDIF FLAG@`` lines. `render_config` fills them for any layout: `LocalAsterisk` (in
`local_asterisk`) for a private runtime tree, `render_for_container` for a folder to mount at
/etc/asterisk in a container.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

from contact_center.settings import Settings, rtp_range

SIM_DIR = "sim"
# the files holding SIP passwords: read from settings.asterisk_secrets_dir, copied as they are
SECRET_FILES = ("pjsip_trunk.conf", "pjsip_operators.conf")
# the node trunk's password (one line), read from settings.asterisk_secrets_dir
NODE_TRUNK_SECRET_FILE = "node_trunk.secret"
_PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")
_IF_LINE = re.compile(r"^\s*;\s*@(IF|ENDIF) ([A-Z_]+)@\s*$")
# what must not appear in a value written into a config file (comments, new lines)
_UNSAFE_CHARS = frozenset(";\r\n\0")


class AsteriskError(RuntimeError):
    """The local Asterisk did not do what was asked; the message says what and why."""


def render_config(
    conf_dir: Path,
    etc_dir: Path,
    values: Mapping[str, str],
    *,
    flags: frozenset[str] | set[str] = frozenset(),
    include_sim: bool = True,
    sim_operators: int = 0,
    secrets_dir: Path | None = None,
) -> list[Path]:
    """Write the ``*.conf`` files of `conf_dir` into `etc_dir` with placeholders filled.

    `secrets_dir` (if not `conf_dir` itself): its `SECRET_FILES` are copied verbatim over
    whatever `conf_dir` has (passwords may contain anything; they are the admin's files),
    readable by the owner only.

    ``@NAME@`` becomes ``values[NAME]`` (not in comment lines); a block between the lines
    ``; @IF FLAG@`` and ``; @ENDIF FLAG@`` is kept only when FLAG is in `flags`. The
    ``sim/`` folder is copied when `include_sim`, with ``sim/queue_members.conf`` listing
    `sim_operators` static members ``Local/<n>@sim-operators/n``. Returns the files written.
    Raises AsteriskError for a placeholder without a value or a value that would break the
    config syntax.
    """
    for name, value in values.items():
        if _UNSAFE_CHARS.intersection(value) or value != value.strip():
            raise AsteriskError(
                f"значение {name} нельзя записать в конфигурацию Asterisk "
                "(в нём ';', перевод строки или пробелы по краям)"
            )
    user = values.get("AMI_USER")
    if user is not None and not re.fullmatch(r"[A-Za-z0-9_.@\-]+", user):
        raise AsteriskError(
            f"имя пользователя AMI {user!r}: допустимы латинские буквы, цифры и _.@-"
        )
    etc_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for src in sorted(conf_dir.rglob("*.conf")):
        rel = src.relative_to(conf_dir)
        if rel.parts[0] == SIM_DIR and not include_sim:
            continue
        text = _render_text(src.read_text(encoding="utf-8"), values, flags, src)
        dst = etc_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(text, encoding="utf-8")
        written.append(dst)
    if include_sim:
        members = etc_dir / SIM_DIR / "queue_members.conf"
        members.parent.mkdir(parents=True, exist_ok=True)
        lines = ["; generated: static members of queue `operators` (simulated operators)"]
        lines += [
            f"member => Local/{n}@sim-operators/n,0,sim-operator-{n}"
            for n in range(1, sim_operators + 1)
        ]
        members.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(members)
    if secrets_dir is not None and secrets_dir.resolve() != conf_dir.resolve():
        for name in SECRET_FILES:
            src = secrets_dir / name
            if not src.is_file():
                continue
            dst = etc_dir / name
            dst.write_bytes(src.read_bytes())
            written.append(dst)
    for dst in written:
        if dst.name in SECRET_FILES:
            dst.chmod(0o600)
    return written


def network_values(settings: Settings, sip_bind: str, sip_port: int) -> dict[str, str]:
    """SIP, NAT and RTP placeholders from the settings (the same for every layout)."""
    first, last = rtp_range(settings.rtp_ports)
    nets = ",".join(n.strip() for n in settings.sip_local_net.split(",") if n.strip())
    return {
        "SIP_BIND": sip_bind,
        "SIP_PORT": str(sip_port),
        "SIP_EXTERNAL_ADDRESS": settings.sip_external_address,
        "SIP_LOCAL_NET": nets,
        "RTP_START": str(first),
        "RTP_END": str(last),
    }


def network_flags(settings: Settings, sip_port: int) -> set[str]:
    flags = {"SIP"} if sip_port else set()
    if sip_port and settings.sip_external_address:
        flags.add("NAT")
    if settings.hotline_node:
        flags.add("HOTLINE_NODE")
    if settings.dialer_nodes.strip():
        flags.add("DIALER_NODES")
    return flags


def node_trunk_values(settings: Settings) -> dict[str, str]:
    """The node trunk's placeholders (pjsip.conf: endpoints `hotline-node` on a dialer node,
    `dialer-nodes` on the hotline node); none when no trunk is configured. Raises
    AsteriskError when the password file is missing or unusable."""
    if not (settings.hotline_node or settings.dialer_nodes.strip()):
        return {}
    path = Path(settings.asterisk_secrets_dir) / NODE_TRUNK_SECRET_FILE
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise AsteriskError(
            f"нет пароля межузловой линии {path} ({exc.strerror}): он нужен, когда заданы "
            "CC_HOTLINE_NODE или CC_DIALER_NODES; запишите в файл одну строку, одинаковую "
            "на всех узлах"
        ) from None
    if len(secret) < 16 or not re.fullmatch(r"[A-Za-z0-9_\-.+/=]+", secret):
        raise AsteriskError(
            f"пароль межузловой линии в {path}: не короче 16 символов, латинские буквы, "
            "цифры и _-.+/="
        )
    nets = ",".join(n.strip() for n in settings.dialer_nodes.split(",") if n.strip())
    return {
        "HOTLINE_NODE": settings.hotline_node or "-",
        "DIALER_NODES": nets or "-",
        "NODE_TRUNK_SECRET": secret,
    }


def _render_text(
    text: str, values: Mapping[str, str], flags: frozenset[str] | set[str], src: Path
) -> str:
    out: list[str] = []
    skipping: list[bool] = []
    for line in text.splitlines():
        m = _IF_LINE.match(line)
        if m:
            if m.group(1) == "IF":
                skipping.append(m.group(2) not in flags)
            elif skipping:
                skipping.pop()
            continue
        if any(skipping):
            continue

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise AsteriskError(f"{src}: нет значения для @{name}@")
            return values[name]

        if line.lstrip().startswith(";"):  # comments may name placeholders
            out.append(line)
        else:
            out.append(_PLACEHOLDER.sub(fill, line))
    return "\n".join(out) + "\n"


def sim_sip_secret(ami_secret: str) -> str:
    """The password of the simulated world's operator phones (sim/pjsip_sim.conf): derived
    from the AMI secret, so a test that knows the settings can register a SIP phone and no
    two installations share it."""
    return hashlib.sha256(f"cc-sim-sip:{ami_secret}".encode()).hexdigest()[:24]


def wait_seconds(value: float) -> str:
    """A Wait() argument: 1.0 -> '1', 1.5 -> '1.5'."""
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


# the standard layout of an Asterisk built from source (e.g. the andrius/asterisk images)
CONTAINER_DIRS = {
    "ETC_DIR": "/etc/asterisk",
    "MODULES_DIR": "/usr/lib/asterisk/modules",
    "VARLIB_DIR": "/var/lib/asterisk",
    "DATA_DIR": "/var/lib/asterisk",
    "SPOOL_DIR": "/var/spool/asterisk",
    "RUN_DIR": "/var/run/asterisk",
    "LOG_DIR": "/var/log/asterisk",
    "CACHE_DIR": "/var/cache/asterisk",
}


def render_for_container(
    settings: Settings,
    dest: Path,
    *,
    sip_port: int | None = None,
    include_sim: bool = True,
    ami_permit: str = "172.16.0.0/255.240.0.0",
    queue_wrapup_time: int = 0,
) -> list[Path]:
    """Write a config folder to mount at /etc/asterisk in a container (Asterisk 16..22).

    AMI listens on 0.0.0.0:<ami_port> inside the container and accepts only `ami_permit`
    (default: Docker's private 172.16.0.0/12, where compose networks live); do not publish
    the AMI port. SIP binds 0.0.0.0:<sip_port>. Mount the project's sounds folder at
    /var/lib/asterisk/sounds/cc and the Russian prompts at /var/lib/asterisk/sounds/ru.
    `sip_port` defaults to settings.sip_port; NAT and the RTP range come from the settings.
    """
    if sip_port is None:
        sip_port = settings.sip_port
    values = {
        **CONTAINER_DIRS,
        "AMI_BIND": "0.0.0.0",
        "AMI_PORT": str(settings.ami_port),
        "AMI_USER": settings.ami_user,
        "AMI_SECRET": settings.ami_secret,
        "AMI_PERMIT": ami_permit,
        **network_values(settings, "0.0.0.0", sip_port),
        **node_trunk_values(settings),
        "QUEUE_WRAPUPTIME": str(int(queue_wrapup_time)),
        "SIM_OPERATOR_ANSWER_DELAY": wait_seconds(settings.sim_operator_answer_delay),
        "SIM_OPERATOR_TALK_TIME": wait_seconds(settings.sim_operator_talk_time),
        "SIM_SIP_SECRET": sim_sip_secret(settings.ami_secret),
    }
    return render_config(
        Path(settings.asterisk_conf_dir),
        dest,
        values,
        flags=network_flags(settings, sip_port),
        include_sim=include_sim,
        sim_operators=settings.sim_operators if include_sim else 0,
        secrets_dir=Path(settings.asterisk_secrets_dir),
    )


def ami_permit_for(host: str) -> str:
    """The AMI permit line: only the address AMI is bound to, or loopback."""
    if host in ("127.0.0.1", "localhost", "::1", ""):
        return "127.0.0.1/255.255.255.255"
    if host == "0.0.0.0":
        # a container: the service reaches AMI over Docker's private networks
        # (172.16.0.0/12 holds the default bridge and compose networks)
        return "172.16.0.0/255.240.0.0"
    # bound to one address of a private network: accept that network (/24)
    return f"{host}/255.255.255.0"

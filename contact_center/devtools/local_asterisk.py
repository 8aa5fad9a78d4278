"""Run a private Asterisk from the project's ``asterisk_conf/`` (the demo, tests, benchmarks).

`LocalAsterisk` renders a runtime tree under ``settings.asterisk_runtime_dir`` and runs
``asterisk -C <runtime>/etc/asterisk.conf`` as a daemon; nothing under ``/etc/asterisk`` or
``/var/run/asterisk`` is touched, so several instances (different runtime dirs and AMI
ports) run side by side, next to the packaged one if any::

    <runtime>/etc/      the *.conf files of asterisk_conf/ with @NAME@ placeholders filled,
                        sim/ (the simulated world) with sim/queue_members.conf generated
    <runtime>/run/      asterisk.pid, asterisk.ctl (the CLI control socket)
    <runtime>/log/      messages.log, queue_log, startup.log (daemon stdout/stderr)
    <runtime>/lib/      astvarlibdir and astdatadir: astdb, sounds/, moh, and links to the
                        packaged documentation/ (XML docs Asterisk needs to start), keys/ ...
    <runtime>/spool/    recordings (MixMonitor/Record with a relative name go to spool/monitor)
    <runtime>/cache/

Modules come straight from ``/usr/lib/asterisk/modules``.

Sound names (what `Playback`, AGI ``STREAM FILE`` etc. accept)
-------------------------------------------------------------
``<runtime>/lib/sounds/`` holds symlinks only:

* every entry of the packaged sounds folder (``/usr/share/asterisk/sounds`` on Debian),
* ``ru`` -> the packaged Russian prompts (Debian: ``ru_RU_f_IvrvoiceRU``) when the package
  has no ``ru`` of its own; ``en`` likewise,
* ``cc`` -> ``settings.sounds_dir`` (the project's ``sounds/``),
* and ``<runtime>/lib/moh`` -> ``<sounds_dir>/moh`` when that folder exists (hold music of
  your own), else the packaged hold music (Debian's ``asterisk-moh-opsound-wav``:
  ``/usr/share/asterisk/moh``), else an empty folder (queue callers then hear silence).

Asterisk looks a name ``N`` up as ``sounds/<language>/N.<ext>``, then ``sounds/N.<ext>``,
then ``sounds/en/N.<ext>``, choosing the extension by format. The channel language is
``ru`` (asterisk.conf ``defaultlanguage``; the dialplan also sets it). So:

* a stock prompt by its plain name: ``queue-thereare`` ->
  ``/usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU/queue-thereare.wav``; digits and numbers
  (``SAY NUMBER``) use the Russian ``digits/`` files;
* a project file by ``cc/`` + its path under ``sounds_dir`` without the extension:
  ``cc/ru/greeting`` -> ``<sounds_dir>/ru/greeting.wav``,
  ``cc/cache/3fa9c0`` -> ``<sounds_dir>/cache/3fa9c0.wav`` (8 kHz mono WAV is what Asterisk
  plays without transcoding).

In a container mount the project's sounds folder at ``/var/lib/asterisk/sounds/cc`` and
the Russian prompts at ``/var/lib/asterisk/sounds/ru`` (the image's astdatadir is
/var/lib/asterisk), and the same names work; see `asterisk_config.render_for_container`.

The AMI user, port and permit list come from the settings; SIP binds to ``sip_bind`` on
``sip_port`` (0 binds no SIP at all: the simulated world needs none).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# AsteriskError is re-exported: callers of the runner catch it with the start errors
from contact_center.devtools.asterisk_config import AsteriskError as AsteriskError
from contact_center.devtools.asterisk_config import (
    ami_permit_for,
    network_flags,
    network_values,
    node_trunk_values,
    render_config,
    sim_sip_secret,
    wait_seconds,
)
from contact_center.settings import Settings

MODULES_DIR = Path("/usr/lib/asterisk/modules")
# the packaged astdatadir: Asterisk needs its documentation/ (XML docs: without them the
# configuration framework refuses to start: "Stasis initialization failed")
SYSTEM_DATA_DIRS = (Path("/usr/share/asterisk"), Path("/var/lib/asterisk"))
# where distributions put the stock prompts (Debian first, source builds second)
SYSTEM_SOUNDS_DIRS = (Path("/usr/share/asterisk/sounds"), Path("/var/lib/asterisk/sounds"))
# where distributions put the packaged hold music (asterisk-moh-opsound-*)
SYSTEM_MOH_DIRS = (Path("/usr/share/asterisk/moh"), Path("/var/lib/asterisk/moh"))
# stock prompt folders to link as the plain language name when it is missing
LANGUAGE_ALIASES = {
    "ru": ("ru_RU_f_IvrvoiceRU", "ru_RU"),
    "en": ("en_US_f_Allison", "en_US"),
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# seconds without a live process behind the pid file before a start counts as failed
_DEAD_GRACE = 2.0
# what `reload` asks of a running Asterisk: each re-reads its files and keeps its calls
# (`core reload` would also reload modules that have no business being reloaded mid-call)
RELOAD_COMMANDS = (
    "dialplan reload",
    "module reload res_pjsip.so",
    "module reload app_queue.so",
    "module reload res_rtp_asterisk.so",
    "module reload res_musiconhold.so",
    "manager reload",
)
# sockaddr_un.sun_path is 108 bytes on Linux, including the final NUL
_MAX_SOCKET_PATH = 107


class AsteriskStartError(AsteriskError):
    """Asterisk could not be started (the message ends with the tail of its log)."""


class AsteriskAlreadyRunning(AsteriskStartError):
    """An Asterisk already runs from this runtime directory."""

    def __init__(self, message: str, pid: int) -> None:
        super().__init__(message)
        self.pid = pid


@dataclass(frozen=True, slots=True)
class AsteriskStatus:
    running: bool
    pid: int | None = None
    version: str | None = None


class LocalAsterisk:
    """One Asterisk process owned by a runtime directory.

    Several may run at once with different ``settings.asterisk_runtime_dir``, AMI ports
    and `sip_port` (0: no SIP transport). Keep the runtime path short: the control socket
    ``<runtime>/run/asterisk.ctl`` must fit in 107 bytes.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sip_port: int | None = None,
        sip_bind: str | None = None,
        queue_wrapup_time: int = 0,
        include_sim: bool = True,
        ami_permit: str | None = None,
    ) -> None:
        self.settings = settings
        # SIP where the settings say (CC_SIP_BIND, CC_SIP_PORT) unless told otherwise
        self.sip_port = settings.sip_port if sip_port is None else sip_port
        self.sip_bind = settings.sip_bind if sip_bind is None else sip_bind
        self.queue_wrapup_time = queue_wrapup_time
        self.include_sim = include_sim
        self.ami_permit = ami_permit or ami_permit_for(settings.ami_host)
        self.runtime_dir = Path(settings.asterisk_runtime_dir).resolve()
        self.etc_dir = self.runtime_dir / "etc"
        self.run_dir = self.runtime_dir / "run"
        self.log_dir = self.runtime_dir / "log"
        self.lib_dir = self.runtime_dir / "lib"
        self.spool_dir = self.runtime_dir / "spool"
        self.cache_dir = self.runtime_dir / "cache"
        self.config_file = self.etc_dir / "asterisk.conf"
        self.pid_file = self.run_dir / "asterisk.pid"
        self.ctl_socket = self.run_dir / "asterisk.ctl"
        self.log_file = self.log_dir / "messages.log"
        self.startup_log = self.log_dir / "startup.log"
        self.sounds_link_dir = self.lib_dir / "sounds"

    # --- public API ------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> AsteriskStatus:
        """Render the runtime tree, start Asterisk, return once it is fully booted.

        Raises AsteriskAlreadyRunning if one runs from this runtime dir, and
        AsteriskStartError (with the tail of the log) if it does not come up in `timeout`
        seconds or its AMI port does not answer.
        """
        current = self.status(with_version=False)
        if current.running:
            assert current.pid is not None
            raise AsteriskAlreadyRunning(
                f"Asterisk уже запущен (pid {current.pid}, {self.runtime_dir})", current.pid
            )
        binary = self._binary()
        if len(str(self.ctl_socket)) > _MAX_SOCKET_PATH:
            raise AsteriskStartError(
                f"слишком длинный путь управляющего сокета ({len(str(self.ctl_socket))} "
                f"> {_MAX_SOCKET_PATH}): {self.ctl_socket}; укажите короче asterisk_runtime_dir"
            )
        self._check_ports_free()
        self.prepare()
        deadline = time.monotonic() + timeout
        with open(self.startup_log, "ab") as out:
            proc = subprocess.run(
                [binary, "-C", str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if proc.returncode != 0:
            raise AsteriskStartError(
                f"asterisk завершился с кодом {proc.returncode}{self._log_tail()}"
            )
        try:
            self._wait_fully_booted(deadline)
            self._wait_ami(deadline)
        except AsteriskStartError:
            self.stop(timeout=5)
            raise
        return self.status()

    def stop(self, timeout: float = 15.0) -> bool:
        """Stop Asterisk (``core stop now``, then SIGTERM, then SIGKILL). False if none ran."""
        pid = self._running_pid()
        if pid is None:
            self._cleanup_run_files()
            return False
        deadline = time.monotonic() + timeout
        try:
            self._ctl("core stop now", timeout=max(1.0, min(5.0, timeout / 3)))
        except (AsteriskError, subprocess.TimeoutExpired):
            pass
        if not _wait_gone(pid, min(deadline, time.monotonic() + timeout * 0.6)):
            _signal(pid, signal.SIGTERM)
            if not _wait_gone(pid, deadline):
                _signal(pid, signal.SIGKILL)
                _wait_gone(pid, time.monotonic() + 5)
        self._cleanup_run_files()
        return True

    def status(self, *, with_version: bool = True) -> AsteriskStatus:
        pid = self._running_pid()
        if pid is None:
            return AsteriskStatus(running=False)
        version = None
        if with_version:
            try:
                version = self.rx("core show version", timeout=5).strip() or None
            except (AsteriskError, subprocess.TimeoutExpired):
                version = None
        return AsteriskStatus(running=True, pid=pid, version=version)

    def rx(self, command: str, timeout: float = 10.0) -> str:
        """Run one CLI command on the running Asterisk and return its output."""
        if self._running_pid() is None:
            raise AsteriskError(f"Asterisk не запущен ({self.runtime_dir})")
        return self._ctl(command, timeout=timeout)

    def reload(self, timeout: float = 10.0) -> list[str]:
        """Render the configuration again and have the running Asterisk re-read it: the
        dialplan, PJSIP (phones, trunk, transport options), queues, RTP, music on hold and
        AMI users. Calls in progress keep going (none of these reloads hangs up a channel).
        Returns the console commands run; raises AsteriskError if none runs or one fails."""
        if self._running_pid() is None:
            raise AsteriskError(f"Asterisk не запущен ({self.runtime_dir})")
        self.render()
        for command in RELOAD_COMMANDS:
            self._ctl(command, timeout=timeout)
        return list(RELOAD_COMMANDS)

    def prepare(self) -> None:
        """Write the runtime tree (configs, folders, sound links) without starting anything."""
        for d in (self.run_dir, self.log_dir, self.lib_dir, self.spool_dir, self.cache_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.render()
        self._link_data()
        self._link_sounds()
        self._cleanup_run_files()

    def render(self) -> None:
        """Write ``<runtime>/etc`` afresh from asterisk_conf/ and the settings (only that:
        safe while Asterisk runs, which reads it on start and on reload)."""
        if self.etc_dir.exists():
            shutil.rmtree(self.etc_dir)
        render_config(
            Path(self.settings.asterisk_conf_dir),
            self.etc_dir,
            self.config_values(),
            flags=network_flags(self.settings, self.sip_port),
            include_sim=self.include_sim,
            sim_operators=self.settings.sim_operators,
            secrets_dir=Path(self.settings.asterisk_secrets_dir),
        )

    def config_values(self) -> dict[str, str]:
        s = self.settings
        return {
            "ETC_DIR": str(self.etc_dir),
            "MODULES_DIR": str(MODULES_DIR),
            "VARLIB_DIR": str(self.lib_dir),
            "DATA_DIR": str(self.lib_dir),
            "SPOOL_DIR": str(self.spool_dir),
            "RUN_DIR": str(self.run_dir),
            "LOG_DIR": str(self.log_dir),
            "CACHE_DIR": str(self.cache_dir),
            "AMI_BIND": s.ami_host,
            "AMI_PORT": str(s.ami_port),
            "AMI_USER": s.ami_user,
            "AMI_SECRET": s.ami_secret,
            "AMI_PERMIT": self.ami_permit,
            **network_values(s, self.sip_bind, self.sip_port),
            **node_trunk_values(s),
            "QUEUE_WRAPUPTIME": str(int(self.queue_wrapup_time)),
            "SIM_OPERATOR_ANSWER_DELAY": wait_seconds(s.sim_operator_answer_delay),
            "SIM_OPERATOR_TALK_TIME": wait_seconds(s.sim_operator_talk_time),
            "SIM_SIP_SECRET": sim_sip_secret(s.ami_secret),
        }

    # --- internals -------------------------------------------------------------------

    def _binary(self) -> str:
        name = self.settings.asterisk_binary
        found = shutil.which(name) or (
            name if os.path.isabs(name) and os.access(name, os.X_OK) else None
        )
        if found is None:
            for candidate in ("/usr/sbin/asterisk", "/usr/local/sbin/asterisk"):
                if name == "asterisk" and os.access(candidate, os.X_OK):
                    return candidate
            raise AsteriskStartError(
                f"программа {name!r} не найдена; установите Asterisk: sudo scripts/install-asterisk"
            )
        return found

    def _ctl(self, command: str, timeout: float) -> str:
        proc = subprocess.run(
            [self._binary(), "-C", str(self.config_file), "-rx", command],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise AsteriskError(
                f"asterisk -rx {command!r}: код {proc.returncode}: "
                f"{(proc.stderr or proc.stdout).strip()}"
            )
        return _ANSI.sub("", proc.stdout)

    def _running_pid(self) -> int | None:
        """The pid of the Asterisk daemon running from our config, or None.

        The pid file comes first; if it is missing or stale (it briefly names the parent
        while Asterisk daemonizes), the process table is searched for ``asterisk -C
        <our asterisk.conf>`` (not a ``-rx`` client).
        """
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid is not None and self._is_our_daemon(pid):
            return pid
        try:
            entries = os.listdir("/proc")
        except OSError:
            return None
        for entry in entries:
            if entry.isdigit() and self._is_our_daemon(int(entry)):
                return int(entry)
        return None

    def _is_our_daemon(self, pid: int) -> bool:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        # a zombie has an empty command line; pids get reused: the config must be ours
        config = str(self.config_file).encode()
        if config not in argv or argv.index(config) == 0 or argv[argv.index(config) - 1] != b"-C":
            return False
        return not any(arg.startswith(b"-r") or arg.startswith(b"-x") for arg in argv)

    def _wait_fully_booted(self, deadline: float) -> None:
        last = ""
        # Asterisk writes its pid file before daemon() and again in the child: for a moment
        # it names the parent, which has exited. Only a pid that stays dead means a crash.
        dead_since: float | None = None
        while True:
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                raise AsteriskStartError(
                    f"Asterisk не загрузился за отведённое время ({last}){self._log_tail()}"
                )
            if self._running_pid() is not None:
                dead_since = None
            elif dead_since is None:
                dead_since = now
            elif now - dead_since > _DEAD_GRACE:
                raise AsteriskStartError(
                    f"процесс Asterisk завершился при запуске{self._log_tail()}"
                )
            if self.ctl_socket.exists():
                try:
                    self._ctl("core waitfullybooted", timeout=max(0.5, remaining))
                    return
                except AsteriskError as exc:
                    last = str(exc)
                except subprocess.TimeoutExpired:
                    continue
            time.sleep(0.05)

    def _wait_ami(self, deadline: float) -> None:
        host = self.settings.ami_host
        port = self.settings.ami_port
        while True:
            try:
                with socket.create_connection((host, port), timeout=1.0) as sock:
                    sock.settimeout(max(0.5, deadline - time.monotonic()))
                    banner = sock.recv(128)
                if banner.startswith(b"Asterisk Call Manager"):
                    return
                raise AsteriskStartError(
                    f"на порту AMI {host}:{port} отвечает не Asterisk: {banner[:40]!r}"
                )
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise AsteriskStartError(
                        f"AMI {host}:{port} не отвечает: {exc}{self._log_tail()}"
                    ) from None
                time.sleep(0.05)

    def _check_ports_free(self) -> None:
        s = self.settings
        if not _tcp_port_free(s.ami_host, s.ami_port):
            raise AsteriskStartError(
                f"порт AMI {s.ami_host}:{s.ami_port} уже занят (другой Asterisk?); "
                "укажите другой CC_AMI_PORT"
            )
        if self.sip_port and not _udp_port_free(self.sip_bind, self.sip_port):
            raise AsteriskStartError(f"порт SIP {self.sip_bind}:{self.sip_port}/udp уже занят")

    def _link_data(self) -> None:
        data = next((d for d in SYSTEM_DATA_DIRS if (d / "documentation").is_dir()), None)
        if data is None:
            raise AsteriskStartError(
                "не найдена документация Asterisk (documentation/ в "
                + " или ".join(str(d) for d in SYSTEM_DATA_DIRS)
                + "); переустановите пакет asterisk"
            )
        for entry in data.iterdir():
            if entry.name in ("sounds", "moh") or not entry.is_dir():
                continue
            link = self.lib_dir / entry.name
            if link.is_symlink():
                link.unlink()
            elif link.exists():
                continue
            link.symlink_to(entry, target_is_directory=True)

    def _link_sounds(self) -> None:
        target = self.sounds_link_dir
        if target.is_symlink() or target.is_file():
            target.unlink()
        target.mkdir(parents=True, exist_ok=True)
        for entry in target.iterdir():
            if entry.is_symlink():
                entry.unlink()
        sounds_dir = Path(self.settings.sounds_dir).resolve()
        sounds_dir.mkdir(parents=True, exist_ok=True)
        _relink(target / "cc", sounds_dir)
        system = next((d for d in SYSTEM_SOUNDS_DIRS if d.is_dir()), None)
        if system is not None:
            for entry in system.iterdir():
                if not _present(target / entry.name):
                    _relink(target / entry.name, entry)
            for alias, candidates in LANGUAGE_ALIASES.items():
                if (target / alias).exists():
                    continue
                for name in candidates:
                    if (system / name).is_dir():
                        _relink(target / alias, system / name)
                        break
        moh = self.lib_dir / "moh"
        source = next((d for d in (sounds_dir / "moh", *SYSTEM_MOH_DIRS) if _has_files(d)), None)
        if source is not None:
            if moh.is_dir() and not moh.is_symlink():
                shutil.rmtree(moh)
            _relink(moh, source)
        else:
            if moh.is_symlink():
                moh.unlink()
            moh.mkdir(exist_ok=True)

    def _cleanup_run_files(self) -> None:
        for path in (self.pid_file, self.ctl_socket):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def _log_tail(self, lines: int = 30) -> str:
        chunks = []
        for path in (self.startup_log, self.log_file):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            tail = text.splitlines()[-lines:]
            if tail:
                chunks.append(f"\n--- {path} ---\n" + "\n".join(tail))
        return "".join(chunks)


def _tcp_port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _udp_port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _has_files(folder: Path) -> bool:
    try:
        return folder.is_dir() and any(p.is_file() for p in folder.iterdir())
    except OSError:
        return False


def _present(path: Path) -> bool:
    return path.is_symlink() or path.exists()


def _relink(link: Path, target: Path) -> None:
    """Make `link` a symlink to `target`, replacing an older symlink."""
    if link.is_symlink():
        link.unlink()
    link.symlink_to(target, target_is_directory=target.is_dir())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _wait_gone(pid: int, deadline: float) -> bool:
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass

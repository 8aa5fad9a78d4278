"""Run a throw-away PostgreSQL from Debian's `postgresql` package (tests, benchmarks).

`LocalPostgres` runs ``initdb`` into a fresh data directory and ``pg_ctl start`` on a
free TCP port of 127.0.0.1, with the socket in that directory too: nothing of the
packaged cluster (``/etc/postgresql``, ``/var/run/postgresql``, port 5432) is touched,
so it runs next to one. PostgreSQL refuses to run as root, so under root the server runs
as the ``postgres`` system user (the package creates it) through ``runuser``; the data
directory is then that user's.

Durability is switched off (``fsync``, ``synchronous_commit``, ``full_page_writes``):
the data is thrown away at the end, and the tests' many small commits would otherwise
wait for the disk. Authentication is ``trust`` for local connections; the superuser is
``postgres``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_LIB = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "listen_addresses": "127.0.0.1",
}


class PostgresError(RuntimeError):
    """PostgreSQL could not be found, started or stopped."""


def find_bindir() -> Path:
    """The newest installed server's bin folder (Debian: /usr/lib/postgresql/<major>/bin)."""
    candidates = sorted(
        (p for p in PG_LIB.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise PostgresError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
            "run `sudo scripts/install-test-tools`"
        )
    return candidates[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    """A private PostgreSQL server: `start()`, `url(database)`, `create_database()`, `stop()`."""

    def __init__(self, base_dir: Path | None = None, port: int = 0) -> None:
        self.bindir = find_bindir()
        # a short path of its own under /tmp: the server user must reach it (pytest's
        # tmp folders are private to the user running the tests)
        self.dir = Path(tempfile.mkdtemp(prefix="cc-pg-", dir=base_dir or "/tmp"))
        self.data = self.dir / "data"
        self.port = port or _free_port()
        self._as_root = os.geteuid() == 0
        self._started = False

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_root:
            cmd = ["runuser", "-u", SERVER_USER, "--", *cmd]
        result = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=self.dir, check=False
        )
        if result.returncode != 0:
            raise PostgresError(
                f"{' '.join(args[:2])} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )
        return result

    def start(self, timeout: float = 30) -> None:
        if self._as_root:
            shutil.chown(self.dir, SERVER_USER, SERVER_USER)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            SERVER_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        settings = [f"-c {k}={v}" for k, v in FAST_SETTINGS.items()]
        options = " ".join([f"-p {self.port}", f"-k {self.dir}", *settings])
        self._run(
            str(self.bindir / "pg_ctl"),
            "start",
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            str(int(timeout)),
            timeout=timeout + 10,
        )
        self._started = True

    def url(self, database: str = "postgres", driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://{SERVER_USER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        return self._run(
            str(self.bindir / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            SERVER_USER,
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-qAt",
            "-c",
            sql,
        ).stdout

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database, empty or a copy of `template`; returns its SQLAlchemy URL."""
        for given in (name, template or "x"):
            if not given.replace("_", "").isalnum():
                raise ValueError(f"database name must be letters, digits and _: {given!r}")
        self.psql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def stop(self, timeout: float = 30) -> None:
        try:
            if self._started:
                self._run(
                    str(self.bindir / "pg_ctl"),
                    "stop",
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    str(int(timeout)),
                    timeout=timeout + 10,
                )
                self._started = False
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

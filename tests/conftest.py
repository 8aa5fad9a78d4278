"""Fixtures shared by every kind of test: the session's one real Asterisk (integration and
end-to-end tests alike use the same instance) and its databases.

The database backend of a run is `--db sqlite` (the default: a file per test) or
`--db postgresql` (env `CC_TEST_DATABASE=postgresql`): a fresh database per test in the
session's own throw-away PostgreSQL (`postgres`, started only when a test needs it).
Tests of what only PostgreSQL shows (several processes claiming at once) ask for
`pg_database` and run on PostgreSQL whatever `--db` says."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from contact_center.devtools.local_asterisk import LocalAsterisk
from contact_center.devtools.local_postgres import LocalPostgres
from tests.integration.conftest import AsteriskFixture, asterisk_settings, short_runtime_dir


@pytest.fixture(scope="session")
def asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskFixture]:
    """The session's Asterisk: `.settings` (AMI port, secret...) and `.local` (LocalAsterisk)."""
    settings = asterisk_settings(short_runtime_dir(tmp_path_factory, "ast"))
    local = LocalAsterisk(settings, sip_port=0)
    binary = settings.asterisk_binary
    if not (
        any(os.access(Path(d) / binary, os.X_OK) for d in os.environ.get("PATH", "").split(":"))
        or os.access("/usr/sbin/asterisk", os.X_OK)
    ):
        pytest.fail("Asterisk is not installed: run `sudo scripts/install-asterisk`")
    local.start(timeout=30)
    try:
        yield AsteriskFixture(settings=settings, local=local)
    finally:
        local.stop(timeout=15)


BACKENDS = ("sqlite", "postgresql")
# `new_database(name)`: the URL of a fresh, empty database (no schema yet)
NewDatabase = Callable[[str], str]
_database_numbers = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=BACKENDS,
        default=os.environ.get("CC_TEST_DATABASE", "sqlite"),
        help="database backend of the tests' databases (default: env CC_TEST_DATABASE or sqlite)",
    )


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """The session's own PostgreSQL (Debian's package, a throw-away data dir, a free port)."""
    server = LocalPostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _fresh(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> NewDatabase:
    def make(name: str) -> str:
        if backend == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path / name}.db"
        server: LocalPostgres = request.getfixturevalue("postgres")
        label = re.sub(r"[^a-z0-9_]", "_", name.lower())[:40]
        return server.create_database(f"t{next(_database_numbers)}_{label}")

    return make


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """The run's database backend: `sqlite` or `postgresql` (`--db`)."""
    return str(request.config.getoption("--db"))


@pytest.fixture
def new_database(request: pytest.FixtureRequest, tmp_path: Path, db_backend: str) -> NewDatabase:
    """`new_database("name")`: a fresh empty database on the run's backend (`--db`)."""
    return _fresh(request, tmp_path, db_backend)


@pytest.fixture
def pg_database(request: pytest.FixtureRequest, tmp_path: Path) -> NewDatabase:
    """`pg_database("name")`: a fresh empty database on the session's PostgreSQL."""
    return _fresh(request, tmp_path, "postgresql")


@pytest.fixture(params=BACKENDS)
def any_database(request: pytest.FixtureRequest, tmp_path: Path) -> NewDatabase:
    """`any_database("name")`: the test runs once per backend, whatever `--db` says."""
    return _fresh(request, tmp_path, str(request.param))

"""Migration 0003 (users, sessions, login failures, audit log) matches the models, keeps the
core a single line of revisions and downgrades cleanly."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from contact_center.storage import migrate
from contact_center.storage.models import metadata

USER_TABLES = {"users", "user_sessions", "login_failures", "audit_log"}


def _tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _touches_user_tables(diff: Any) -> bool:
    ops = diff if isinstance(diff, list) else [diff]
    text = repr(ops)
    return any(f"'{t}'" in text or f"Table('{t}'" in text for t in USER_TABLES)


def test_the_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    db = tmp_path / "cc.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{db}")
    assert USER_TABLES <= _tables(db)
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = [d for d in compare_metadata(context, metadata) if _touches_user_tables(d)]
    finally:
        engine.dispose()
    assert diffs == []


def test_the_core_keeps_one_line_of_revisions() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite://"))
    core_heads = [h for h in script.get_heads() if not script.get_revision(h).branch_labels]
    assert core_heads == ["0005"]
    assert script.get_revision("0005").down_revision == "0004"
    assert script.get_revision("0004").down_revision == "0003"
    assert script.get_revision("0003").down_revision == "0002"


def test_0003_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    migrate.upgrade(url)
    command.downgrade(migrate.alembic_config(url), "0002")
    assert not USER_TABLES & _tables(tmp_path / "cc.db")
    assert "customers" in _tables(tmp_path / "cc.db")
    migrate.upgrade(url)
    assert USER_TABLES <= _tables(tmp_path / "cc.db")

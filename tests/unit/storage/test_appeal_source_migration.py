"""Migration h0002 (appeal source and context) matches the models and downgrades cleanly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from contact_center.storage import migrate
from contact_center.storage.models import metadata


def _columns(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[1] for r in conn.execute("PRAGMA table_info(hotline_appeals)")}


def test_appeals_table_matches_the_model_and_downgrades(tmp_path: Path) -> None:
    db = tmp_path / "cc.db"
    url = f"sqlite+aiosqlite:///{db}"
    migrate.upgrade(url)
    assert {"source", "context"} <= _columns(db)
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = [d for d in compare_metadata(context, metadata) if "hotline_appeals" in repr(d)]
    finally:
        engine.dispose()
    assert diffs == []
    command.downgrade(migrate.alembic_config(url), "h0001")
    assert not {"source", "context"} & _columns(db)

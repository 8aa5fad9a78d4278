"""Run Alembic migrations from code (a CLI step, before any event loop runs).

The core's migrations live in `migrations/versions`; each plugin brings its own version
location (`Plugin.schema()`), one branch per package, and `upgrade` goes to every head.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path

from alembic import command
from alembic.config import Config

from contact_center.plugins import Plugin
from contact_center.storage.database import create_engine, ensure_sqlite_dir
from contact_center.storage.models import metadata

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str, plugins: Iterable[Plugin] = ()) -> Config:
    locations = [MIGRATIONS_DIR / "versions"]
    for plugin in plugins:
        schema = plugin.schema()
        if schema is not None:
            locations.append(schema.versions)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # os.pathsep, not spaces: an install path may contain a space
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(str(p) for p in locations))
    # '%' is configparser interpolation syntax; URLs may contain it (encoded passwords)
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    # env.py compares against the core's and every plugin's tables (schema() imported them)
    cfg.attributes["target_metadata"] = metadata
    return cfg


def upgrade(database_url: str, plugins: Iterable[Plugin] = (), revision: str = "heads") -> None:
    ensure_sqlite_dir(database_url)
    command.upgrade(alembic_config(database_url, plugins), revision)


def current_revision(database_url: str) -> str | None:
    """The applied revisions, comma-separated (each package may have its own branch)."""
    return asyncio.run(_current_revision(database_url))


async def current_heads(database_url: str) -> frozenset[str]:
    """The applied revisions (empty: no schema), from a running loop (`doctor`)."""
    return frozenset(filter(None, ((await _current_revision(database_url)) or "").split(", ")))


async def _current_revision(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            heads = await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_heads()
            )
    finally:
        await engine.dispose()
    return ", ".join(sorted(heads)) or None

"""Every migration, the core's and the autoinformer's, runs on SQLite and on PostgreSQL:
up to the heads (the schema then matches the models), down to nothing, and up again."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from autoinformer.plugin import AutoinformerPlugin
from contact_center.storage import migrate
from contact_center.storage.database import create_engine
from contact_center.storage.models import metadata
from tests.conftest import NewDatabase

HEADS = "0005, a0010, h0003"


async def _inspect(url: str) -> tuple[set[str], list[Any]]:
    """The tables there, and how the schema differs from the models."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:

            def look(sync: Any) -> tuple[set[str], list[Any]]:
                context = MigrationContext.configure(sync, opts={"compare_type": True})
                return set(inspect(sync).get_table_names()), compare_metadata(context, metadata)

            return await conn.run_sync(look)
    finally:
        await engine.dispose()


def test_all_migrations_upgrade_to_the_models_downgrade_to_nothing_and_upgrade_again(
    any_database: NewDatabase,
) -> None:
    url = any_database("migrations")
    plugins = [AutoinformerPlugin()]

    migrate.upgrade(url, plugins)
    assert migrate.current_revision(url) == HEADS
    tables, diffs = asyncio.run(_inspect(url))
    assert {"customers", "users", "hotline_appeals", "ai_campaigns", "ai_letters"} <= tables
    assert diffs == []

    command.downgrade(migrate.alembic_config(url, plugins), "base")
    assert migrate.current_revision(url) is None
    tables, _ = asyncio.run(_inspect(url))
    assert tables <= {"alembic_version"}

    migrate.upgrade(url, plugins)
    assert migrate.current_revision(url) == HEADS
    assert asyncio.run(_inspect(url))[1] == []

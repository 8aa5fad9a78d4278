"""Scenarios as stored versions: adding a changed file makes a new version; a campaign keeps
the version it was created with."""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.exceptions import ScenarioError, ScenarioNotFound
from autoinformer.models import ScenarioRow
from autoinformer.scenarios import (
    Scenario,
    builtin_scenarios,
    load_scenario_file,
    scenario_from_body,
    scenario_from_text,
)

log = logging.getLogger(__name__)


class ScenarioStore:
    """Scenarios as stored versions: adding a changed file makes a new version; campaigns
    keep the version they were created with."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], prompts: Collection[str] | None
    ) -> None:
        self._sessions = sessions
        self._prompts = prompts
        self._cache: dict[int, Scenario] = {}
        self._builtin_done = False

    async def add(self, scenario: Scenario, source: str) -> tuple[ScenarioRow, bool]:
        """Store `scenario`; returns (row, created). An unchanged scenario is not duplicated."""
        body = scenario.body()
        async with self._sessions() as session, session.begin():
            latest = await session.scalar(
                select(ScenarioRow)
                .where(ScenarioRow.name == scenario.name)
                .order_by(ScenarioRow.version.desc())
                .limit(1)
            )
            if latest is not None and latest.body == body:
                return latest, False
            row = ScenarioRow(
                name=scenario.name,
                version=(latest.version + 1) if latest else 1,
                kind=scenario.kind,
                title=scenario.title,
                body=body,
                source=source,
            )
            session.add(row)
        return row, True

    async def add_file(self, path: Path) -> tuple[ScenarioRow, bool]:
        await self.ensure_builtin()
        return await self.add(load_scenario_file(path, prompts=self._prompts), path.name)

    async def add_text(self, text: str, source: str) -> tuple[ScenarioRow, bool]:
        """A scenario sent as text (the web console's upload); `source` names it in errors."""
        await self.ensure_builtin()
        return await self.add(scenario_from_text(text, source, prompts=self._prompts), source)

    async def ensure_builtin(self) -> None:
        """The shipped scenarios (debt-notice, outage-warning, reminder, tariff-change)."""
        if self._builtin_done:
            return
        for scenario in builtin_scenarios(prompts=self._prompts):
            await self.add(scenario, f"builtin:{scenario.name}")
        self._builtin_done = True

    async def latest(self) -> list[ScenarioRow]:
        await self.ensure_builtin()
        async with self._sessions() as session:
            newest = (
                select(ScenarioRow.name, func.max(ScenarioRow.version).label("v"))
                .group_by(ScenarioRow.name)
                .subquery()
            )
            rows = await session.scalars(
                select(ScenarioRow)
                .join(
                    newest,
                    (ScenarioRow.name == newest.c.name) & (ScenarioRow.version == newest.c.v),
                )
                .order_by(ScenarioRow.name)
            )
            return list(rows)

    async def get(self, ref: str) -> tuple[ScenarioRow, Scenario]:
        """`name` (latest version) or `name@version`."""
        await self.ensure_builtin()
        name, _, version = ref.partition("@")
        query = select(ScenarioRow).where(ScenarioRow.name == name)
        if version:
            if not version.isdigit():
                raise ScenarioNotFound(f"версия сценария должна быть числом: «{ref}»")
            query = query.where(ScenarioRow.version == int(version))
        async with self._sessions() as session:
            row = await session.scalar(query.order_by(ScenarioRow.version.desc()).limit(1))
        if row is None:
            raise ScenarioNotFound(f"нет сценария «{ref}» (список: contact-center scenario list)")
        return row, self._parse(row)

    async def by_id(self, scenario_id: int) -> Scenario:
        cached = self._cache.get(scenario_id)
        if cached is not None:
            return cached
        async with self._sessions() as session:
            row = await session.get(ScenarioRow, scenario_id)
        if row is None:
            raise ScenarioNotFound(f"нет сценария с номером {scenario_id}")
        return self._parse(row)

    def _parse(self, row: ScenarioRow) -> Scenario:
        if row.id not in self._cache:
            try:
                self._cache[row.id] = scenario_from_body(row.body, f"{row.name}@{row.version}")
            except ScenarioError:
                log.exception("stored scenario %s@%s no longer parses", row.name, row.version)
                raise
        return self._cache[row.id]

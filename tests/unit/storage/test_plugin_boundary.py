"""The core/plugin boundary: the core never imports the autoinformer; the autoinformer's
tables come in through its own migrations, and a database made before they moved upgrades
with `db upgrade` and keeps its data."""

from __future__ import annotations

import ast
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from contact_center.cli import main
from contact_center.storage import migrate

ROOT = Path(__file__).resolve().parents[3]
# made by `db upgrade`, `customers import` and two `campaign create` on main 6b352d1, the
# last commit whose autoinformer migrations lived in the core
PREVIOUS_MAIN_DB = ROOT / "tests" / "data" / "previous_main_6b352d1.db"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_core_module_imports_the_autoinformer() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "contact_center").rglob("*.py"))
        for name in sorted(_imports(path))
        if name == "autoinformer" or name.startswith("autoinformer.")
    ]
    assert offenders == []
    # and the migrations the core runs are its own
    core_versions = ROOT / "contact_center" / "storage" / "migrations" / "versions"
    assert not [p.name for p in core_versions.glob("a*.py")]


def _cli(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"CC_DATABASE_URL": url})


def _tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_a_database_from_the_previous_main_upgrades_and_keeps_its_campaigns(
    tmp_path: Path,
) -> None:
    db = tmp_path / "previous.db"
    shutil.copyfile(PREVIOUS_MAIN_DB, db)
    url = f"sqlite+aiosqlite:///{db}"
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT id, name, status FROM ai_campaigns ORDER BY id").fetchall()
        contacts = conn.execute("SELECT count(*) FROM ai_contacts").fetchone()[0]
    assert len(before) == 2 and contacts == 8

    upgraded = _cli(url, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert "a0010" in upgraded.output and "h0003" in upgraded.output

    with sqlite3.connect(db) as conn:
        after = conn.execute("SELECT id, name, status FROM ai_campaigns ORDER BY id").fetchall()
        assert conn.execute("SELECT count(*) FROM ai_contacts").fetchone()[0] == contacts
        assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 8
    assert after == before
    listing = _cli(url, "campaign", "list")
    assert listing.exit_code == 0, listing.output
    assert "Долги декабрь" in listing.output and "Письма" in listing.output
    status = _cli(url, "campaign", "status", "1")
    assert status.exit_code == 0, status.output


def test_the_plugins_tables_come_from_the_plugins_migrations(tmp_path: Path) -> None:
    from autoinformer.plugin import AutoinformerPlugin

    core_only, both = tmp_path / "core.db", tmp_path / "both.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{core_only}")
    migrate.upgrade(f"sqlite+aiosqlite:///{both}", [AutoinformerPlugin()])
    assert {"customers", "hotline_appeals", "operators"} <= _tables(core_only)
    assert not {t for t in _tables(core_only) if t.startswith("ai_")}
    assert {"ai_campaigns", "ai_contacts", "ai_letters"} <= _tables(both)
    assert migrate.current_revision(f"sqlite+aiosqlite:///{both}") == "0005, a0010, h0003"


@pytest.mark.parametrize("command", [("db", "upgrade"), ("db", "current")])
def test_db_commands_see_the_installed_plugins(tmp_path: Path, command: tuple[str, ...]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    assert _cli(url, "db", "upgrade").exit_code == 0
    result = _cli(url, *command)
    assert result.exit_code == 0, result.output
    assert "a0010" in result.output

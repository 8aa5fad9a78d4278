"""`contact-center outages move` gives a registered outage new times (campaigns warning of
it follow); a missing outage or an end before the start is one line and exit 2."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from contact_center.cli import main
from contact_center.storage import migrate


def cli(db: Path, *args: str) -> Result:
    env = {"CC_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "CC_TIMEZONE": "Asia/Krasnoyarsk"}
    return CliRunner().invoke(main, list(args), env=env)


def test_an_outage_is_moved_and_listed_with_its_new_times(tmp_path: Path) -> None:
    db = tmp_path / "cc.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{db}")
    added = cli(
        db, "outages", "add", "--addresses", "ул. Чкалова",
        "--start", "2030-12-05 10:00", "--end", "2030-12-05 17:00",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    moved = cli(
        db, "outages", "move", "1", "--start", "2030-12-06 09:00", "--end", "06.12.2030 15:00"
    )
    assert moved.exit_code == 0, moved.output
    assert "Отключение 1 перенесено." in moved.output
    listing = cli(db, "outages", "list")
    assert "2030-12-06 09:00 — 2030-12-06 15:00" in listing.output

    backwards = cli(
        db, "outages", "move", "1", "--start", "2030-12-06 09:00", "--end", "2030-12-06 08:00"
    )
    assert backwards.exit_code == 2 and "раньше его начала" in backwards.output
    missing = cli(
        db, "outages", "move", "7", "--start", "2030-12-06 09:00", "--end", "2030-12-06 10:00"
    )
    assert missing.exit_code == 2 and "отключения 7 нет" in missing.output
    assert "Traceback" not in backwards.output + missing.output

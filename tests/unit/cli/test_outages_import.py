"""`contact-center outages import` refuses a file that is no CSV text with one line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from contact_center.cli import main

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def test_a_binary_file_is_refused_with_a_clear_line_and_exit_2(tmp_path: Path) -> None:
    picture = tmp_path / "outages.png"
    picture.write_bytes(PNG)
    result = CliRunner().invoke(
        main,
        ["outages", "import", str(picture)],
        env={"CC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"},
    )
    assert result.exit_code == 2
    assert "Файл outages.png не загружен: это не таблица CSV, а изображение PNG" in result.output
    assert "Traceback" not in result.output

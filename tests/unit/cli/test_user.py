"""`contact-center user ...`: passwords from stdin, Russian errors, exit 2 on bad input."""

from __future__ import annotations

import getpass
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from contact_center.cli import main
from contact_center.storage import migrate

PASSWORD = "пароль-админа-1"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("user-cli") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def db(migrated: Path, tmp_path: Path) -> Path:
    path = tmp_path / "cc.db"
    shutil.copyfile(migrated, path)
    return path


def cli(db: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(
        main, list(args), input=stdin, env={"CC_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    )


def test_add_reads_the_password_from_stdin_and_list_shows_the_user(db: Path) -> None:
    added = cli(db, "user", "add", "Ivanov", "--role", "supervisor", stdin=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert "Пользователь ivanov добавлен (супервизор)." in added.output
    with sqlite3.connect(db) as conn:
        [(stored,)] = conn.execute("SELECT password_hash FROM users").fetchall()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    listing = cli(db, "user", "list")
    assert listing.exit_code == 0, listing.output
    assert "ivanov" in listing.output and "супервизор" in listing.output
    assert "действует" in listing.output and "Пользователей: 1." in listing.output


def test_only_the_first_stdin_line_is_the_password(db: Path) -> None:
    assert (
        cli(
            db, "user", "add", "ivanov", "--role", "admin", stdin="first-line-1\nsecond\n"
        ).exit_code
        == 0
    )
    changed = cli(db, "user", "passwd", "ivanov", stdin="another-one-2\r\n")
    assert changed.exit_code == 0, changed.output
    assert "Пароль пользователя ivanov изменён" in changed.output


def test_a_bad_role_is_refused_in_russian_before_the_password(db: Path) -> None:
    result = cli(db, "user", "add", "ivanov", "--role", "boss", stdin=PASSWORD + "\n")
    assert result.exit_code == 2
    assert "роль «boss» неизвестна: допустимы operator, supervisor, admin" in result.output
    assert "Traceback" not in result.output


def test_a_duplicate_login_is_refused_and_the_first_kept(db: Path) -> None:
    assert cli(db, "user", "add", "ivanov", "--role", "operator", stdin=PASSWORD).exit_code == 0
    again = cli(db, "user", "add", "IVANOV", "--role", "admin", stdin="other-password-1")
    assert again.exit_code == 2
    assert "пользователь ivanov уже есть" in again.output
    assert "оператор" in cli(db, "user", "list").output


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("short\n", "пароль слишком короткий: нужно не меньше 8 символов"),
        ("\n", "пароль не задан"),
        ("", "пароль не задан"),
    ],
)
def test_a_short_or_empty_password_is_refused(db: Path, stdin: str, message: str) -> None:
    result = cli(db, "user", "add", "ivanov", "--role", "operator", stdin=stdin)
    assert result.exit_code == 2
    assert message in result.output
    assert "Пользователей: 0." in cli(db, "user", "list").output


def test_a_bad_login_is_refused(db: Path) -> None:
    result = cli(db, "user", "add", "Иванов", "--role", "operator", stdin=PASSWORD)
    assert result.exit_code == 2
    assert "только латинские буквы, цифры и знаки . _ -" in result.output


def test_disable_enable_and_passwd_are_audited_as_the_unix_user(db: Path) -> None:
    assert cli(db, "user", "add", "ivanov", "--role", "operator", stdin=PASSWORD).exit_code == 0
    disabled = cli(db, "user", "disable", "ivanov")
    assert disabled.exit_code == 0, disabled.output
    assert "Пользователь ivanov отключён, его сеансы завершены." in disabled.output
    assert "отключён" in cli(db, "user", "list").output
    assert cli(db, "user", "enable", "ivanov").exit_code == 0
    assert cli(db, "user", "passwd", "ivanov", stdin="новый-пароль-2\n").exit_code == 0
    short = cli(db, "user", "passwd", "ivanov", stdin="1234\n")
    assert short.exit_code == 2 and "слишком короткий" in short.output

    audit = cli(db, "user", "audit", "--limit", "3")
    assert audit.exit_code == 0, audit.output
    lines = audit.output.splitlines()
    actor = f"cli:{getpass.getuser()}"
    assert [line.split()[2:4] for line in lines[:3]] == [
        [actor, "user.passwd"],
        [actor, "user.enable"],
        [actor, "user.disable"],
    ]
    assert "Записей: 3." in audit.output
    assert PASSWORD not in audit.output and "новый-пароль-2" not in audit.output


def test_an_unknown_login_is_named(db: Path) -> None:
    result = cli(db, "user", "disable", "nobody")
    assert result.exit_code == 2
    assert "пользователя nobody нет" in result.output


def test_a_database_without_the_users_tables_says_to_upgrade(tmp_path: Path) -> None:
    result = cli(tmp_path / "empty.db", "user", "list")
    assert result.exit_code == 1
    assert "выполните contact-center db upgrade" in result.output
    assert "Traceback" not in result.output


def test_at_a_terminal_the_password_is_typed_twice_without_echo(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import click.testing

    # CliRunner's stdin stands for a terminal; its hidden prompts do not echo what is typed
    monkeypatch.setattr(click.testing._NamedTextIOWrapper, "isatty", lambda self: True)
    typed = "mismatch-1\nmismatch-2\n" + PASSWORD + "\n" + PASSWORD + "\n"
    result = cli(db, "user", "add", "ivanov", "--role", "admin", stdin=typed)
    assert result.exit_code == 0, result.output
    assert "Повторите пароль" in result.output
    assert PASSWORD not in result.output and "mismatch" not in result.output
    assert "Пользователь ivanov добавлен" in result.output

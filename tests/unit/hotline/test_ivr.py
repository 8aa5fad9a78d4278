"""IVR script validation: every error names the file, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from contact_center.hotline.exceptions import IvrError
from contact_center.hotline.ivr import (
    BUILTIN,
    MAX_DEPTH,
    Action,
    MenuCursor,
    load_scripts,
    parse_menu,
)
from contact_center.settings import PROJECT_ROOT
from contact_center.speech.prompts import PromptCatalog

PROMPTS = frozenset(PromptCatalog.load())
MAIN = """
prompt = "{prompt:main_menu}"
[keys]
1 = "outages"
2 = "debt"
0 = "operator"
"""


def menu(keys: str, prompt: str = "{prompt:main_menu}", extra: str = "") -> str:
    return f'prompt = "{prompt}"\n{extra}\n[keys]\n{keys}\n'


def test_shipped_scripts_are_valid_and_match_the_issue() -> None:
    files = {
        p.name: p.read_text(encoding="utf-8") for p in (PROJECT_ROOT / "ivr_scripts").glob("*.toml")
    }
    result = load_scripts(files, prompts=PROMPTS)
    assert result.ok, result.errors
    root = result.scripts.root
    assert root.keys["1"] == Action("outages")
    assert root.keys["2"] == Action("debt")
    assert root.keys["0"] == Action("operator")


def test_menu_fields_and_actions() -> None:
    m = parse_menu(
        "main",
        menu(
            '1 = "outages"\n3 = { action = "menu", menu = "info" }\n'
            '4 = { action = "play", message = "Офис работает с восьми часов." }\n"*" = "repeat"',
            extra='timeout = 3\nretries = 1\non_timeout = "hangup"',
        ),
        source="main.toml",
        prompts=PROMPTS,
    )
    assert m.timeout == 3.0 and m.retries == 1 and m.on_timeout == Action("hangup")
    assert m.keys["3"] == Action("menu", menu="info")
    assert m.keys["4"].message == "Офис работает с восьми часов."
    assert m.escape_digits == "*134"


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("prompt = ", "", "ошибка синтаксиса TOML"),
        ('[keys]\n1 = "debt"\n', "prompt", "нет обязательного ключа"),
        (menu('1 = "debtt"'), "keys.1.action", "неизвестное действие 'debtt'"),
        (menu('12 = "debt"'), "keys.12", "клавиша должна быть одной из"),
        (menu('1 = { action = "menu" }'), "keys.1.menu", "ожидается имя файла меню"),
        (menu('1 = { action = "play" }'), "keys.1.message", "нет сообщения"),
        (menu('1 = { action = "debt", menu = "x" }'), "keys.1.menu", "лишний параметр"),
        (menu('1 = "debt"', prompt="{prompt:no_such_prompt}"), "prompt", "неизвестные подсказки"),
        (menu('1 = "debt"', prompt="{money:debt}"), "prompt", "нет полей абонента"),
        (menu('1 = "debt"', extra="timeout = 0"), "timeout", "от 1 до 60"),
        (menu('1 = "debt"', extra="retries = 9"), "retries", "от 0 до 5"),
        (menu('1 = "debt"', extra='on_timeout = "repeat"'), "on_timeout", "не подходит"),
        (menu('1 = "debt"', extra="colour = 1"), "colour", "неизвестный ключ"),
        ('prompt = "{prompt:main_menu}"\n', "keys", "непустая таблица"),
    ],
)
def test_broken_menu_names_file_key_and_problem(text: str, key: str, problem: str) -> None:
    with pytest.raises(IvrError) as caught:
        parse_menu("main", text, source="ivr_scripts/main.toml", prompts=PROMPTS)
    error = caught.value
    assert (error.file, error.key) == ("ivr_scripts/main.toml", key)
    assert problem in error.problem
    assert str(error).startswith("ivr_scripts/main.toml: ")


def chain(depth: int) -> dict[str, str]:
    """main -> m2 -> m3 ... a chain of `depth` levels."""
    names = ["main"] + [f"m{i}" for i in range(2, depth + 1)]
    files = {}
    for here, nxt in zip(names, [*names[1:], None], strict=True):
        keys = '0 = "operator"\n'
        if nxt:
            keys += f'1 = {{ action = "menu", menu = "{nxt}" }}\n'
        if here != "main":
            keys += '"*" = "back"\n'
        files[f"{here}.toml"] = menu(keys)
    return files


def test_four_levels_are_allowed_five_are_not() -> None:
    assert load_scripts(chain(MAX_DEPTH), prompts=PROMPTS).ok
    result = load_scripts(chain(MAX_DEPTH + 1), prompts=PROMPTS)
    assert result.refused
    (error,) = result.errors
    assert (error.file, error.key) == ("m4.toml", "keys.1.menu")
    assert "уровнем 5" in error.problem and "не более 4" in error.problem


@pytest.mark.parametrize(
    ("files", "file", "key", "problem"),
    [
        ({"other.toml": MAIN}, "main.toml", "", "нет главного меню"),
        ({"main.toml": menu('1 = { action = "menu", menu = "nope" }')}, "main.toml", "keys.1",
         "нет меню «nope»"),
        ({"main.toml": menu('"*" = "back"')}, "main.toml", "keys.*", "некуда вернуться"),
        ({"main.toml": menu('1 = { action = "menu", menu = "a" }'),
          "a.toml": menu('1 = { action = "menu", menu = "main" }')}, "a.toml", "keys.1.menu",
         "цикл"),
    ],
)  # fmt: skip
def test_set_errors(files: dict[str, str], file: str, key: str, problem: str) -> None:
    result = load_scripts(files, prompts=PROMPTS)
    assert result.refused and result.scripts is BUILTIN
    (error,) = result.errors
    assert (error.file, error.key) == (file, key) and problem in error.problem


def test_broken_file_keeps_its_last_good_version() -> None:
    good = load_scripts({"main.toml": MAIN}, prompts=PROMPTS)
    broken = load_scripts(
        {"main.toml": menu('2 = "debtt"')}, prompts=PROMPTS, previous=good.scripts
    )
    assert broken.kept == ("main",) and not broken.refused
    assert broken.scripts.root.keys["2"] == Action("debt")
    assert [e.key for e in broken.errors] == ["keys.2.action"]


def test_a_set_broken_as_a_whole_keeps_the_previous_set() -> None:
    good = load_scripts({"main.toml": MAIN}, prompts=PROMPTS)
    bad = {"main.toml": menu('3 = { action = "menu", menu = "gone" }')}
    result = load_scripts(bad, prompts=PROMPTS, previous=good.scripts)
    assert result.refused and result.scripts is good.scripts


def test_no_good_version_ever_falls_back_to_the_operator() -> None:
    result = load_scripts({"main.toml": "garbage ="}, prompts=PROMPTS)
    assert result.scripts is BUILTIN
    assert BUILTIN.root.keys == {"0": Action("operator")}
    assert BUILTIN.root.on_timeout == Action("operator")


def test_cursor_goes_down_and_back() -> None:
    scripts = load_scripts(chain(3), prompts=PROMPTS).scripts
    cursor = MenuCursor(scripts)
    cursor.enter("m2")
    cursor.enter("m3")
    assert cursor.menu.name == "m3"
    cursor.back()
    cursor.back()
    cursor.back()
    assert cursor.menu.name == "main"


def test_menu_files_on_disk_are_named_by_stem(tmp_path: Path) -> None:
    with pytest.raises(IvrError, match="имя файла меню"):
        parse_menu("Main Menu", MAIN, source="Main Menu.toml", prompts=PROMPTS)

"""IVR menus as data: one TOML file per menu in `ivr_scripts/`, validated before use.

Pure: texts in, menus or errors out (the service reads the files). Every call starts in the
menu `main` (file `main.toml`)::

    prompt = "{prompt:main_menu}"   # a speech message: prompts and plain text
    timeout = 5                     # seconds to wait for a key after the prompt
    retries = 2                     # repeats after no key or a wrong key
    on_timeout = "operator"         # what happens after the last repeat

    [keys]
    1 = "outages"                   # an action by name ...
    2 = "debt"
    0 = "operator"
    3 = { action = "menu", menu = "info" }            # ... or with its parameters
    4 = { action = "play", message = "{prompt:office_hours}" }

Actions: play (message, then this menu again), debt (the caller keys an account number and
hears its debt), outages (current and planned outages at the caller's address, or all current
ones for an unknown caller), operator (the queue), repeat, back (the menu before), menu
(a sub-menu by file name), hangup (goodbye). At most 4 levels of nesting (standard, ch. 2 § 2
p. 3) and no cycles. Errors name the file, the key and the problem (in Russian).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from contact_center.hotline.exceptions import IvrError
from contact_center.speech.message import Message, MessageError, ValueSegment

ROOT = "main"
MAX_DEPTH = 4
ACTIONS = ("play", "debt", "outages", "operator", "repeat", "back", "menu", "hangup")
DTMF_KEYS = frozenset("0123456789*#")
_MENU_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
_TOP_KEYS = frozenset({"prompt", "timeout", "retries", "on_timeout", "keys"})
_ACTION_KEYS = {
    "play": {"message"},
    "menu": {"menu"},
}


@dataclass(frozen=True, slots=True)
class Action:
    kind: str
    menu: str | None = None
    message: str | None = None

    def label(self) -> str:
        return f"{self.kind}:{self.menu}" if self.menu else self.kind


@dataclass(frozen=True, slots=True)
class Menu:
    name: str
    prompt: str
    keys: Mapping[str, Action]
    timeout: float = 5.0
    retries: int = 2
    on_timeout: Action = Action("operator")
    source: str = ""

    @property
    def escape_digits(self) -> str:
        return "".join(sorted(self.keys))


@dataclass(frozen=True, slots=True)
class ScriptSet:
    menus: Mapping[str, Menu]
    builtin: bool = False

    @property
    def root(self) -> Menu:
        return self.menus[ROOT]

    def __getitem__(self, name: str) -> Menu:
        return self.menus[name]


# The hotline's last resort when no valid script was ever loaded: straight to an operator.
BUILTIN = ScriptSet(
    {ROOT: Menu(ROOT, "{prompt:press_0_operator}", {"0": Action("operator")}, 3.0, 0)},
    builtin=True,
)


@dataclass(frozen=True, slots=True)
class LoadResult:
    scripts: ScriptSet
    errors: tuple[IvrError, ...] = ()
    # menus whose last good version was kept because their file is broken
    kept: tuple[str, ...] = ()
    # True when the new files as a whole were refused and the previous set stays
    refused: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_menu(name: str, text: str, *, source: str, prompts: Collection[str]) -> Menu:
    """One menu file; raises IvrError naming `source`, the key and the problem."""
    if not _MENU_NAME.match(name):
        raise IvrError(source, "", "имя файла меню: строчные латинские буквы, цифры, _ и -")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise IvrError(source, "", f"ошибка синтаксиса TOML: {exc}") from None
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        known = ", ".join(sorted(_TOP_KEYS))
        raise IvrError(source, unknown[0], f"неизвестный ключ (есть: {known})")
    if "prompt" not in data:
        raise IvrError(source, "prompt", "нет обязательного ключа: что говорит меню")
    prompt = _message(data["prompt"], source, "prompt", prompts)
    timeout = data.get("timeout", 5)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 1 <= timeout <= 60:
        raise IvrError(source, "timeout", "ожидается число секунд от 1 до 60")
    retries = data.get("retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 5:
        raise IvrError(source, "retries", "ожидается целое число от 0 до 5")
    keys_raw = data.get("keys")
    if not isinstance(keys_raw, Mapping) or not keys_raw:
        raise IvrError(source, "keys", "нужна непустая таблица [keys]: клавиша -> действие")
    keys: dict[str, Action] = {}
    for key, spec in keys_raw.items():
        if key not in DTMF_KEYS:
            raise IvrError(source, f"keys.{key}", "клавиша должна быть одной из 0-9, * или #")
        keys[key] = _action(spec, source, f"keys.{key}", prompts)
    on_timeout = _action(data.get("on_timeout", "operator"), source, "on_timeout", prompts)
    if on_timeout.kind in ("repeat", "play"):
        raise IvrError(source, "on_timeout", f"действие «{on_timeout.kind}» не подходит")
    return Menu(name, prompt, keys, float(timeout), retries, on_timeout, source)


def _message(raw: Any, source: str, key: str, prompts: Collection[str]) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise IvrError(source, key, "ожидается непустая строка-сообщение")
    try:
        message = Message.parse(raw)
        message.check_prompts(prompts)
    except MessageError as exc:
        raise IvrError(source, key, str(exc)) from None
    if any(isinstance(s, ValueSegment) for s in message.segments):
        raise IvrError(source, key, "в сообщении меню нет полей абонента: только подсказки и текст")
    return raw


def _action(spec: Any, source: str, key: str, prompts: Collection[str]) -> Action:
    if isinstance(spec, str):
        spec = {"action": spec}
    if not isinstance(spec, Mapping):
        raise IvrError(source, key, "ожидается имя действия или таблица { action = ... }")
    kind = spec.get("action")
    if kind not in ACTIONS:
        raise IvrError(
            source, f"{key}.action", f"неизвестное действие {kind!r} (есть: {', '.join(ACTIONS)})"
        )
    allowed = _ACTION_KEYS.get(kind, set()) | {"action"}
    extra = sorted(set(spec) - allowed)
    if extra:
        raise IvrError(source, f"{key}.{extra[0]}", f"лишний параметр у действия «{kind}»")
    if kind == "play":
        if "message" not in spec:
            raise IvrError(source, f"{key}.message", "у действия play нет сообщения message")
        return Action(kind, message=_message(spec["message"], source, f"{key}.message", prompts))
    if kind == "menu":
        menu = spec.get("menu")
        if not isinstance(menu, str) or not _MENU_NAME.match(menu):
            raise IvrError(source, f"{key}.menu", "ожидается имя файла меню без .toml")
        return Action(kind, menu=menu)
    return Action(kind)


def check_set(menus: Mapping[str, Menu]) -> list[IvrError]:
    """Errors of the menus together: the root, references, nesting depth, cycles."""
    errors: list[IvrError] = []
    if ROOT not in menus:
        return [IvrError(f"{ROOT}.toml", "", "нет главного меню (файла main.toml)")]
    for menu in menus.values():
        for key, action in _refs(menu):
            if action.kind == "menu" and action.menu not in menus:
                errors.append(IvrError(menu.source, key, f"нет меню «{action.menu}» (файла)"))
            if action.kind == "back" and menu.name == ROOT:
                errors.append(IvrError(menu.source, key, "из главного меню некуда вернуться"))
    if errors:
        return errors

    def walk(name: str, path: tuple[str, ...]) -> None:
        menu = menus[name]
        for key, action in _refs(menu):
            if action.kind != "menu" or action.menu is None:
                continue
            if action.menu in path or action.menu == name:
                errors.append(
                    IvrError(menu.source, f"{key}.menu", f"цикл: «{action.menu}» уже выше по пути")
                )
                continue
            depth = len(path) + 2
            if depth > MAX_DEPTH:
                errors.append(
                    IvrError(
                        menu.source,
                        f"{key}.menu",
                        f"«{action.menu}» был бы уровнем {depth}; допускается не более "
                        f"{MAX_DEPTH} уровней вложения (стандарт, гл. 2 § 2 п. 3)",
                    )
                )
                continue
            walk(action.menu, (*path, name))

    walk(ROOT, ())
    return errors


def _refs(menu: Menu) -> list[tuple[str, Action]]:
    return [(f"keys.{k}", a) for k, a in menu.keys.items()] + [("on_timeout", menu.on_timeout)]


def load_scripts(
    files: Mapping[str, str],
    *,
    prompts: Collection[str],
    previous: ScriptSet | None = None,
) -> LoadResult:
    """Validate a directory's menu files (file name -> text) against the last good set.

    A broken file keeps its last good version; if the set as a whole is still invalid the
    previous set stays in force (or the built-in operator-only menu if there never was one).
    """
    menus: dict[str, Menu] = {}
    errors: list[IvrError] = []
    kept: list[str] = []
    for file, text in sorted(files.items()):
        name = file.rsplit("/", 1)[-1].removesuffix(".toml")
        try:
            menus[name] = parse_menu(name, text, source=file, prompts=prompts)
        except IvrError as exc:
            errors.append(exc)
            if previous is not None and not previous.builtin and name in previous.menus:
                menus[name] = previous.menus[name]
                kept.append(name)
    set_errors = check_set(menus)
    if set_errors:
        errors += set_errors
        fallback = previous if previous is not None else BUILTIN
        return LoadResult(fallback, tuple(errors), tuple(kept), refused=True)
    return LoadResult(ScriptSet(menus), tuple(errors), tuple(kept))


@dataclass(slots=True)
class MenuCursor:
    """Where a caller is in the menus: a stack for `back`, and the path taken."""

    scripts: ScriptSet
    stack: list[str] = field(default_factory=lambda: [ROOT])

    @property
    def menu(self) -> Menu:
        return self.scripts[self.stack[-1]]

    def enter(self, name: str) -> None:
        self.stack.append(name)

    def back(self) -> None:
        if len(self.stack) > 1:
            self.stack.pop()

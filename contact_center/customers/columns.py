"""Column names and phone cells as offices write them: one vocabulary for the customer import
and for campaign lists (the autoinformer reads lists through this module; pure, no I/O).

A header cell is matched after folding: letter case, «ё»/«е», dots, dashes, slashes and
runs of spaces do not matter, so «Лицевой счёт», «ЛИЦЕВОЙ СЧЕТ» and «лицевой  счёт» are one
column, and so are «Эл. почта» and «эл.почта». English names are the canonical ones and are
accepted as they are.

A phone cell may hold several numbers separated by «;» or «,» (1C writes
"8 913 123-45-67; 8 (39144) 3-22-41"); the import keeps all of them, a call list dials the
first valid one and falls back to the next.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from contact_center.telephony.numbers import InvalidPhoneNumber, normalize_phone

# canonical column -> the names offices export it under (documented in README "Customer CSV";
# tests hold this table literally). Abbreviations are written once with their dots: folding
# makes «Лиц. счёт», «Лиц счёт» and «лиц.счет» the same.
ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "account": ("Лицевой счёт", "Лиц. счёт", "Номер лицевого счёта", "ЛС", "Л/С", "Счёт"),
    "name": ("ФИО", "Абонент", "Потребитель", "Ф.И.О.", "Наименование"),
    "address": ("Адрес", "Адрес абонента", "Адрес объекта", "Адрес потребителя"),
    "has_contract": ("Договор", "Есть договор", "Наличие договора"),
    "phone": ("Телефон", "Телефоны", "Тел.", "Номер телефона", "Мобильный телефон"),
    "email": ("Эл. почта", "Электронная почта", "E-mail", "Почта", "Адрес эл. почты"),
    "email_consent": ("Согласие на рассылку", "Согласие на e-mail", "Согласие на письма"),
    "email_consent_date": ("Дата согласия", "Дата согласия на рассылку"),
    "debt": ("Долг", "Задолженность", "Сумма долга", "Сумма задолженности"),
    "debt_date": ("Дата долга", "Дата задолженности", "Задолженность на дату"),
    "timezone": ("Часовой пояс",),
    "outage_start": ("Начало отключения",),
    "outage_end": ("Конец отключения", "Окончание отключения"),
}

_FOLD_RE = re.compile(r"[\s.\-/\\_]+")
# separators of several numbers in one phone cell
_PHONE_SPLIT_RE = re.compile(r"[;,\n]")


def fold(text: str) -> str:
    """A header cell reduced for matching: lower case, «ё» as «е», punctuation and runs of
    spaces as one space ("Эл. почта" -> "эл почта", "Лицевой  СЧЁТ" -> "лицевой счет")."""
    return " ".join(_FOLD_RE.sub(" ", text.lower().replace("ё", "е")).split())


def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    for canonical, names in ALIASES.items():
        for name in (canonical, *names):
            key = fold(name)
            if index.setdefault(key, canonical) != canonical:  # pragma: no cover - table bug
                raise AssertionError(f"alias {name!r} names two columns")
    return index


_INDEX: Final = _index()


def canonical_column(header: str) -> str | None:
    """The canonical name of a header cell (`account` for «Лицевой счёт»), None if unknown."""
    return _INDEX.get(fold(header))


class HeaderError(ValueError):
    """A header that cannot be read: the same column twice (say «Телефон» and `phone`)."""


def map_header(header: Sequence[str]) -> list[str]:
    """Each header cell as its canonical name; an unknown cell as it was written, stripped
    and in lower case (a list may carry the scenario's own columns, the import refuses them).
    Raises :class:`HeaderError` when two cells name one column."""
    columns: list[str] = []
    first: dict[str, str] = {}
    repeated: list[str] = []
    for cell in header:
        name = canonical_column(cell) or " ".join(cell.split()).lower()
        if name in first:
            repeated.append(f"«{first[name]}» и «{cell.strip()}»")
        else:
            first[name] = cell.strip()
        columns.append(name)
    if repeated:
        raise HeaderError("столбцы повторяются: " + "; ".join(repeated))
    return columns


def column_names_ru(columns: Iterable[str]) -> str:
    """Canonical columns as a user reads them: `phone («Телефон»)`."""
    return ", ".join(f"{c} («{ALIASES[c][0]}»)" if ALIASES.get(c) else c for c in columns)


@dataclass(frozen=True, slots=True)
class PhoneCell:
    """A phone cell read: the valid numbers in E.164 (repeats dropped, order kept) and
    the reasons of the parts that are no phone number."""

    numbers: tuple[str, ...]
    invalid: tuple[str, ...]


def parse_phone_cell(raw: str, region: str = "RU") -> PhoneCell:
    """Several numbers in one cell, separated by «;», «,» or a line break."""
    numbers: list[str] = []
    invalid: list[str] = []
    for part in _PHONE_SPLIT_RE.split(raw or ""):
        text = part.strip()
        if not text:
            continue
        try:
            number = normalize_phone(text, region)
        except InvalidPhoneNumber as exc:
            invalid.append(str(exc))
            continue
        if number not in numbers:
            numbers.append(number)
    return PhoneCell(tuple(numbers), tuple(invalid))

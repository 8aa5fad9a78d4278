"""Russian number words: thin wrappers over num2words with every argument explicit.

num2words' Russian module has traps (DESIGN.md): ``gender='ж'`` silently gives the
masculine form, ``animate=True`` is the default (accusative "трёх"), and ``to='currency'``
reads an ``int`` as kopecks; and it applies ``gender`` to millions and billions ("одна
миллион"). Everything here passes gender, case and animate explicitly, genders only the
last three digits, and never uses the currency converter.
"""

from __future__ import annotations

from typing import Literal, get_args

from num2words import num2words

Gender = Literal["m", "f", "n"]
Case = Literal["n", "g"]

GENDER_NAMES: tuple[Gender, ...] = get_args(Gender)
GENDERS: frozenset[str] = frozenset(GENDER_NAMES)

# Zero in the genitive: num2words says "ноля"; spoken Russian (and announcers) say "нуля".
_ZERO_GENITIVE = "нуля"


def _plain_int(n: object) -> bool:
    """An int and not a bool, checked at run time: callers pass values parsed from text."""
    return isinstance(n, int) and not isinstance(n, bool)


def plural_form(n: int, one: str, few: str, many: str) -> str:
    """The noun form that agrees with a cardinal in the nominative.

    ``plural_form(21, "рубль", "рубля", "рублей") == "рубль"``; 11–14 always take ``many``.
    """
    n = abs(n)
    if 11 <= n % 100 <= 14:
        return many
    last = n % 10
    if last == 1:
        return one
    if 2 <= last <= 4:
        return few
    return many


def genitive_form(n: int, singular: str, plural: str) -> str:
    """The noun form after a cardinal in the genitive ("двадцати одного часа", "пяти часов")."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return singular
    return plural


def cardinal(n: int, *, gender: Gender = "m", case: Case = "n") -> str:
    """A non-negative integer in words: ``cardinal(2, gender="f") == "две"``."""
    if not _plain_int(n):
        raise TypeError(f"cardinal() wants an int, got {type(n).__name__}")
    if n < 0:
        raise ValueError("cardinal() wants a non-negative int")
    if gender not in GENDERS:
        raise ValueError(f"gender must be one of m, f, n, not {gender!r}")
    if n == 0:
        return _ZERO_GENITIVE if case == "g" else "ноль"
    # num2words puts `gender` on millions and billions too ("одна миллион" for gender="f"):
    # say the thousands and above as masculine (тысяча stays feminine there) and give the
    # requested gender only to the last group of three digits.
    head, tail = n - n % 1000, n % 1000
    words = []
    if head:
        words.append(str(num2words(head, lang="ru", gender="m", case=case, animate=False)))
    if tail:
        words.append(str(num2words(tail, lang="ru", gender=gender, case=case, animate=False)))
    return " ".join(words)


def ordinal(n: int, *, gender: Gender = "m", case: Case = "n") -> str:
    """A positive integer as an ordinal: ``ordinal(5, gender="n", case="g") == "пятого"``."""
    if not _plain_int(n) or n <= 0:
        raise ValueError("ordinal() wants a positive int")
    if gender not in GENDERS:
        raise ValueError(f"gender must be one of m, f, n, not {gender!r}")
    return str(num2words(n, lang="ru", to="ordinal", gender=gender, case=case, animate=False))


def digit_group(group: str) -> str:
    """A group of a phone number: leading zeros each read "ноль", the rest as a number.

    ``"05" -> "ноль пять"``, ``"800" -> "восемьсот"``, ``"00" -> "ноль ноль"``.
    """
    if not group or not group.isdigit() or not group.isascii():
        raise ValueError(f"not a digit group: {group!r}")
    stripped = group.lstrip("0")
    words = ["ноль"] * (len(group) - len(stripped))
    if stripped:
        words.append(cardinal(int(stripped)))
    return " ".join(words)

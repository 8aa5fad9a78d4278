"""Phrase builders: values in, Russian words out. Pure functions, no I/O.

Every builder accepts the typed value (``Decimal``, ``date``, ``time``, ``int``) or the
string a list or a command line would carry, and raises :class:`PhraseError` (a
``ValueError`` with a one-line Russian message for the user) for anything it cannot say.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal, TypeVar, get_args

from contact_center.privacy import mask_phone
from contact_center.speech.numbers import (
    GENDER_NAMES,
    GENDERS,
    Case,
    Gender,
    cardinal,
    digit_group,
    genitive_form,
    ordinal,
    plural_form,
)


class PhraseError(ValueError):
    """A value that cannot be spoken; ``str(exc)`` is a one-line Russian message."""


# Amounts and quantities are spoken up to (not including) a trillion.
MAX_AMOUNT = Decimal(10) ** 12
MAX_NUMBER = 10**12
KOPECK = Decimal("0.01")

_SPACES = " \u00a0\u202f\u2009"
_DECIMAL_RE = re.compile(
    r"^(?P<sign>[-+]?)(?P<int>\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+|\d+)(?:[.,](?P<frac>\d+))?$"
)


def _parse_decimal(value: object, what: str) -> Decimal:
    """A Decimal from a Decimal, int, float or a plain "1 500,50"-style string."""
    if isinstance(value, bool):
        raise PhraseError(f"не {what}: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        match = _DECIMAL_RE.match(value.strip())
        if not match:
            raise PhraseError(f"не {what}: {value.strip()!r}")
        digits = match["int"]
        for ch in _SPACES:
            digits = digits.replace(ch, "")
        text = f"{match['sign']}{digits}" + (f".{match['frac']}" if match["frac"] else "")
        try:
            result = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the regex admits only valid numbers
            raise PhraseError(f"не {what}: {value.strip()!r}") from None
    else:
        raise PhraseError(f"не {what}: {value!r}")
    if not result.is_finite():
        raise PhraseError(f"не {what}: {value!r}")
    return result


_Name = TypeVar("_Name", bound=str)


def _one_of(name: str, allowed: tuple[_Name, ...], what: str) -> _Name:
    # returns the member itself, so its Literal type comes along without a cast
    for item in allowed:
        if item == name:
            return item
    raise PhraseError(f"{what}: {name!r} (есть: {', '.join(allowed)})")


# --- money -----------------------------------------------------------------------------


def parse_amount(value: Decimal | int | float | str) -> Decimal:
    """An amount in rubles rounded to kopecks; refuses negative and absurdly large amounts.

    An ``int`` means rubles (unlike num2words' currency converter, which reads it as kopecks).
    """
    amount = _parse_decimal(value, "сумма")
    if amount < 0:
        raise PhraseError(f"сумма не может быть отрицательной: {value}")
    if amount >= MAX_AMOUNT:
        raise PhraseError("слишком большая сумма (не больше 999 999 999 999,99 руб.)")
    return amount.quantize(KOPECK, rounding=ROUND_HALF_UP)


def money_phrase(value: Decimal | int | float | str) -> str:
    """``Decimal("1500") -> "одна тысяча пятьсот рублей"``; ``"21.21"`` -> "двадцать один рубль
    двадцать одна копейка". No "ноль копеек"; "ноль рублей" only for a zero amount."""
    amount = parse_amount(value)
    rubles = int(amount)
    kopecks = int((amount - rubles) * 100)
    parts: list[str] = []
    if rubles or not kopecks:
        parts.append(f"{cardinal(rubles)} {plural_form(rubles, 'рубль', 'рубля', 'рублей')}")
    if kopecks:
        word = plural_form(kopecks, "копейка", "копейки", "копеек")
        parts.append(f"{cardinal(kopecks, gender='f')} {word}")
    return " ".join(parts)


# --- dates -----------------------------------------------------------------------------

MONTHS_GENITIVE = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)

DateForm = Literal["nominative", "genitive", "from", "until", "through"]
DATE_FORMS: tuple[DateForm, ...] = get_args(DateForm)

_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_RU_DATE_RE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


def parse_date(value: dt.date | str) -> dt.date:
    """A date from a ``date``/``datetime`` or "2026-12-05" / "05.12.2026"."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise PhraseError(f"не дата: {value!r}")
    text = value.strip()
    if match := _ISO_DATE_RE.match(text):
        year, month, day = (int(g) for g in match.groups())
    elif match := _RU_DATE_RE.match(text):
        day, month, year = (int(g) for g in match.groups())
    else:
        raise PhraseError(f"не дата: {text!r} (ожидается ГГГГ-ММ-ДД или ДД.ММ.ГГГГ)")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise PhraseError(f"нет такой даты: {text}") from None


def date_phrase(value: dt.date | str, *, form: DateForm = "nominative", year: bool = True) -> str:
    """A date in words.

    - ``nominative``: "пятое декабря две тысячи двадцать шестого года"
    - ``genitive`` (when something happens): "пятого декабря ..."
    - ``from``: "с пятого декабря ...", ``until``: "до пятого декабря ...",
      ``through``: "по пятое декабря ..."
    ``year=False`` drops the year.
    """
    as_date_form(form)  # untyped callers (templates, scenarios) may pass any string
    day = parse_date(value)
    case: Case = "g" if form in ("genitive", "from", "until") else "n"
    words = [ordinal(day.day, gender="n", case=case), MONTHS_GENITIVE[day.month - 1]]
    if year:
        words += [ordinal(day.year, gender="m", case="g"), "года"]
    prefix = {"from": "с", "until": "до", "through": "по"}.get(form)
    if prefix:
        words.insert(0, prefix)
    return " ".join(words)


def as_date_form(name: str) -> DateForm:
    """``name`` (from a template or a command line) as a DateForm, or PhraseError."""
    return _one_of(name, DATE_FORMS, "неизвестная форма даты")


# --- times -----------------------------------------------------------------------------

TimeForm = Literal["nominative", "genitive", "at", "from", "until"]
TIME_FORMS: tuple[TimeForm, ...] = get_args(TimeForm)

_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_RANGE_SPLIT_RE = re.compile(r"\s*[-–—]\s*")


def parse_time(value: dt.time | dt.datetime | str) -> dt.time:
    """A time of day from a ``time``/``datetime`` or "09:30" (seconds are dropped)."""
    if isinstance(value, dt.datetime):
        return value.time().replace(second=0, microsecond=0, tzinfo=None)
    if isinstance(value, dt.time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    if not isinstance(value, str):
        raise PhraseError(f"не время: {value!r}")
    text = value.strip()
    match = _TIME_RE.match(text)
    if not match:
        raise PhraseError(f"не время: {text!r} (ожидается ЧЧ:ММ)")
    hour, minute = int(match[1]), int(match[2])
    second = int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise PhraseError(f"нет такого времени: {text}")
    return dt.time(hour, minute)


def time_phrase(value: dt.time | dt.datetime | str, *, form: TimeForm = "nominative") -> str:
    """A time of day in words: "девять часов тридцать минут", "двадцать один час",
    "ноль часов пять минут"; ``genitive`` "семнадцати часов тридцати минут";
    ``at`` "в девять часов", ``from`` "с девяти часов", ``until`` "до семнадцати часов"."""
    as_time_form(form)  # untyped callers (templates, scenarios) may pass any string
    t = parse_time(value)
    if form in ("genitive", "from", "until"):
        words = [cardinal(t.hour, case="g"), genitive_form(t.hour, "часа", "часов")]
        if t.minute:
            words += [
                cardinal(t.minute, gender="f", case="g"),
                genitive_form(t.minute, "минуты", "минут"),
            ]
    else:
        words = [cardinal(t.hour), plural_form(t.hour, "час", "часа", "часов")]
        if t.minute:
            words += [
                cardinal(t.minute, gender="f"),
                plural_form(t.minute, "минута", "минуты", "минут"),
            ]
    prefix = {"at": "в", "from": "с", "until": "до"}.get(form)
    if prefix:
        words.insert(0, prefix)
    return " ".join(words)


def as_time_form(name: str) -> TimeForm:
    """``name`` (from a template or a command line) as a TimeForm, or PhraseError."""
    return _one_of(name, TIME_FORMS, "неизвестная форма времени")


def parse_timerange(
    start: dt.time | dt.datetime | str, end: dt.time | dt.datetime | str | None = None
) -> tuple[dt.time, dt.time]:
    """Two times, or one string "09:00-17:30"; start and end must differ."""
    if end is None:
        if not isinstance(start, str):
            raise PhraseError("для интервала нужны два времени или строка ЧЧ:ММ-ЧЧ:ММ")
        pieces = _RANGE_SPLIT_RE.split(start.strip())
        if len(pieces) != 2:
            raise PhraseError(f"не интервал времени: {start.strip()!r} (ожидается ЧЧ:ММ-ЧЧ:ММ)")
        start, end = pieces
    first, last = parse_time(start), parse_time(end)
    if first == last:
        raise PhraseError("начало и конец интервала совпадают")
    return first, last


def timerange_phrase(
    start: dt.time | dt.datetime | str, end: dt.time | dt.datetime | str | None = None
) -> str:
    """ "с девяти часов до семнадцати часов тридцати минут"."""
    first, last = parse_timerange(start, end)
    return f"{time_phrase(first, form='from')} {time_phrase(last, form='until')}"


# --- quantities ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """A counted noun: its gender and the forms after 1, 2–4, 5+ and after a fraction."""

    gender: Gender
    one: str
    few: str
    many: str
    fraction: str  # genitive singular: "полторы/две целых пять десятых киловатт-часа"


UNITS: dict[str, Unit] = {
    "kwh": Unit("m", "киловатт-час", "киловатт-часа", "киловатт-часов", "киловатт-часа"),
    "day": Unit("m", "день", "дня", "дней", "дня"),
    "hour": Unit("m", "час", "часа", "часов", "часа"),
    "minute": Unit("f", "минута", "минуты", "минут", "минуты"),
    "request": Unit("f", "заявка", "заявки", "заявок", "заявки"),
}

_FRACTION_WORDS = {
    1: ("десятая", "десятых"),
    2: ("сотая", "сотых"),
    3: ("тысячная", "тысячных"),
}


def _ends_in_one(n: int) -> bool:
    return n % 10 == 1 and n % 100 != 11


def _fraction_words(value: Decimal) -> str:
    """ "одна целая пять десятых", "две целых двадцать пять сотых"."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int) and exponent < 0
    places = -exponent
    whole = int(value)
    numerator = int((value - whole).scaleb(places))
    one, many = _FRACTION_WORDS[places]
    return " ".join(
        [
            cardinal(whole, gender="f"),
            "целая" if _ends_in_one(whole) else "целых",
            cardinal(numerator, gender="f"),
            one if _ends_in_one(numerator) else many,
        ]
    )


def quantity_phrase(value: int | Decimal | str | float, unit: str) -> str:
    """A count with a unit that agrees: "двадцать одна заявка", "пять киловатт-часов",
    "одна целая пять десятых киловатт-часа" (up to three decimal places)."""
    spec = UNITS.get(unit)
    if spec is None:
        raise PhraseError(f"неизвестная единица: {unit!r} (есть: {', '.join(UNITS)})")
    number = _parse_decimal(value, "количество")
    if number < 0:
        raise PhraseError(f"количество не может быть отрицательным: {value}")
    if number >= MAX_NUMBER:
        raise PhraseError("слишком большое количество")
    if number == number.to_integral_value():
        n = int(number)
        return f"{cardinal(n, gender=spec.gender)} {plural_form(n, spec.one, spec.few, spec.many)}"
    number = number.normalize()
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > 3:
        raise PhraseError(f"не больше трёх знаков после запятой: {value}")
    return f"{_fraction_words(number)} {spec.fraction}"


# --- plain numbers ---------------------------------------------------------------------


def number_phrase(value: int | str, *, gender: Gender = "m") -> str:
    """A whole number in words, "минус" for negatives: ``number_phrase(2, gender="f") == "две"``."""
    if gender not in GENDERS:
        raise PhraseError(f"неизвестный род: {gender!r} (есть: m, f, n)")
    number = _parse_decimal(value, "целое число")
    if number != number.to_integral_value():
        raise PhraseError(f"не целое число: {value}")
    n = int(number)
    if abs(n) >= MAX_NUMBER:
        raise PhraseError("слишком большое число")
    words = cardinal(abs(n), gender=gender)
    return f"минус {words}" if n < 0 else words


def as_gender(name: str) -> Gender:
    """``name`` (from a template or a command line) as a Gender, or PhraseError."""
    return _one_of(name, GENDER_NAMES, "неизвестный род")


# --- phone numbers ---------------------------------------------------------------------

# Area codes longer than three digits, whose local numbers are shorter than seven digits.
# Divnogorsk (Krasnoyarsk Krai): (39144) X-XX-XX.
DEFAULT_AREA_CODES: tuple[str, ...] = ("39144",)

_PHONE_RE = re.compile(r"^\+?[\d\s\-().\u00a0]+$")


@dataclass(frozen=True, slots=True)
class PhoneGroups:
    """A phone number split the way it is read: ``prefix`` ("+7", "8", "7" or "") and groups."""

    prefix: str
    groups: tuple[str, ...]


def _split(digits: str, sizes: tuple[int, ...]) -> tuple[str, ...]:
    out, pos = [], 0
    for size in sizes:
        out.append(digits[pos : pos + size])
        pos += size
    return tuple(out)


_LOCAL_SIZES: dict[int, tuple[int, ...]] = {7: (3, 2, 2), 6: (2, 2, 2), 5: (1, 2, 2)}
_CODE_SIZES: dict[int, tuple[int, ...]] = {3: (3,), 4: (2, 2), 5: (3, 2)}


def _national_groups(nsn: str, area_codes: Collection[str]) -> tuple[str, ...]:
    for code in sorted(area_codes, key=len, reverse=True):
        local = nsn[len(code) :]
        if nsn.startswith(code) and len(code) in _CODE_SIZES and len(local) in _LOCAL_SIZES:
            return _split(code, _CODE_SIZES[len(code)]) + _split(local, _LOCAL_SIZES[len(local)])
    return _split(nsn, (3, 3, 2, 2))


def phone_groups(value: str, *, area_codes: Collection[str] = DEFAULT_AREA_CODES) -> PhoneGroups:
    """Split a Russian phone number into the groups people read.

    +7 / 8 / 7 followed by ten digits, ten digits alone, or a local number of five
    (X-XX-XX), six (XX-XX-XX) or seven (XXX-XX-XX) digits.
    """
    # checked although typed: values come from contact lists and templates
    if not isinstance(value, str):
        raise PhraseError(f"не телефонный номер: {mask_phone(str(value))}")
    text = value.strip()
    if not _PHONE_RE.match(text):
        raise PhraseError(f"не телефонный номер: {mask_phone(value)}")
    digits = re.sub(r"\D", "", text)
    plus = text.startswith("+")
    if plus:
        if len(digits) != 11 or digits[0] != "7":
            raise PhraseError(f"не российский номер (+7 и десять цифр): {mask_phone(digits)}")
        prefix, nsn = "+7", digits[1:]
    elif len(digits) == 11 and digits[0] in "78":
        prefix, nsn = digits[0], digits[1:]
    elif len(digits) == 10:
        prefix, nsn = "", digits
    elif len(digits) in _LOCAL_SIZES:
        return PhoneGroups("", _split(digits, _LOCAL_SIZES[len(digits)]))
    else:
        raise PhraseError(f"не телефонный номер: {mask_phone(digits)}")
    if nsn[0] == "0":
        raise PhraseError(f"не телефонный номер: {mask_phone(digits)}")
    return PhoneGroups(prefix, _national_groups(nsn, area_codes))


_PREFIX_WORDS = {"+7": "плюс семь", "8": "восемь", "7": "семь", "": ""}


def phone_phrase(value: str, *, area_codes: Collection[str] = DEFAULT_AREA_CODES) -> str:
    """ "+7 913 123-45-67" -> "плюс семь, девятьсот тринадцать, сто двадцать три, сорок пять,
    шестьдесят семь"; a leading zero in a group is read "ноль"."""
    parsed = phone_groups(value, area_codes=area_codes)
    words = [_PREFIX_WORDS[parsed.prefix]] if parsed.prefix else []
    words += [digit_group(g) for g in parsed.groups]
    return ", ".join(words)


# --- dispatch by kind ------------------------------------------------------------------

KINDS: tuple[str, ...] = ("money", "date", "time", "timerange", "quantity", "phone", "number")

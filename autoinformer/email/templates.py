"""E-mail templates stored with a scenario: subject, plain text and (optionally) HTML.

Templates are Jinja2 with the phone scenarios' vocabulary of typed values
(:mod:`contact_center.speech.message`: money, date, time, timerange, quantity, phone, number,
with the same ``form=``, ``year=``, ``unit=`` options), but e-mail shows values as text, not
words::

    subject: "Задолженность {{ debt | money }} по счёту {{ account }}"
    text:    "Отключение {{ outage_date | date(form='genitive') }}
              {{ outage_from | timerange(outage_to) }}."
    html:    "<p>Долг на {{ debt_date | date(style='digits') }}: <b>{{ debt | money }}</b></p>"

=============================================  ======================================
filter                                         example output
=============================================  ======================================
``money``                                      ``1 500,00 ₽``
``money(sign='руб.')``                         ``1 500,00 руб.``
``date`` (style ``text``)                      ``5 декабря 2026 г.``
``date(year=false)``                           ``5 декабря``
``date(form='from')`` / until / through        ``с 5 декабря 2026 г.`` / ``до …`` / ``по …``
``date(style='words', form='genitive')``       ``пятого декабря две тысячи двадцать шестого года``
``date(style='digits')``                       ``05.12.2026``
``time`` / ``time(form='at')``                 ``09:30`` / ``в 09:30``
``time(style='words')``                        ``девять часов тридцать минут``
``timerange(end_field)`` or "09:00-17:30"      ``с 09:00 до 17:30``
``quantity('kwh')`` / ``quantity('day')``      ``150 кВт·ч`` / ``3 дня``
``number``                                     ``12 345``
``phone``                                      ``+7 913 123-45-67``, ``+7 (39144) 3-12-34``
=============================================  ======================================

Spaces inside amounts and numbers, and before ``₽``, are U+00A0 NO-BREAK SPACE (not the
narrower U+202F, which some mail clients still draw as a box): an amount never breaks
across lines. Long area codes (4-5 digits, like Divnogorsk's 39144) are written in brackets,
as on the utility's bills.

Templates run in Jinja2's immutable sandbox (scenarios are written by supervisors, and a
plain Jinja2 template can reach Python internals), with ``StrictUndefined``: a missing field
is an error naming it, never an empty gap in a customer's letter. HTML is autoescaped; the
subject and the text are not (they are not HTML). Everything here is pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any, Final, cast

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from contact_center.parsing import parse_yes_no
from contact_center.speech import phrases
from contact_center.speech.numbers import plural_form
from contact_center.speech.phrases import DEFAULT_AREA_CODES, PhraseError

from .exceptions import TemplateError, TemplateRenderError

NBSP: Final = "\u00a0"
RUBLE_SIGN: Final = "₽"
# names the channel itself puts into every template's context (a contact field of the same
# name is overridden, so a list cannot forge the unsubscribe link)
RESERVED_NAMES: Final = frozenset({"unsubscribe_url"})
TEMPLATE_KEYS: Final = ("subject", "text", "html")
DATE_STYLES: Final = ("text", "words", "digits")
TIME_STYLES: Final = ("digits", "words")
_PREFIX_DATE: Final = {"from": "с", "until": "до", "through": "по"}
_PREFIX_TIME: Final = {"at": "в", "from": "с", "until": "до"}
_UNIT_ABBREVIATIONS: Final = {"kwh": "кВт·ч"}


class ValueProblem(ValueError):
    """A value a filter cannot show; rendering turns it into :class:`TemplateRenderError`
    naming the field."""


# --- values as text --------------------------------------------------------------------


def _group_thousands(digits: str) -> str:
    head = len(digits) % 3 or 3
    groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return NBSP.join(groups)


def _checked(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except PhraseError as exc:
        raise ValueProblem(str(exc)) from None


def _choice(name: str, value: Any, allowed: Collection[str]) -> str:
    if value not in allowed:
        raise ValueProblem(f"{name}= может быть {', '.join(allowed)}, а не {value!r}")
    return str(value)


def _yes_no(name: str, raw: Any) -> bool:
    try:
        return parse_yes_no(raw)
    except ValueError:
        raise ValueProblem(f"{name}= ожидает yes или no, а не {raw!r}") from None


def _present(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueProblem("пустое значение")
    if isinstance(value, jinja2.Undefined):
        # a missing field handed to a filter: raise StrictUndefined's own error naming it
        value._fail_with_undefined_error()
    return value


def format_money(value: Decimal | int | float | str, *, sign: str = RUBLE_SIGN) -> str:
    """``Decimal("1500")`` -> ``"1 500,00 ₽"`` (no-break spaces); an ``int`` means rubles."""
    amount = _checked(phrases.parse_amount, _present(value))
    rubles, kopecks = divmod(int(amount * 100), 100)
    text = f"{_group_thousands(str(rubles))},{kopecks:02d}"
    return f"{text}{NBSP}{sign}" if sign else text


def format_date(
    value: dt.date | str,
    *,
    style: str = "text",
    form: str = "nominative",
    year: bool | str = True,
) -> str:
    """``date(2026, 12, 5)`` -> "5 декабря 2026 г." (``text``), "пятое декабря две тысячи
    двадцать шестого года" (``words``) or "05.12.2026" (``digits``); ``form`` as in phone
    scenarios (``from``/``until``/``through`` add "с"/"до"/"по"), ``year=false`` drops it."""
    style = _choice("style", style, DATE_STYLES)
    form = _choice("form", form, phrases.DATE_FORMS)
    with_year = _yes_no("year", year)
    day = _checked(phrases.parse_date, _present(value))
    if style == "words":
        return str(_checked(phrases.date_phrase, day, form=form, year=with_year))
    if style == "digits":
        text = f"{day.day:02d}.{day.month:02d}" + (f".{day.year:04d}" if with_year else "")
    else:
        text = f"{day.day} {phrases.MONTHS_GENITIVE[day.month - 1]}"
        if with_year:
            text += f" {day.year}{NBSP}г."
    prefix = _PREFIX_DATE.get(form)
    return f"{prefix} {text}" if prefix else text


def format_time(
    value: dt.time | dt.datetime | str, *, style: str = "digits", form: str = "nominative"
) -> str:
    """``"9:30"`` -> "09:30"; ``form='at'`` "в 09:30", ``from`` "с 09:30", ``until``
    "до 09:30"; ``style='words'`` as spoken ("девять часов тридцать минут")."""
    style = _choice("style", style, TIME_STYLES)
    form = _choice("form", form, phrases.TIME_FORMS)
    t = _checked(phrases.parse_time, _present(value))
    if style == "words":
        return str(_checked(phrases.time_phrase, t, form=form))
    prefix = _PREFIX_TIME.get(form)
    text = f"{t.hour:02d}:{t.minute:02d}"
    return f"{prefix} {text}" if prefix else text


def format_timerange(
    start: dt.time | dt.datetime | str,
    end: dt.time | dt.datetime | str | None = None,
    *,
    style: str = "digits",
) -> str:
    """``("09:00", "17:30")`` or ``"09:00-17:30"`` -> "с 09:00 до 17:30"."""
    style = _choice("style", style, TIME_STYLES)
    first, last = _checked(
        phrases.parse_timerange, _present(start), None if end is None else _present(end)
    )
    if style == "words":
        return str(_checked(phrases.timerange_phrase, first, last))
    return f"с {first:%H:%M} до {last:%H:%M}"


def _decimal_text(number: Decimal) -> str:
    sign = "-" if number < 0 else ""
    whole, _, fraction = format(abs(number), "f").partition(".")
    fraction = fraction.rstrip("0")
    return sign + _group_thousands(whole) + (f",{fraction}" if fraction else "")


def format_number(value: int | Decimal | str | float) -> str:
    """``12345`` -> "12 345"; ``"1,5"`` -> "1,5" (no-break space between groups)."""
    return _decimal_text(_checked(phrases._parse_decimal, _present(value), "число"))


def format_quantity(value: int | Decimal | str | float, unit: str) -> str:
    """``(3, "day")`` -> "3 дня", ``("1,5", "day")`` -> "1,5 дня", ``(150, "kwh")`` ->
    "150 кВт·ч" (the usual abbreviation on bills)."""
    spec = phrases.UNITS.get(unit)
    if spec is None:
        raise ValueProblem(f"неизвестная единица: {unit!r} (есть: {', '.join(phrases.UNITS)})")
    number = _checked(phrases._parse_decimal, _present(value), "количество")
    if number < 0:
        raise ValueProblem(f"количество не может быть отрицательным: {value}")
    text = _decimal_text(number)
    if unit in _UNIT_ABBREVIATIONS:
        word = _UNIT_ABBREVIATIONS[unit]
    elif number == number.to_integral_value():
        word = plural_form(int(number), spec.one, spec.few, spec.many)
    else:
        word = spec.fraction
    return f"{text}{NBSP}{word}"


def format_phone(value: str, *, area_codes: Collection[str] = DEFAULT_AREA_CODES) -> str:
    """``"+79131234567"`` -> "+7 913 123-45-67"; ``"83914431234"`` -> "+7 (39144) 3-12-34";
    a local number stays local ("3-12-34")."""
    parsed = _checked(phrases.phone_groups, str(_present(value)), area_codes=area_codes)
    # every split ends in three local groups (XXX-XX-XX, XX-XX-XX or X-XX-XX)
    local = "-".join(parsed.groups[-3:])
    code = "".join(parsed.groups[:-3])
    if not code:
        return local
    if len(code) > 3:
        code = f"({code})"
    # 8, 7, +7 or nothing before ten digits: one number, written the way letters show it
    return f"+7 {code} {local}"


# --- Jinja2 -----------------------------------------------------------------------------


def _money_filter(value: Any, sign: str = RUBLE_SIGN) -> str:
    return format_money(value, sign=sign)


def _date_filter(
    value: Any, style: str = "text", form: str = "nominative", year: bool | str = True
) -> str:
    return format_date(value, style=style, form=form, year=year)


def _time_filter(value: Any, style: str = "digits", form: str = "nominative") -> str:
    return format_time(value, style=style, form=form)


def _timerange_filter(value: Any, end: Any = None, style: str = "digits") -> str:
    return format_timerange(value, end, style=style)


def _quantity_filter(value: Any, unit: str) -> str:
    return format_quantity(value, unit)


def _number_filter(value: Any) -> str:
    return format_number(value)


def _phone_filter(value: Any) -> str:
    return format_phone(value)


FILTERS: Final[dict[str, Callable[..., str]]] = {
    "money": _money_filter,
    "date": _date_filter,
    "time": _time_filter,
    "timerange": _timerange_filter,
    "quantity": _quantity_filter,
    "number": _number_filter,
    "phone": _phone_filter,
}
# a value of the right type for each filter, to check a template's constant options on load
_SAMPLES: Final[dict[str, Any]] = {
    "money": Decimal("1500"),
    "date": dt.date(2026, 12, 5),
    "time": dt.time(9, 30),
    "timerange": "09:00-17:30",
    "quantity": Decimal("1"),
    "number": 1,
    "phone": "+79131234567",
}


def _finalize(value: Any) -> Any:
    # a None printed into a letter ("Задолженность: None") is worse than no letter
    if value is None:
        raise ValueProblem("пустое значение (None)")
    return value


# plain values whose text a filter may remember (the same date, office phone or amount
# appears in the subject, the text and the HTML, and in every letter of a campaign)
_MEMO_TYPES: Final = (str, int, Decimal, dt.date, dt.time)
_MEMO_SIZE: Final = 4096


def _remembering(fn: Callable[..., str]) -> Callable[..., str]:
    """``fn`` with its results for plain values kept (the filters are pure functions of
    their arguments); errors are not kept, and anything else (Undefined, Markup, floats)
    is passed straight through."""

    @functools.lru_cache(maxsize=_MEMO_SIZE, typed=True)
    def remembered(value: Any, args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...]) -> str:
        return fn(value, *args, **dict(kwargs))

    def plain(item: Any) -> bool:
        return type(item) in _MEMO_TYPES or item is None or type(item) is bool

    @functools.wraps(fn)
    def call(value: Any, *args: Any, **kwargs: Any) -> str:
        if plain(value) and all(map(plain, args)) and all(map(plain, kwargs.values())):
            return remembered(value, args, tuple(sorted(kwargs.items())))
        return fn(value, *args, **kwargs)

    return call


def _environment(*, autoescape: bool) -> jinja2.Environment:
    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    env.filters.update({name: _REMEMBERING[name] for name in FILTERS})
    return env


_REMEMBERING: Final = {name: _remembering(fn) for name, fn in FILTERS.items()}
_TEXT_ENV: Final = _environment(autoescape=False)
_HTML_ENV: Final = _environment(autoescape=True)


# --- templates --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """One contact's letter: a one-line subject, the plain text and the HTML (or None)."""

    subject: str
    text: str
    html: str | None


@dataclass(frozen=True, slots=True)
class _FilterUse:
    name: str
    path: str | None  # the contact field the filter is applied to, when it is a plain field
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    constant: bool  # all options are literals, so they can be checked on load
    line: int


@dataclass(frozen=True, slots=True)
class _Compiled:
    key: str
    template: jinja2.Template
    paths: tuple[tuple[str, int], ...]  # plain fields the template reads, with their lines
    filters: tuple[_FilterUse, ...]
    names: frozenset[str]
    # fields given to a filter as an option that is a value (timerange's end time)
    option_fields: tuple[tuple[str, str], ...] = ()


def _path(node: nodes.Node) -> str | None:
    """``contact.address.city`` for Name/Getattr/Getitem-with-a-literal chains, else None."""
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Name):
            parts.append(node.name)
            return ".".join(reversed(parts))
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            parts.append(str(node.arg.value))
            node = node.node
        else:
            return None


def _const(node: nodes.Expr) -> tuple[bool, Any]:
    try:
        return True, node.as_const()
    except nodes.Impossible:
        return False, None


_NO_FILTER_RE = re.compile(r"No filter named '([^']*)'")
_NO_TEST_RE = re.compile(r"No test named '([^']*)'")


def _syntax_reason(message: str) -> str:
    # the two mistakes supervisors make most, said in their language; Jinja2's own wording
    # for the rest (it names the token, which is what has to be fixed)
    if match := _NO_FILTER_RE.search(message):
        return f"неизвестный фильтр «{match[1]}» (фильтры значений: {', '.join(FILTERS)})"
    if match := _NO_TEST_RE.search(message):
        return f"неизвестная проверка «{match[1]}» в is"
    return message


def _compile(env: jinja2.Environment, source: str, key: str) -> _Compiled:
    if not isinstance(source, str):
        raise TemplateError(f"шаблон должен быть строкой, а не {type(source).__name__}", key=key)
    try:
        ast = env.parse(source)
        template = env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        reason = _syntax_reason(exc.message or "")
        raise TemplateError(f"ошибка шаблона: {reason}", key=key, line=exc.lineno) from None
    except SecurityError as exc:  # pragma: no cover - the sandbox checks at run time
        raise TemplateError(f"запрещено: {exc}", key=key) from None
    loop_names = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    paths: list[tuple[str, int]] = []
    for node in ast.find_all((nodes.Name, nodes.Getattr, nodes.Getitem)):
        path = _path(node)
        if path and path.split(".")[0] not in loop_names:
            paths.append((path, node.lineno))
    uses: list[_FilterUse] = []
    option_fields: list[tuple[str, str]] = []
    for node in ast.find_all(nodes.Filter):
        if node.name not in FILTERS:
            continue
        if node.name == "timerange":
            end_nodes = node.args[:1] + [
                kw.value for kw in cast("list[nodes.Keyword]", node.kwargs) if kw.key == "end"
            ]
            for end_node in end_nodes:
                end_path = _path(end_node)
                if end_path and end_path.split(".")[0] not in loop_names:
                    option_fields.append((end_path, "timerange_end"))
        consts = [_const(a) for a in node.args]
        # jinja2 annotates a filter's kwargs as Pair nodes; its parser makes Keyword nodes
        keywords = cast("list[nodes.Keyword]", node.kwargs)
        kw_consts = {kw.key: _const(kw.value) for kw in keywords}
        constant = all(ok for ok, _ in consts) and all(ok for ok, _ in kw_consts.values())
        path = _path(node.node) if node.node is not None else None
        if path and path.split(".")[0] in loop_names:
            path = None
        use = _FilterUse(
            name=node.name,
            path=path,
            args=tuple(v for _, v in consts),
            kwargs={k: v for k, (_, v) in kw_consts.items()},
            constant=constant,
            line=node.lineno,
        )
        if constant:
            _check_options(use, key)
        uses.append(use)
    names = frozenset(meta.find_undeclared_variables(ast))
    return _Compiled(key, template, tuple(paths), tuple(uses), names, tuple(option_fields))


def _check_options(use: _FilterUse, key: str) -> None:
    """Apply the filter with its literal options to a sample value: a misspelt form or unit
    is found when the scenario is saved, not at the first customer."""
    try:
        sample = _SAMPLES[use.name]
        if use.name == "timerange" and (use.args or "end" in use.kwargs):
            # a literal end time: the sample is a start that is no range by itself
            end = use.args[0] if use.args else use.kwargs["end"]
            sample = "00:00" if _checked(phrases.parse_time, end) != dt.time(0, 0) else "12:00"
        FILTERS[use.name](sample, *use.args, **use.kwargs)
    except ValueProblem as exc:
        raise TemplateError(f"фильтр {use.name}: {exc}", key=key, line=use.line) from None
    except TypeError as exc:
        raise TemplateError(
            f"фильтр {use.name}: неверные параметры ({exc})", key=key, line=use.line
        ) from None


_MISSING: Final = object()


def _lookup(context: Mapping[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part, _MISSING)
        else:
            value = getattr(value, part, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def _template_line(tb: TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# ASCII white space and line breaks only: the no-break spaces inside amounts must stay
_LINE_SPACE_RE = re.compile("[ \t\r\n\f\v\x85\u2028\u2029]+")
_UNDEFINED_RE = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")


def _diagnose(compiled: _Compiled, context: Mapping[str, Any], exc: BaseException) -> Exception:
    """Turn a render failure into an error naming the contact field that caused it."""
    key = compiled.key
    line = _template_line(exc.__traceback__)
    if isinstance(exc, jinja2.UndefinedError):
        match = _UNDEFINED_RE.search(str(exc))
        name = (match[1] or match[2]) if match else None
        for path, at in compiled.paths:
            if path.rsplit(".", 1)[-1] == name and _lookup(context, path) is _MISSING:
                return TemplateRenderError(f"нет поля {path!r}", key=key, field=path, line=at)
        reason = f"нет поля {name!r}" if name else f"нет значения: {exc}"
        return TemplateRenderError(reason, key=key, field=name, line=line)
    for use in compiled.filters:
        if use.path is None or not use.constant:
            continue
        value = _lookup(context, use.path)
        if value is _MISSING:
            continue
        try:
            FILTERS[use.name](value, *use.args, **use.kwargs)
        except ValueProblem as problem:
            reason = f"поле {use.path!r}: {problem}"
            return TemplateRenderError(reason, key=key, field=use.path, line=use.line)
        except Exception:
            # not this use's value (an option problem): keep looking, report generically below
            continue
    if isinstance(exc, ValueProblem) and "None" in str(exc):
        for path, at in compiled.paths:
            if _lookup(context, path) is None:
                return TemplateRenderError(f"пустое поле {path!r}", key=key, field=path, line=at)
    if isinstance(exc, SecurityError):
        return TemplateRenderError(f"запрещено в шаблоне: {exc}", key=key, line=line)
    if isinstance(exc, TypeError | ArithmeticError):
        # Python's own words ("can only concatenate str...") name the operation at fault
        return TemplateRenderError(f"выражение не вычисляется: {exc}", key=key, line=line)
    return TemplateRenderError(str(exc), key=key, line=line)


def _render(compiled: _Compiled, context: Mapping[str, Any]) -> str:
    try:
        return compiled.template.render(context)
    except (ValueProblem, jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        raise _diagnose(compiled, context, exc) from None


@dataclass(frozen=True, slots=True)
class EmailTemplate:
    """A scenario's e-mail: ``subject``, ``text`` and optional ``html`` Jinja2 sources.

    Checked when built (syntax, unknown filters, literal filter options): errors are
    :class:`TemplateError` naming ``<where>.<key>`` and the line.
    """

    subject: str
    text: str
    html: str | None = None
    where: str = "email"
    _compiled: tuple[_Compiled, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = [
            _compile(_TEXT_ENV, self.subject, self._key("subject")),
            _compile(_TEXT_ENV, self.text, self._key("text")),
        ]
        if not self.subject.strip():
            raise TemplateError("пустая тема письма", key=self._key("subject"))
        if not self.text.strip():
            raise TemplateError("пустой текст письма", key=self._key("text"))
        if self.html is not None:
            if not self.html.strip():
                raise TemplateError("пустой HTML (уберите ключ html)", key=self._key("html"))
            compiled.append(_compile(_HTML_ENV, self.html, self._key("html")))
        object.__setattr__(self, "_compiled", tuple(compiled))

    def _key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    @classmethod
    def load(cls, spec: Mapping[str, Any], *, where: str = "email") -> EmailTemplate:
        """From a scenario's mapping ``{"subject": ..., "text": ..., "html": ...}``."""
        if not isinstance(spec, Mapping):
            raise TemplateError("ожидается таблица с ключами subject, text, html", key=where)
        unknown = sorted(set(spec) - set(TEMPLATE_KEYS))
        if unknown:
            raise TemplateError(
                f"неизвестные ключи: {', '.join(map(str, unknown))} (есть: subject, text, html)",
                key=where,
            )
        for required in ("subject", "text"):
            if required not in spec:
                raise TemplateError("обязательный ключ", key=f"{where}.{required}")
        html = spec.get("html")
        return cls(subject=spec["subject"], text=spec["text"], html=html, where=where)

    def to_mapping(self) -> dict[str, str]:
        """What a scenario stores (the inverse of :meth:`load`)."""
        out = {"subject": self.subject, "text": self.text}
        if self.html is not None:
            out["html"] = self.html
        return out

    @property
    def fields(self) -> frozenset[str]:
        """Top-level contact fields the template reads (the channel's own names excluded)."""
        return frozenset().union(*(c.names for c in self._compiled)) - RESERVED_NAMES

    def filtered_as(self) -> dict[str, str]:
        """Each top-level field a filter is applied to, with the first such filter
        (``{"debt": "money", "outage_date": "date"}``): what kind of value it must hold."""
        kinds: dict[str, str] = {}
        for compiled in self._compiled:
            for use in compiled.filters:
                if use.path is None:
                    continue
                kind = use.name
                if kind == "timerange" and (use.args or "end" in use.kwargs):
                    kind = "time"  # a start whose end is given apart
                kinds.setdefault(use.path.split(".")[0], kind)
            for path, kind in compiled.option_fields:
                kinds.setdefault(path.split(".")[0], kind)
        return kinds

    def render(
        self, contact: Mapping[str, Any], *, extra: Mapping[str, Any] | None = None
    ) -> RenderedEmail:
        """The letter for one contact. ``extra`` holds the channel's values (``unsubscribe_url``)
        and wins over contact fields of the same name. Raises :class:`TemplateRenderError`."""
        context: dict[str, Any] = {**contact, **(extra or {})}
        subject_c, text_c, *html_c = self._compiled
        # a subject is one header line: line breaks from a field or a block become spaces
        subject = _LINE_SPACE_RE.sub(" ", _render(subject_c, context)).strip(" ")
        if not subject:
            raise TemplateRenderError("тема письма получилась пустой", key=subject_c.key)
        text = _render(text_c, context)
        html = _render(html_c[0], context) if html_c else None
        return RenderedEmail(subject=subject, text=text, html=html)

"""Spoken messages: a list of segments (prompt, literal text, typed value from a contact).

A message is written either as a template string::

    "{prompt:autoinformer_intro} Задолженность по лицевому счёту {phone:phone} составляет
     {money:debt}. Отключение {date:outage_date form=genitive year=no}
     {timerange:outage_from end=outage_to}."

or as a list of mappings (as a TOML/JSON scenario would carry it)::

    [{"prompt": "debt_amount"}, {"value": "money", "field": "debt"}, {"text": "Спасибо."}]

Resolving a message against a contact's fields (:func:`resolve`) is pure and gives
:class:`PromptPart` and :class:`SpeechPart` items; :class:`~contact_center.speech.service.Speech`
turns those into files Asterisk plays.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from contact_center.parsing import parse_yes_no
from contact_center.speech import phrases
from contact_center.speech.numbers import GENDERS
from contact_center.speech.phrases import (
    DATE_FORMS,
    DEFAULT_AREA_CODES,
    KINDS,
    TIME_FORMS,
    UNITS,
    PhraseError,
)
from contact_center.speech.prompts import PROMPT_NAME_RE


class MessageError(ValueError):
    """A message that cannot be built or filled; ``str(exc)`` is a one-line Russian message."""


ValueKind = Literal["money", "date", "time", "timerange", "quantity", "phone", "number"]
_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True, slots=True)
class PromptSegment:
    """A fixed prompt by name (``sounds/ru/<name>.wav``)."""

    name: str

    def __post_init__(self) -> None:
        if not PROMPT_NAME_RE.match(self.name):
            raise MessageError(f"неверное имя подсказки: {self.name!r}")


@dataclass(frozen=True, slots=True)
class TextSegment:
    """Literal text, synthesized once and cached."""

    text: str

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise MessageError("пустой текст в сообщении")


@dataclass(frozen=True, slots=True)
class ValueSegment:
    """A typed value read from the contact's field ``field``.

    ``end_field``: the end of a ``timerange`` (else ``field`` holds "09:00-17:30");
    ``unit``: a ``quantity`` unit (kwh, day, hour, minute, request);
    ``form``: a date form (nominative, genitive, from, until, through) or a time form
    (nominative, genitive, at, from, until); ``year``: whether a date says its year;
    ``gender``: for ``number`` (m, f, n).
    """

    kind: str
    field: str
    end_field: str | None = None
    unit: str | None = None
    form: str | None = None
    year: bool = True
    gender: str = "m"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise MessageError(
                f"неизвестный вид значения: {self.kind!r} (есть: {', '.join(KINDS)})"
            )
        for name in (self.field, self.end_field):
            if name is not None and not _FIELD_RE.match(name):
                raise MessageError(f"неверное имя поля: {name!r}")
        if self.kind == "quantity" and self.unit not in UNITS:
            raise MessageError(f"для количества нужна единица unit= (есть: {', '.join(UNITS)})")
        if self.kind != "quantity" and self.unit is not None:
            raise MessageError(f"единица измерения не нужна для {self.kind}")
        if self.form is not None:
            allowed = {"date": DATE_FORMS, "time": TIME_FORMS}.get(self.kind)
            if allowed is None:
                raise MessageError(f"форма не нужна для {self.kind}")
            if self.form not in allowed:
                raise MessageError(
                    f"неизвестная форма {self.form!r} для {self.kind} (есть: {', '.join(allowed)})"
                )
        if self.end_field is not None and self.kind != "timerange":
            raise MessageError("end= бывает только у timerange")
        if self.gender not in GENDERS:
            raise MessageError(f"неизвестный род: {self.gender!r} (есть: m, f, n)")

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.field,) if self.end_field is None else (self.field, self.end_field)


Segment = PromptSegment | TextSegment | ValueSegment


@dataclass(frozen=True, slots=True)
class PromptPart:
    name: str


@dataclass(frozen=True, slots=True)
class SpeechPart:
    text: str


Part = PromptPart | SpeechPart


@dataclass(frozen=True, slots=True)
class Message:
    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.segments))
        if not self.segments:
            raise MessageError("пустое сообщение")

    @classmethod
    def parse(cls, spec: str | Sequence[Mapping[str, Any] | str] | Message) -> Message:
        """A message from a template string or a list of segment mappings/strings."""
        if isinstance(spec, Message):
            return spec
        if isinstance(spec, str):
            return cls(tuple(parse_template(spec)))
        segments: list[Segment] = []
        for item in spec:
            if isinstance(item, str):
                segments += parse_template(item)
            elif isinstance(item, Mapping):
                segments.append(segment_from_mapping(item))
            else:
                raise MessageError(f"неверный сегмент сообщения: {item!r}")
        return cls(tuple(segments))

    @property
    def fields(self) -> frozenset[str]:
        """Contact fields the message reads."""
        return frozenset(f for s in self.segments if isinstance(s, ValueSegment) for f in s.fields)

    @property
    def prompts(self) -> frozenset[str]:
        return frozenset(s.name for s in self.segments if isinstance(s, PromptSegment))

    def check_prompts(self, known: Collection[str]) -> None:
        """Raise :class:`MessageError` naming prompts not in ``known``."""
        missing = sorted(self.prompts - set(known))
        if missing:
            raise MessageError(f"неизвестные подсказки: {', '.join(missing)}")


# --- parsing ---------------------------------------------------------------------------

_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
_LEADING_PUNCTUATION = " .,;:!?…—–-"


def _bool_option(key: str, raw: Any) -> bool:
    try:
        return parse_yes_no(raw)
    except ValueError:
        raise MessageError(f"{key}= ожидает yes или no, а не {raw!r}") from None


def _value_segment(kind: str, field: str, options: Mapping[str, Any]) -> ValueSegment:
    known = {"end", "end_field", "unit", "form", "year", "gender"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise MessageError(f"неизвестные параметры: {', '.join(unknown)}")
    end = options.get("end", options.get("end_field"))
    return ValueSegment(
        kind=kind,
        field=field,
        end_field=str(end) if end is not None else None,
        unit=str(options["unit"]) if "unit" in options else None,
        form=str(options["form"]) if "form" in options else None,
        year=_bool_option("year", options["year"]) if "year" in options else True,
        gender=str(options.get("gender", "m")),
    )


def _placeholder(body: str) -> Segment:
    words = body.split()
    if not words or ":" not in words[0]:
        raise MessageError(f"ожидается {{вид:поле}}, а не {{{body}}}")
    kind, _, name = words[0].partition(":")
    kind, name = kind.strip(), name.strip()
    if kind == "prompt":
        if len(words) > 1:
            raise MessageError(f"у подсказки нет параметров: {{{body}}}")
        return PromptSegment(name)
    if kind == "text":
        raise MessageError("текст пишется без скобок")
    options: dict[str, str] = {}
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if not eq or not key or not value:
            raise MessageError(f"параметр должен быть вида ключ=значение: {word!r}")
        options[key] = value
    return _value_segment(kind, name, options)


def parse_template(template: str) -> list[Segment]:
    """``"Долг {money:debt}."`` -> [TextSegment("Долг"), ValueSegment("money", "debt"),
    TextSegment(".")]; text between placeholders keeps only meaningful pieces."""
    if not isinstance(template, str):
        raise MessageError(f"шаблон должен быть строкой, а не {type(template).__name__}")
    segments: list[Segment] = []
    pos = 0
    for match in _PLACEHOLDER_RE.finditer(template):
        _add_text(segments, template[pos : match.start()])
        segments.append(_placeholder(match[1]))
        pos = match.end()
    _add_text(segments, template[pos:])
    return segments


def _add_text(segments: list[Segment], raw: str) -> None:
    if "{" in raw or "}" in raw:
        raise MessageError("непарная фигурная скобка в шаблоне")
    # punctuation that ends the previous value's sentence (". Отключение") or stands alone
    # between two values is a pause in a separate file, not something to synthesize
    text = " ".join(raw.split()).lstrip(_LEADING_PUNCTUATION)
    if text and any(ch.isalnum() for ch in text):
        segments.append(TextSegment(text))


def segment_from_mapping(item: Mapping[str, Any]) -> Segment:
    """``{"prompt": name}``, ``{"text": "..."}`` or ``{"value": kind, "field": name, ...}``."""
    keys = set(item) & {"prompt", "text", "value"}
    if len(keys) != 1:
        raise MessageError(
            f"сегмент должен иметь ровно один из ключей prompt, text, value: {item!r}"
        )
    if "prompt" in item:
        if set(item) != {"prompt"}:
            raise MessageError(f"у подсказки нет параметров: {item!r}")
        return PromptSegment(str(item["prompt"]))
    if "text" in item:
        if set(item) != {"text"}:
            raise MessageError(f"у текста нет параметров: {item!r}")
        return TextSegment(str(item["text"]))
    field = item.get("field")
    if not field:
        raise MessageError(f"у значения нет поля field: {item!r}")
    options = {k: v for k, v in item.items() if k not in ("value", "field")}
    return _value_segment(str(item["value"]), str(field), options)


# --- filling ---------------------------------------------------------------------------


def _field(contact: Mapping[str, Any], name: str) -> Any:
    value: Any = contact
    for part in name.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif not isinstance(value, Mapping) and hasattr(value, part):
            value = getattr(value, part)
        else:
            raise MessageError(f"нет поля {name!r}")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MessageError(f"пустое поле {name!r}")
    return value


def value_phrase(
    segment: ValueSegment,
    contact: Mapping[str, Any],
    *,
    area_codes: Collection[str] = DEFAULT_AREA_CODES,
) -> str:
    """The words for one typed value filled from ``contact``."""
    raw = _field(contact, segment.field)
    try:
        match segment.kind:
            case "money":
                return phrases.money_phrase(raw)
            case "date":
                form = phrases.as_date_form(segment.form or "nominative")
                return phrases.date_phrase(raw, form=form, year=segment.year)
            case "time":
                return phrases.time_phrase(
                    raw, form=phrases.as_time_form(segment.form or "nominative")
                )
            case "timerange":
                end = _field(contact, segment.end_field) if segment.end_field else None
                return phrases.timerange_phrase(raw, end)
            case "quantity":
                assert segment.unit is not None
                return phrases.quantity_phrase(raw, segment.unit)
            case "phone":
                return phrases.phone_phrase(str(raw), area_codes=area_codes)
            case "number":
                return phrases.number_phrase(raw, gender=phrases.as_gender(segment.gender))
    except PhraseError as exc:
        raise MessageError(f"поле {segment.field!r}: {exc}") from None
    raise MessageError(f"неизвестный вид значения: {segment.kind!r}")  # pragma: no cover


def resolve(
    message: Message,
    contact: Mapping[str, Any] | None = None,
    *,
    area_codes: Collection[str] = DEFAULT_AREA_CODES,
) -> list[Part]:
    """The message's parts for one contact: prompts by name, everything else as text."""
    contact = contact or {}
    parts: list[Part] = []
    for segment in message.segments:
        if isinstance(segment, PromptSegment):
            parts.append(PromptPart(segment.name))
        elif isinstance(segment, TextSegment):
            parts.append(SpeechPart(" ".join(segment.text.split())))
        else:
            parts.append(SpeechPart(value_phrase(segment, contact, area_codes=area_codes)))
    return parts


def message_text(parts: Sequence[Part], prompts: Mapping[str, str] | None = None) -> str:
    """The whole message as one line of text (prompt texts if known, else ``[name]``)."""
    out = []
    for part in parts:
        if isinstance(part, PromptPart):
            out.append((prompts or {}).get(part.name, f"[{part.name}]"))
        else:
            out.append(part.text)
    return " ".join(out)

"""A scenario's message for a sample contact: as text, and as one WAV of the parts the call
would play (the same synthesized phrases and prompts), for the scenarios page."""

from __future__ import annotations

import asyncio
import io
import re
import wave
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from autoinformer.lists import DATETIME_FIELDS, MONEY_FIELDS, parse_datetime, speech_values
from autoinformer.scenarios import SAMPLE_BY_FILTER, SAMPLE_FIELDS, SAMPLE_TEXT, Scenario
from contact_center.customers.csv_import import parse_amount
from contact_center.speech import (
    Message,
    MessageError,
    PromptPart,
    Speech,
    ValueSegment,
    prompt_path,
)
from contact_center.speech.message import message_text

FIELD_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_VALUE: Final = 500
# a breath between the parts, as the call's playback has between files
GAP_S: Final = 0.15
SAMPLE_PHONE: Final = "+79131234567"


class PreviewError(ValueError):
    """A sample the message cannot be filled from; `field` names the sample's key."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.field = field


def sample_contact(scenario: Scenario, given: Mapping[Any, Any] | None = None) -> dict[str, str]:
    """The built-in sample customer with a value for every field the message reads, then
    what the caller gave (text values, as a list's cells)."""
    values: dict[str, str] = {"phone": SAMPLE_PHONE, **SAMPLE_FIELDS}
    for segment in scenario.message.segments:
        if isinstance(segment, ValueSegment):
            for i, name in enumerate(segment.fields):
                kind = "timerange_end" if i else segment.kind
                values.setdefault(name, SAMPLE_BY_FILTER.get(kind, SAMPLE_TEXT))
    for name in scenario.text_fields:
        values.setdefault(name, SAMPLE_TEXT)
    for key, value in (given or {}).items():
        if not isinstance(key, str) or not FIELD_RE.match(key):
            raise PreviewError(f"неверное имя поля образца: «{str(key)[:64]}»", "sample")
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise PreviewError(f"поле {key}: нужна строка или число", key)
        text = " ".join(str(value).split())
        if len(text) > MAX_VALUE:
            raise PreviewError(f"поле {key}: не длиннее {MAX_VALUE} знаков", key)
        values[key] = _as_list_cell(key, text)
    return values


def _as_list_cell(key: str, text: str) -> str:
    """The value as a list's cell is stored: amounts `1 500,50`, dates `05.12.2026 10:00`."""
    try:
        if key in MONEY_FIELDS:
            amount = parse_amount(text, key)
            return "" if amount is None else f"{amount:.2f}"
        if key in DATETIME_FIELDS:
            return parse_datetime(text, key)
    except ValueError as exc:
        raise PreviewError(str(exc), key) from None
    return text


def _typed(values: Mapping[str, str]) -> dict[str, Any]:
    try:
        return speech_values(values)
    except (ValueError, ArithmeticError) as exc:
        raise PreviewError(f"значение образца не читается: {exc}", "sample") from None


def _message(scenario: Scenario, values: Mapping[str, Any]) -> Message:
    try:
        return scenario.message_for(values)
    except MessageError as exc:
        raise PreviewError(str(exc), "sample") from None


def preview_text(speech: Speech, scenario: Scenario, sample: Mapping[str, str]) -> str:
    values = _typed(sample)
    try:
        parts = speech.resolve(_message(scenario, values), values)
    except MessageError as exc:
        raise PreviewError(str(exc), "sample") from None
    prompts = {name: speech.prompts.text(name) for name in speech.prompts}
    return message_text(parts, prompts)


async def preview_wav(speech: Speech, scenario: Scenario, sample: Mapping[str, str]) -> bytes:
    """One 8 kHz WAV of the message's parts; synthesis in the speech workers, the file
    work in a thread."""
    values = _typed(sample)
    try:
        parts = speech.resolve(_message(scenario, values), values)
    except MessageError as exc:
        raise PreviewError(str(exc), "sample") from None
    paths: list[Path] = []
    for part in parts:
        if isinstance(part, PromptPart):
            built = prompt_path(speech.sounds_dir, part.name)
            if await asyncio.to_thread(built.is_file):
                paths.append(built)
                continue
            paths.append(await speech.synthesize(speech.prompts.text(part.name)))
        else:
            paths.append(await speech.synthesize(part.text))
    return await asyncio.to_thread(join_wavs, paths)


def join_wavs(paths: Sequence[Path], gap: float = GAP_S) -> bytes:
    """The files one after the other (same format required) with `gap` of silence."""
    out = io.BytesIO()
    params: tuple[int, int, int] | None = None
    with wave.open(out, "wb") as target:
        for i, path in enumerate(paths):
            with wave.open(str(path), "rb") as source:
                these = (source.getnchannels(), source.getsampwidth(), source.getframerate())
                if params is None:
                    params = these
                    target.setnchannels(these[0])
                    target.setsampwidth(these[1])
                    target.setframerate(these[2])
                elif these != params:
                    raise ValueError(f"{path.name}: формат {these} не совпадает с {params}")
                if i:
                    target.writeframes(b"\0" * int(gap * these[2]) * these[0] * these[1])
                target.writeframes(source.readframes(source.getnframes()))
        if params is None:  # an empty message: a valid, silent file
            target.setnchannels(1)
            target.setsampwidth(2)
            target.setframerate(8000)
    return out.getvalue()

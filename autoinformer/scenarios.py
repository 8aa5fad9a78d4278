"""Scenarios: what a campaign call says and what the customer's keys do (pure, no I/O but
reading the file it is asked to read).

A scenario is a TOML (or JSON) file::

    name = "debt-notice"
    kind = "debt"                      # debt | outage | reminder | tariff
    title = "Задолженность за электроэнергию"
    message = "{prompt:autoinformer_intro} Задолженность ... {money:debt}. {prompt:press_1_confirm}"
    wait_digit = 5                     # seconds to wait for a key after the message
    repeats = 1                        # how many times "another key" replays the message
    calls_per_free_operator = 2        # pacing when the scenario offers 0
    transfer_counts_as = "confirmed"   # a call put through to an operator is notified:
                                       # confirmed (the operator's info-done or wrap-up),
                                       # answered (an operator took it), message (only if
                                       # the message itself was heard or confirmed)
    record = true                      # record the calls (MixMonitor, default true); false
                                       # for a mass warning: the journal (parts heard, keys,
                                       # times) is the proof, no 50 KB of WAV a call

    [keys]                             # digit -> confirm | operator | opt_out | repeat
    "1" = "confirm"
    "0" = "operator"
    "9" = "opt_out"
    other = "repeat"                   # any other key: repeat | ignore

    [replies]                          # said after the action ("" says nothing)
    confirmed = "{prompt:confirmed}"
    operator = "{prompt:connecting_operator}"
    operator_busy = "Все операторы заняты. Оператор перезвонит вам."
    opted_out = "Вы больше не будете получать такие уведомления."
    goodbye = "{prompt:goodbye}"

    [email]                            # optional: the same notice as a letter (Jinja2)
    subject = "Задолженность {{ debt | money }} по счёту {{ account }}"
    text = "Задолженность составляет {{ debt | money }}. Отписаться: {{ unsubscribe_url }}"
    html = "<p>Задолженность: <b>{{ debt | money }}</b></p>"   # optional

The ``[email]`` table is :class:`autoinformer.email.EmailTemplate` (filters money, date,
time, timerange, quantity, number, phone; HTML autoescaped); a campaign with ``--channel
email`` or ``both`` needs it. It is stored with the scenario, so a changed letter is a new
version and a campaign keeps the letter it was created with.

``message`` may also be a list of segments (``[{prompt = "..."}, {value = "money",
field = "debt"}, {text = "..."}]``) as :class:`contact_center.speech.Message` accepts.
Besides the speech kinds (money, date, time, timerange, quantity, phone, number) a
template may read a contact's field as plain text with ``{field:address}`` (an address,
a name): the autoinformer puts the text in before the message is parsed.
Every error names the file and the key.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoinformer.email.exceptions import TemplateError
from autoinformer.email.templates import EmailTemplate
from autoinformer.exceptions import ScenarioError
from contact_center.speech.message import Message, MessageError

KINDS = ("debt", "outage", "reminder", "tariff")
# the scenario a campaign of each kind uses when none is named (CLI and web alike)
DEFAULT_SCENARIO = {
    "debt": "debt-notice",
    "outage": "outage-warning",
    "reminder": "reminder",
    "tariff": "tariff-change",
}
KIND_RU = {
    "debt": "задолженность",
    "outage": "плановое отключение",
    "reminder": "напоминание",
    "tariff": "изменение тарифа",
}
ACTIONS = ("confirm", "operator", "opt_out", "repeat")
OTHER_ACTIONS = ("repeat", "ignore")
# when a customer put through to an operator counts as notified (TRANSFER_RULES_RU says how)
TRANSFER_RULES = ("confirmed", "answered", "message")
DEFAULT_TRANSFER_RULE = "confirmed"
TRANSFER_RULES_RU = {
    "confirmed": "когда оператор подтвердит (информация дана или обработка после звонка)",
    "answered": "как только оператор ответит",
    "message": "только если сообщение дослушано или подтверждено",
}
REPLIES = ("confirmed", "operator", "operator_busy", "opted_out", "goodbye")
DEFAULT_REPLIES: Mapping[str, str] = {
    "confirmed": "{prompt:confirmed}",
    "operator": "{prompt:connecting_operator}",
    # the stock all_operators_busy prompt promises a wait in the queue; a campaign call
    # is not queued when nobody is free, an operator calls back instead
    "operator_busy": "Все операторы сейчас заняты. Оператор перезвонит вам в ближайшее время.",
    "opted_out": (
        "Вы отказались от таких уведомлений. Мы больше не будем звонить вам по этому поводу."
    ),
    "goodbye": "{prompt:goodbye}",
}
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
TEXT_FIELD_RE = re.compile(r"\{field:([A-Za-z_][A-Za-z0-9_]*)\}")
BUILTIN_DIR = Path(__file__).with_name("scenarios")
_TOP_KEYS = {
    "name",
    "kind",
    "title",
    "message",
    "wait_digit",
    "repeats",
    "calls_per_free_operator",
    "transfer_counts_as",
    "record",
    "keys",
    "replies",
    "email",
}


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    kind: str
    title: str
    message: Message
    keys: Mapping[str, str]
    text_fields: frozenset[str] = frozenset()
    other: str = "repeat"
    wait_digit: float = 5.0
    repeats: int = 1
    calls_per_free_operator: float = 2.0
    # when a transfer to an operator counts as notified (TRANSFER_RULES)
    transfer_counts_as: str = DEFAULT_TRANSFER_RULE
    # whether its calls are recorded (the dialplan's MixMonitor)
    record: bool = True
    replies: Mapping[str, Message | None] = field(default_factory=dict)
    # the validated data as it is stored (JSON): what a campaign replays later
    data: Mapping[str, Any] = field(default_factory=dict)
    # the letter of the e-mail channel; None: this scenario is phone only
    email: EmailTemplate | None = None

    @property
    def offers_operator(self) -> bool:
        return "operator" in self.keys.values()

    @property
    def fields(self) -> frozenset[str]:
        """Contact fields the message reads (every list row must give them)."""
        return self.message.fields | self.text_fields

    def message_for(self, values: Mapping[str, Any]) -> Message:
        """The message with ``{field:NAME}`` filled from `values` (raises MessageError)."""
        if not self.text_fields:
            return self.message
        return Message.parse(_fill_text_fields(self.data["message"], values))

    def action(self, digit: str) -> str:
        """What pressing `digit` does: confirm, operator, opt_out, repeat or ignore."""
        return self.keys.get(digit, self.other)

    def body(self) -> str:
        return json.dumps(dict(self.data), ensure_ascii=False, sort_keys=True)


def transfer_rule_of(body: str | Mapping[str, Any]) -> str:
    """A stored scenario's rule for transfers (its JSON body, or the body parsed)."""
    data = json.loads(body) if isinstance(body, str) else body
    rule = (
        data.get("transfer_counts_as", DEFAULT_TRANSFER_RULE) if isinstance(data, Mapping) else None
    )
    return rule if rule in TRANSFER_RULES else DEFAULT_TRANSFER_RULE


def records_calls(body: str | Mapping[str, Any]) -> bool:
    """Whether a stored scenario's calls are recorded (`record`; true when not given)."""
    data = json.loads(body) if isinstance(body, str) else body
    return not (isinstance(data, Mapping) and data.get("record") is False)


def parse_scenario(
    data: Mapping[str, Any],
    source: str,
    *,
    prompts: Collection[str] | None = None,
    check_letter: bool = True,
) -> Scenario:
    """Validate scenario data; `source` (a file name) starts every error message.
    `check_letter`: fill the letter for a sample customer (see :func:`_check_letter`)."""

    def err(key: str, reason: str) -> ScenarioError:
        return ScenarioError(f"{source}: {key}: {reason}", key=key)

    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: сценарий должен быть таблицей ключей")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise err(unknown[0], "неизвестный ключ (есть: " + ", ".join(sorted(_TOP_KEYS)) + ")")
    name = data.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise err("name", "нужно имя из строчных латинских букв, цифр, '-' и '_'")
    kind = data.get("kind")
    if kind not in KINDS:
        raise err("kind", f"вид уведомления должен быть одним из: {', '.join(KINDS)}")
    title = data.get("title", name)
    if not isinstance(title, str):
        raise err("title", "должен быть строкой")
    if "message" not in data:
        raise err("message", "нет текста сообщения")
    text_fields = _text_fields(data["message"])
    placeholder = {name: "текст" for name in text_fields}
    message = _message(_fill_text_fields(data["message"], placeholder), "message", err, prompts)
    wait_digit = _number(data.get("wait_digit", 5), "wait_digit", err, 0, 60)
    repeats = data.get("repeats", 1)
    if not isinstance(repeats, int) or isinstance(repeats, bool) or not 0 <= repeats <= 5:
        raise err("repeats", "целое число от 0 до 5")
    per_operator = _number(
        data.get("calls_per_free_operator", 2), "calls_per_free_operator", err, 0.5, 50
    )
    transfer_rule = data.get("transfer_counts_as", DEFAULT_TRANSFER_RULE)
    if transfer_rule not in TRANSFER_RULES:
        raise err(
            "transfer_counts_as",
            f"одно из: {', '.join(TRANSFER_RULES)} (соединение с оператором считается "
            "оповещением: confirmed — когда оператор подтвердит, answered — когда ответит, "
            "message — только по самому сообщению)",
        )
    record = data.get("record", True)
    if not isinstance(record, bool):
        raise err("record", "true или false: записывать ли звонки кампании (по умолчанию true)")
    keys_raw = data.get("keys", {"1": "confirm"})
    if not isinstance(keys_raw, Mapping):
        raise err("keys", "должна быть таблица цифра = действие")
    keys: dict[str, str] = {}
    other = "repeat"
    for digit, action in keys_raw.items():
        if digit == "other":
            if action not in OTHER_ACTIONS:
                raise err("keys.other", f"действие для прочих клавиш: {', '.join(OTHER_ACTIONS)}")
            other = str(action)
            continue
        if not (isinstance(digit, str) and len(digit) == 1 and digit in "0123456789*#"):
            raise err(f"keys.{digit}", "клавиша должна быть одной цифрой, * или #")
        if action not in ACTIONS:
            raise err(
                f"keys.{digit}", f"неизвестное действие {action!r} (есть: {', '.join(ACTIONS)})"
            )
        keys[digit] = str(action)
    replies_raw = data.get("replies", {})
    if not isinstance(replies_raw, Mapping):
        raise err("replies", "должна быть таблица ответ = текст")
    for key in replies_raw:
        if key not in REPLIES:
            raise err(f"replies.{key}", f"неизвестный ответ (есть: {', '.join(REPLIES)})")
    replies: dict[str, Message | None] = {}
    stored_replies: dict[str, Any] = {}
    for key in REPLIES:
        spec = replies_raw.get(key, DEFAULT_REPLIES[key])
        if spec == "":  # an empty reply says nothing (e.g. no goodbye)
            replies[key] = None
            stored_replies[key] = ""
            continue
        reply = _message(spec, f"replies.{key}", err, prompts)
        if reply.fields:
            raise err(f"replies.{key}", "в ответах не бывает полей абонента")
        replies[key] = reply
        stored_replies[key] = spec
    email: EmailTemplate | None = None
    if "email" in data:
        try:
            email = EmailTemplate.load(data["email"], where="email")
        except TemplateError as exc:
            # the template's own message starts with its key: "email.text, строка 2: ..."
            raise ScenarioError(f"{source}: {exc}", key=exc.key) from None
        if check_letter:
            _check_letter(email, source)
    stored = {
        "name": name,
        "kind": kind,
        "title": title,
        "message": data["message"],
        "wait_digit": wait_digit,
        "repeats": repeats,
        "calls_per_free_operator": per_operator,
        "keys": {**keys, "other": other},
        "replies": stored_replies,
    }
    if "transfer_counts_as" in data:
        # stored only when given: a scenario stored before the key keeps its version
        stored["transfer_counts_as"] = transfer_rule
    if "record" in data:
        stored["record"] = record
    if email is not None:
        stored["email"] = email.to_mapping()
    return Scenario(
        name=name,
        kind=str(kind),
        title=title,
        message=message,
        keys=keys,
        text_fields=text_fields,
        other=other,
        wait_digit=wait_digit,
        repeats=repeats,
        calls_per_free_operator=per_operator,
        transfer_counts_as=str(transfer_rule),
        record=record,
        replies=replies,
        data=stored,
        email=email,
    )


# a customer every list could give: the letter's fields typed as real letters get them
# (lists.letter_fields), a field no list column names yet by the filter it goes through
SAMPLE_FIELDS: Mapping[str, str] = {
    "account": "240001",
    "name": "Иванов Иван Иванович",
    "address": "г. Дивногорск, ул. Чкалова, д. 11, кв. 4",
    "debt": "1500.00",
    "debt_date": "2026-11-01",
    "outage_start": "2026-12-05T10:00",
    "outage_end": "2026-12-05T17:00",
    "timezone": "Asia/Krasnoyarsk",
}
SAMPLE_BY_FILTER: Mapping[str, str] = {
    "money": "1500.00",
    "date": "2026-12-05",
    "time": "09:30",
    "timerange": "09:00-17:30",
    "timerange_end": "17:30",
    "quantity": "150",
    "number": "12345",
    "phone": "+79131234567",
}
SAMPLE_TEXT = "текст"
_SAMPLE_URL = "https://unsubscribe.invalid/unsubscribe?token=v1.sample"


def _check_letter(email: EmailTemplate, source: str) -> None:
    """Fill the letter for one sample customer: a template that fails for it (a field used
    as what it never is, an attribute no value has, arithmetic on text) would fail for
    every row of every list, so it is refused now, not letter by letter in a campaign."""
    from autoinformer.lists import LETTER_BASE_FIELDS, letter_fields

    kinds = email.filtered_as()
    values = {
        name: SAMPLE_FIELDS.get(name) or SAMPLE_BY_FILTER.get(kinds.get(name, ""), SAMPLE_TEXT)
        for name in email.fields - LETTER_BASE_FIELDS
    }
    sample = letter_fields(
        address="ivanov@example.ru",
        phone="79131234567",
        account=SAMPLE_FIELDS["account"],
        name=SAMPLE_FIELDS["name"],
        values=values,
    )
    try:
        email.render(sample, extra={"unsubscribe_url": _SAMPLE_URL})
    except TemplateError as exc:
        where = f"{exc.key}, строка {exc.line}" if exc.line else exc.key
        raise ScenarioError(
            f"{source}: {where}: письмо не собирается даже для образцового абонента: {exc.reason}",
            key=exc.key,
        ) from None


def _text_fields(spec: Any) -> frozenset[str]:
    items = [spec] if isinstance(spec, str) else spec if isinstance(spec, list) else []
    return frozenset(
        m[1] for item in items if isinstance(item, str) for m in TEXT_FIELD_RE.finditer(item)
    )


def _fill_text_fields(spec: Any, values: Mapping[str, Any]) -> Any:
    def fill(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            raw = values.get(match[1])
            if raw is None or not str(raw).strip():
                raise MessageError(f"пустое поле {match[1]!r}")
            # braces would start a placeholder: the text is spoken, never parsed
            return " ".join(str(raw).replace("{", " ").replace("}", " ").split())

        return TEXT_FIELD_RE.sub(one, text)

    if isinstance(spec, str):
        return fill(spec)
    if isinstance(spec, list):
        return [fill(item) if isinstance(item, str) else item for item in spec]
    return spec


def _number(raw: Any, key: str, err: Any, low: float, high: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not low <= raw <= high:
        raise err(key, f"число от {low:g} до {high:g}")
    return float(raw)


def _message(spec: Any, key: str, err: Any, prompts: Collection[str] | None) -> Message:
    if not isinstance(spec, str | list):
        raise err(key, "шаблон-строка или список сегментов")
    try:
        message = Message.parse(spec)
        if prompts is not None:
            message.check_prompts(prompts)
    except MessageError as exc:
        raise err(key, str(exc)) from None
    return message


def load_scenario_file(path: Path, *, prompts: Collection[str] | None = None) -> Scenario:
    """Read and validate a `.toml` or `.json` scenario file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: файл не найден") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: файл должен быть в UTF-8") from None
    return scenario_from_text(text, path.name, prompts=prompts)


def scenario_from_text(
    text: str, source: str, *, prompts: Collection[str] | None = None
) -> Scenario:
    """Validate a scenario given as text: JSON when `source` ends in .json or the text
    starts with '{', else TOML (an upload from the web console, the text of a file)."""
    as_json = source.lower().endswith(".json") or text.lstrip().startswith("{")
    try:
        data = json.loads(text) if as_json else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"{source}: не читается: {exc}") from None
    return parse_scenario(data, source, prompts=prompts)


def scenario_from_body(body: str, source: str) -> Scenario:
    """A scenario stored by :meth:`Scenario.body` (already validated when it was added)."""
    # stored when it passed the checks of its day: a later, stricter check must not take a
    # running campaign's scenario away
    return parse_scenario(json.loads(body), source, check_letter=False)


def builtin_scenarios(*, prompts: Collection[str] | None = None) -> list[Scenario]:
    """The scenarios shipped in autoinformer/scenarios/ (debt-notice, outage-warning...)."""
    return [load_scenario_file(p, prompts=prompts) for p in sorted(BUILTIN_DIR.glob("*.toml"))]

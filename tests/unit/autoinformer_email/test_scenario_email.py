"""A scenario's letter (`[email]`): checked on load with errors naming the file and the key,
stored with the scenario so a changed letter is a new version."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from autoinformer.exceptions import ScenarioError
from autoinformer.scenarios import builtin_scenarios, parse_scenario, scenario_from_body
from contact_center.speech.prompts import PromptCatalog

PROMPTS = set(PromptCatalog.load())
BASE: dict[str, Any] = {"name": "s", "kind": "debt", "message": "Долг {money:debt}."}


def with_email(email: Any) -> dict[str, Any]:
    return {**BASE, "email": email}


def test_every_shipped_scenario_has_a_letter_that_renders() -> None:
    samples: dict[str, dict[str, Any]] = {
        "debt-notice": {"account": "1", "name": "", "debt": Decimal("1500")},
        "outage-warning": {
            "name": "Иванов",
            "address": "ул. Мира 1",
            "outage_start": datetime(2026, 12, 5, 10),
            "outage_end": datetime(2026, 12, 5, 17),
        },
        "reminder": {"account": "1", "name": ""},
        "tariff-change": {"name": "", "tariff_date": "2027-01-01"},
    }
    for scenario in builtin_scenarios(prompts=PROMPTS):
        assert scenario.email is not None, scenario.name
        letter = scenario.email.render(
            samples[scenario.name], extra={"unsubscribe_url": "https://x/unsubscribe?token=t"}
        )
        assert "https://x/unsubscribe?token=t" in letter.text, scenario.name
        assert letter.html is not None and 'href="https://x/unsubscribe?token=t"' in letter.html
        assert ".." not in letter.text, scenario.name


@pytest.mark.parametrize(
    ("email", "error"),
    [
        ("Тема", "f.toml: email: ожидается таблица"),
        ({"text": "x"}, "f.toml: email.subject: обязательный ключ"),
        ({"subject": "x", "text": "x", "body": "x"}, "f.toml: email: неизвестные ключи: body"),
        ({"subject": "x", "text": "a\n{{ debt | money"}, "f.toml: email.text, строка 2:"),
        ({"subject": "x", "text": "{{ d | date(form='sideways') }}"}, "f.toml: email.text"),
        ({"subject": "x", "text": "x", "html": " "}, "f.toml: email.html: пустой HTML"),
    ],
)
def test_letter_errors_name_the_file_and_the_key(email: Any, error: str) -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(with_email(email), "f.toml", prompts=PROMPTS)
    assert str(exc.value).startswith(error), str(exc.value)


def test_the_letter_is_stored_with_the_scenario_and_changes_its_version() -> None:
    first = parse_scenario(with_email({"subject": "Долг", "text": "{{ debt | money }}"}), "f")
    second = parse_scenario(with_email({"subject": "Долг!", "text": "{{ debt | money }}"}), "f")
    phone_only = parse_scenario(BASE, "f")
    assert first.body() != second.body() != phone_only.body()
    assert phone_only.email is None and "email" not in phone_only.body()
    again = scenario_from_body(first.body(), "s@1")
    assert again.email is not None
    assert again.email.to_mapping() == {"subject": "Долг", "text": "{{ debt | money }}"}
    assert again.email.fields == {"debt"}

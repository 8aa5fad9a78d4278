"""A scenario's `record` key: whether its calls are recorded (a mass warning need not be)."""

from __future__ import annotations

import json

import pytest

from autoinformer.exceptions import ScenarioError
from autoinformer.scenarios import parse_scenario, records_calls
from tests.unit.autoinformer.test_transfer_rule import BASE, PROMPTS


@pytest.mark.parametrize(
    ("given", "record", "stored"),
    [
        (None, True, None),
        (True, True, True),
        (False, False, False),
    ],
)
def test_record_is_read_and_stored_only_when_given(
    given: bool | None, record: bool, stored: bool | None
) -> None:
    data = dict(BASE) if given is None else {**BASE, "record": given}
    scenario = parse_scenario(data, "f.toml", prompts=PROMPTS)
    assert scenario.record is record
    # stored only when given: a scenario stored before the key keeps its version
    assert scenario.data.get("record") == stored
    again = parse_scenario(json.loads(scenario.body()), "stored", prompts=PROMPTS)
    assert again.record is record


@pytest.mark.parametrize("bad", ["false", "нет", 0, 1, None])
def test_a_record_that_is_not_true_or_false_is_refused_naming_the_key(bad: object) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({**BASE, "record": bad}, "f.toml", prompts=PROMPTS)
    assert caught.value.key == "record"
    assert str(caught.value) == (
        "f.toml: record: true или false: записывать ли звонки кампании (по умолчанию true)"
    )


def test_a_stored_body_says_whether_its_calls_are_recorded() -> None:
    assert records_calls(json.dumps({"name": "n", "record": False})) is False
    assert records_calls(json.dumps({"name": "n", "record": True})) is True
    # stored before the key, or not a table: recorded, as every scenario was
    assert records_calls(json.dumps({"name": "n"})) is True
    assert records_calls("[]") is True

"""`transfer_counts_as` in a scenario: validated, stored only when given (a stored scenario
keeps its version), read back from a stored body."""

from __future__ import annotations

import json

import pytest

from autoinformer.exceptions import ScenarioError
from autoinformer.scenarios import parse_scenario, transfer_rule_of
from contact_center.speech.prompts import PromptCatalog

PROMPTS = set(PromptCatalog.load())
BASE = {"name": "n", "kind": "debt", "message": "Долг {money:debt}.", "keys": {"0": "operator"}}


@pytest.mark.parametrize(
    ("given", "rule", "stored"),
    [
        (None, "confirmed", None),
        ("confirmed", "confirmed", "confirmed"),
        ("answered", "answered", "answered"),
        ("message", "message", "message"),
    ],
)
def test_the_rule_is_read_and_stored_only_when_given(
    given: str | None, rule: str, stored: str | None
) -> None:
    data = dict(BASE) if given is None else {**BASE, "transfer_counts_as": given}
    scenario = parse_scenario(data, "f.toml", prompts=PROMPTS)
    assert scenario.transfer_counts_as == rule
    assert scenario.data.get("transfer_counts_as") == stored
    assert transfer_rule_of(scenario.body()) == rule


@pytest.mark.parametrize("bad", ["notified", "", 1, True])
def test_an_unknown_rule_is_refused_naming_the_key_and_the_choices(bad: object) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({**BASE, "transfer_counts_as": bad}, "f.toml", prompts=PROMPTS)
    assert caught.value.key == "transfer_counts_as"
    assert str(caught.value).startswith("f.toml: transfer_counts_as: одно из: confirmed, answered")


def test_a_body_stored_before_the_key_or_damaged_reads_as_the_default() -> None:
    assert transfer_rule_of(json.dumps({"name": "n"})) == "confirmed"
    assert transfer_rule_of(json.dumps({"transfer_counts_as": "nonsense"})) == "confirmed"
    assert transfer_rule_of("[]") == "confirmed"

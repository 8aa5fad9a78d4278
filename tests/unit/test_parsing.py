"""The one yes/no parser and the customer import's use of it."""

from __future__ import annotations

import pytest

from contact_center.customers.csv_import import parse_bool
from contact_center.parsing import parse_yes_no


@pytest.mark.parametrize("raw", ["1", "true", "Yes", " y ", "да", "Д", "+", True])
def test_yes(raw: object) -> None:
    assert parse_yes_no(raw) is True


@pytest.mark.parametrize("raw", ["0", "FALSE", "no", "n", "нет", "н", "-", False])
def test_no(raw: object) -> None:
    assert parse_yes_no(raw) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "да нет", None])
def test_other_words_are_refused(raw: object) -> None:
    with pytest.raises(ValueError, match="ожидается да или нет"):
        parse_yes_no(raw)


def test_blank_is_an_error_unless_the_caller_gives_its_meaning() -> None:
    with pytest.raises(ValueError):
        parse_yes_no("  ")
    assert parse_yes_no("", blank=False) is False
    assert parse_yes_no(" ", blank=True) is True
    # a real answer wins over the blank default
    assert parse_yes_no("да", blank=False) is True


def test_csv_cells_keep_their_column_message() -> None:
    assert parse_bool("", "has_contract") is False
    assert parse_bool("Да", "has_contract") is True
    with pytest.raises(ValueError) as caught:
        parse_bool("может быть", "email_consent")
    assert str(caught.value) == "email_consent: ожидается да/нет или 1/0, получено «может быть»"

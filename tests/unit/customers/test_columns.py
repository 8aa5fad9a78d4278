"""The one vocabulary of column names and phone cells (customer import and call lists)."""

from __future__ import annotations

import pytest

from contact_center.customers.columns import (
    ALIASES,
    HeaderError,
    canonical_column,
    fold,
    map_header,
    parse_phone_cell,
)

# the documented aliases, literally: a renamed or lost alias fails here
DOCUMENTED = {
    "account": ("Лицевой счёт", "Лиц. счёт", "Номер лицевого счёта", "ЛС", "Л/С", "Счёт"),
    "name": ("ФИО", "Абонент", "Потребитель", "Ф.И.О.", "Наименование"),
    "address": ("Адрес", "Адрес абонента", "Адрес объекта", "Адрес потребителя"),
    "has_contract": ("Договор", "Есть договор", "Наличие договора"),
    "phone": ("Телефон", "Телефоны", "Тел.", "Номер телефона", "Мобильный телефон"),
    "email": ("Эл. почта", "Электронная почта", "E-mail", "Почта", "Адрес эл. почты"),
    "email_consent": ("Согласие на рассылку", "Согласие на e-mail", "Согласие на письма"),
    "email_consent_date": ("Дата согласия", "Дата согласия на рассылку"),
    "debt": ("Долг", "Задолженность", "Сумма долга", "Сумма задолженности"),
    "debt_date": ("Дата долга", "Дата задолженности", "Задолженность на дату"),
    "timezone": ("Часовой пояс",),
    "outage_start": ("Начало отключения",),
    "outage_end": ("Конец отключения", "Окончание отключения"),
}


def test_alias_table_is_the_documented_one() -> None:
    assert dict(ALIASES) == DOCUMENTED


@pytest.mark.parametrize(
    ("cell", "column"),
    [(alias, column) for column, aliases in DOCUMENTED.items() for alias in aliases]
    + [(column, column) for column in DOCUMENTED],
)
def test_every_alias_and_english_name_maps_to_its_column(cell: str, column: str) -> None:
    assert canonical_column(cell) == column


@pytest.mark.parametrize(
    ("cell", "column"),
    [
        ("ЛИЦЕВОЙ СЧЕТ", "account"),
        ("  лицевой   счёт ", "account"),
        ("Лиц.счет", "account"),
        ("эл.почта", "email"),
        ("ЭЛ ПОЧТА", "email"),
        ("e-mail", "email"),
        ("Email", "email"),
        ("Согласие  на  рассылку", "email_consent"),
        ("дата   ДОЛГА", "debt_date"),
        ("Phone", "phone"),
        ("Debt_Date", "debt_date"),
        ("ф.и.о", "name"),
    ],
)
def test_case_yo_dots_and_spacing_do_not_matter(cell: str, column: str) -> None:
    assert canonical_column(cell) == column


def test_fold() -> None:
    assert fold("Эл. почта") == "эл почта"
    assert fold("  Лицевой  СЧЁТ ") == "лицевой счет"


def test_unknown_cells_are_kept_lower_case_for_the_caller_to_judge() -> None:
    assert canonical_column("Квартира") is None
    assert map_header(["Телефон", "District ", "Долг"]) == ["phone", "district", "debt"]


def test_one_column_named_twice_is_refused_naming_both_cells() -> None:
    with pytest.raises(HeaderError, match="«Телефон» и «phone»"):
        map_header(["Телефон", "ФИО", "phone"])


def test_phone_cell_gives_every_valid_number_in_order_without_repeats() -> None:
    cell = parse_phone_cell("8 913 123-45-67; +7 (39144) 3-22-41, 89131234567\n8-913-000-00-11")
    assert cell.numbers == ("+79131234567", "+73914432241", "+79130000011")
    assert cell.invalid == ()


def test_phone_cell_reports_the_parts_that_are_no_number() -> None:
    cell = parse_phone_cell("нет; 8 913 123-45-67; 12")
    assert cell.numbers == ("+79131234567",)
    assert len(cell.invalid) == 2
    assert parse_phone_cell("  ").numbers == ()

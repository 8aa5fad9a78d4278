"""Which outages a caller hears: address matching, selection, phrasing, CSV import."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from contact_center.hotline.exceptions import OutageError
from contact_center.hotline.outages import (
    OutageView,
    StreetAddress,
    affects,
    outage_message,
    parse_address,
    parse_affected,
    parse_outages_csv,
    select_for_caller,
    spoken_address,
)

TZ = ZoneInfo("Asia/Krasnoyarsk")


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("г. Дивногорск, ул. Чкалова, д. 5, кв. 12", StreetAddress("ул чкалова", "5")),
        ("Дивногорск, улица Чкалова 5", StreetAddress("ул чкалова", "5")),
        ("г. Дивногорск, пр-т Ленина, д. 5а", StreetAddress("пр ленина", "5а")),
        ("ул. Бограда, 10", StreetAddress("ул бограда", "10")),
        ("Чкалова 7", StreetAddress("ул чкалова", "7")),
        ("г. Дивногорск, наб. Школьная, д. 3", StreetAddress("наб школьная", "3")),
        ("", None),
    ],
)
def test_parse_address(address: str, expected: StreetAddress | None) -> None:
    assert parse_address(address) == expected


@pytest.mark.parametrize(
    ("affected", "address", "hit"),
    [
        ("ул. Чкалова", "г. Дивногорск, ул. Чкалова, д. 5, кв. 12", True),
        ("улица Чкалова", "г. Дивногорск, ул. Чкалова, д. 5", True),
        ("ул. Чкалова", "г. Дивногорск, ул. Ленина, д. 5", False),
        ("ул. Ленина, д. 10-20", "ул. Ленина, д. 15", True),
        ("ул. Ленина, д. 10-20", "ул. Ленина, д. 25", False),
        ("ул. Ленина, д. 5, 7", "ул. Ленина, д. 7, кв. 1", True),
        ("ул. Ленина, д. 5а", "ул. Ленина, д. 5а", True),
        ("ул. Ленина, д. 5а", "ул. Ленина, д. 5", False),
        ("ул. Ленина, д. 5", "ул. Ленина, д. 5а", False),
        ("пр. Мира; ул. Ленина", "г. Дивногорск, ул. Ленина, 3", True),
        ("ул. Ленина, д. 5", "ул. Ленина", False),
    ],
)
def test_affects(affected: str, address: str, hit: bool) -> None:
    assert affects(affected, address) is hit


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("", "ни один адрес"), ("ул.", "нет названия улицы"), ("ул. Ленина, д. 9-3", "наоборот"),
     ("ул. Ленина, квартал", "не номер дома")],
)  # fmt: skip
def test_bad_affected_addresses(text: str, fragment: str) -> None:
    with pytest.raises(OutageError, match=fragment):
        parse_affected(text)


def test_spoken_address_expands_abbreviations() -> None:
    assert spoken_address("ул. Чкалова, д. 5; пр-т Мира {x}") == (
        "улица Чкалова, дом 5; проспект Мира x"
    )


NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
PLANNED = OutageView("planned", "ул. Чкалова", datetime(2026, 11, 27, 9, 0, tzinfo=TZ),
                     datetime(2026, 11, 27, 17, 0, tzinfo=TZ), "ремонт")  # fmt: skip
CURRENT = OutageView("emergency", "ул. Ленина", datetime(2026, 11, 25, 8, 0, tzinfo=TZ),
                     datetime(2026, 11, 25, 14, 0, tzinfo=TZ))  # fmt: skip
PAST = OutageView("planned", "ул. Чкалова", datetime(2026, 11, 20, 9, 0, tzinfo=TZ),
                  datetime(2026, 11, 20, 17, 0, tzinfo=TZ))  # fmt: skip


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("г. Дивногорск, ул. Чкалова, д. 5", [PLANNED]),  # current and planned at the address
        ("г. Дивногорск, ул. Ленина, д. 1", [CURRENT]),
        ("г. Дивногорск, ул. Бограда, д. 1", []),
        (None, [CURRENT]),  # unknown caller: every current one
    ],
)
def test_select_for_caller(address: str | None, expected: list[OutageView]) -> None:
    assert select_for_caller([PLANNED, CURRENT, PAST], address, NOW) == expected


def test_outage_message_same_day_and_across_days() -> None:
    template, fields = outage_message(PLANNED)
    assert template == (
        "{prompt:outage_planned_item} улица Чкалова. {date:start_date form=genitive year=no} "
        "{time:start_time form=from} {time:end_time form=until}. {prompt:outage_reason} ремонт."
    )
    start_time = fields["start_time"]
    assert isinstance(start_time, time) and start_time.hour == 9
    long = OutageView("emergency", "ул. Ленина", CURRENT.starts_at, PLANNED.ends_at)
    template, _ = outage_message(long)
    assert template.startswith("{prompt:outage_emergency_item} улица Ленина. {time:start_time")
    assert "{date:end_date form=genitive year=no}" in template and "reason" not in template


def test_csv_import_all_or_nothing() -> None:
    good = (
        "kind;addresses;start;end;reason\n"
        'плановое;"ул. Чкалова; ул. Ленина, д. 5";2026-11-27 09:00;2026-11-27 17:00;ремонт\n'
        "emergency;ул. Бограда;25.11.2026 08:00;25.11.2026 14:00;\n"
    ).encode("cp1251")
    parsed = parse_outages_csv(good, TZ)
    assert parsed.ok and len(parsed.records) == 2
    assert parsed.records[0].kind == "planned" and parsed.records[1].kind == "emergency"
    assert parsed.records[0].starts_at == datetime(2026, 11, 27, 9, 0, tzinfo=TZ)
    bad = (
        "kind,addresses,start,end\n"
        "planned,ул. Чкалова,2026-11-27 09:00,2026-11-27 08:00\n"
        "storm,ул. Чкалова,2026-11-27 09:00,2026-11-27 10:00\n"
        "planned,ул. Чкалова,завтра,2026-11-27 10:00\n"
    ).encode()
    parsed = parse_outages_csv(bad, TZ)
    assert not parsed.ok and len(parsed.errors) == 3
    assert parsed.errors[0].startswith("строка 2: окончание")
    assert parsed.errors[1].startswith("строка 3: вид отключения")
    assert parsed.errors[2].startswith("строка 4: время")
    assert parse_outages_csv(b"kind,start\n", TZ).errors[0].startswith("нет столбцов")

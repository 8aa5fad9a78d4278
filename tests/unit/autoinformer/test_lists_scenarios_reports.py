"""Call lists, scenario files and report totals: literal tables, no I/O beyond tmp files."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from autoinformer.exceptions import CallListError, ScenarioError
from autoinformer.lists import contacts_from_customers, parse_call_list
from autoinformer.reports import ReportRow, build_report, to_csv
from autoinformer.scenarios import builtin_scenarios, load_scenario_file, parse_scenario
from contact_center.speech.prompts import PromptCatalog

PROMPTS = set(PromptCatalog.load())
DEBT = next(s for s in builtin_scenarios(prompts=PROMPTS) if s.name == "debt-notice")
OUTAGE = next(s for s in builtin_scenarios(prompts=PROMPTS) if s.name == "outage-warning")


def test_builtin_scenarios() -> None:
    names = {s.name: (s.kind, s.offers_operator) for s in builtin_scenarios(prompts=PROMPTS)}
    assert names == {
        "debt-notice": ("debt", True),
        "outage-warning": ("outage", True),
        "reminder": ("reminder", True),
        "tariff-change": ("tariff", True),
    }
    assert DEBT.fields == {"account", "debt"}
    assert OUTAGE.fields == {"address", "outage_start", "outage_end"}
    assert (DEBT.action("1"), DEBT.action("0"), DEBT.action("9"), DEBT.action("5")) == (
        "confirm",
        "operator",
        "opt_out",
        "repeat",
    )


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"kind": "debt", "message": "x"}, "f.toml: name:"),
        ({"name": "a", "kind": "gas", "message": "x"}, "f.toml: kind:"),
        ({"name": "a", "kind": "debt"}, "f.toml: message: нет текста"),
        ({"name": "a", "kind": "debt", "message": "{money:}"}, "f.toml: message:"),
        ({"name": "a", "kind": "debt", "message": "{prompt:nope}"}, "f.toml: message: неизвестные"),
        ({"name": "a", "kind": "debt", "message": "x", "keys": {"1": "fly"}}, "f.toml: keys.1:"),
        (
            {"name": "a", "kind": "debt", "message": "x", "keys": {"12": "confirm"}},
            "f.toml: keys.12:",
        ),
        (
            {"name": "a", "kind": "debt", "message": "x", "keys": {"other": "x"}},
            "f.toml: keys.other:",
        ),
        ({"name": "a", "kind": "debt", "message": "x", "wait_digit": 99}, "f.toml: wait_digit:"),
        (
            {"name": "a", "kind": "debt", "message": "x", "replies": {"hi": "x"}},
            "f.toml: replies.hi:",
        ),
        ({"name": "a", "kind": "debt", "message": "x", "colour": 1}, "f.toml: colour:"),
    ],
)
def test_scenario_errors_name_the_file_and_key(data: dict[str, object], error: str) -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(data, "f.toml", prompts=PROMPTS)
    assert str(exc.value).startswith(error)


def test_scenario_file_and_text_fields(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\nkind = "outage"\nmessage = "По адресу {field:address}."\n')
    scenario = load_scenario_file(path, prompts=PROMPTS)
    assert scenario.fields == {"address"}
    message = scenario.message_for({"address": "ул. {Мира} 1"})
    assert "{" not in str(message)
    broken = tmp_path / "b.toml"
    broken.write_text("name = ")
    with pytest.raises(ScenarioError, match=r"b\.toml: не читается"):
        load_scenario_file(broken)


LIST = """phone,account,debt,district
+7 913 000-00-01,1,"1 500,50",север
8 913 000-00-01,1,10,север
+7 913 000-00-02,2,,юг
+7 (913) 000-00-03,3,12a,юг
x;-,4,1,юг
00000,5,1,юг
+7 913 000-00-06,6,1
+7 913 000-00-07,7,"7,00",восток
"""


def test_call_list_rejects_every_bad_row_with_its_reason() -> None:
    parsed = parse_call_list(LIST.encode("cp1251"), scenario=DEBT, opted_out={"79130000007"})
    assert [(c.line, c.phone, dict(c.values)) for c in parsed.contacts] == [
        (2, "79130000001", {"debt": "1500.50", "district": "север"}),
    ]
    reasons = {n.line: n.reason for n in parsed.rejected}
    assert sorted(reasons) == [4, 5, 6, 7, 8]
    assert "debt" in reasons[4]
    assert reasons[5].startswith("debt: не сумма")
    assert reasons[6].startswith("phone:")
    assert reasons[7].startswith("phone:")
    assert reasons[8].startswith("ожидалось столбцов")
    assert [(n.line, n.reason) for n in parsed.duplicates] == [
        (3, "номер повторяет строку 2: объединён")
    ]
    assert [n.line for n in parsed.opted_out] == [9]
    assert all(c.phone.isdigit() for c in parsed.contacts)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "файл пуст"),
        (b"account,debt\n1,2\n", "нет обязательного столбца phone"),
        (b"phone,phone\n1,2\n", "повторяются"),
        (b"phone,account\n+79130000001,1\n", "сценарий читает столбцы, которых нет: debt"),
        (b"phone,bad name\n1,2\n", "недопустимые имена"),
    ],
)
def test_call_list_refused_as_a_whole(data: bytes, error: str) -> None:
    with pytest.raises(CallListError, match=error):
        parse_call_list(data, scenario=DEBT)


def test_outage_list_values_and_order() -> None:
    data = (
        "phone,address,outage_start,outage_end\n"
        "+79130000001,ул. Мира 1,01.12.2026 09:00,2026-12-01 17:00\n"
        "+79130000002,ул. Мира 2,2026-12-01 17:00,2026-12-01 09:00\n"
    ).encode()
    parsed = parse_call_list(data, scenario=OUTAGE)
    assert parsed.contacts[0].values["outage_start"] == "2026-12-01T09:00"
    assert [n.line for n in parsed.rejected] == [3]
    assert "раньше начала" in parsed.rejected[0].reason


def test_customer_base_only_contract_phones_and_debtors() -> None:
    def customer(
        account: str, contract: bool, debt: str | None, *phones: tuple[str, bool]
    ) -> SimpleNamespace:
        from decimal import Decimal

        return SimpleNamespace(
            account=account,
            name="И",
            address="a",
            has_contract=contract,
            debt=Decimal(debt) if debt else None,
            timezone=None,
            phones=[SimpleNamespace(number=n, from_contract=c) for n, c in phones],
        )

    customers = [
        customer("1", True, "10", ("+79130000001", True), ("+79130000009", False)),
        customer("2", False, "10", ("+79130000002", True)),
        customer("3", True, None, ("+79130000003", True)),
        customer("4", True, "5", ("+79130000001", True)),
    ]
    parsed = contacts_from_customers(customers, scenario=DEBT)
    assert [c.phone for c in parsed.contacts] == ["79130000001"]
    assert [n.line for n in parsed.duplicates] == [4]


def test_report_totals_agree_with_rows() -> None:
    rows = [
        ReportRow("79130000001", "1", "notified", True, 1, 1),
        ReportRow("79130000002", "2", "busy", False, 3, 0),
        ReportRow("79130000004", "4", "transferred", False, 1, 1),
        ReportRow("79130000008", "8", "opted_out", True, 1, 1),
        ReportRow("79130000009", "9", "callback", False, 1, 1, callback=True),
    ]
    report = build_report({"id": 1}, rows)
    t = report.totals
    assert (t.contacts, t.attempts, t.answered, t.notified) == (5, 7, 4, 2)
    assert (t.transferred, t.opted_out, t.callback, t.notified_share) == (1, 1, 1, 0.4)
    lines = to_csv(report).decode("utf-8-sig").splitlines()
    assert lines[1] == "7 (913) 000-00-01;1;;;;оповещён;да;1;1;нет;;;"
    assert len(lines) == 1 + len(rows), "the totals are not rows"

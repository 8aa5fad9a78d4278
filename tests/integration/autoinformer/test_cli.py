"""`contact-center campaign|scenario` on a real database (no calls: the service dials)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from contact_center.cli import main
from contact_center.clock import Clock

KRS = ZoneInfo("Asia/Krasnoyarsk")


class Cli(Protocol):
    def __call__(self, *args: str) -> Result: ...


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    from tests.integration.autoinformer.conftest import db_url

    env = {
        "CC_DATABASE_URL": db_url(tmp_path),
        "CC_CLOCK_OFFSET": str(Clock.at(datetime(2026, 12, 1, 11, tzinfo=KRS)).offset_s),
    }
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def test_campaign_create_start_status_report(cli: Cli, tmp_path: Path) -> None:
    listing = tmp_path / "debts.csv"
    listing.write_text(
        "phone;account;debt\n+7 913 000-00-01;240001;1 500,00\n8 913 000-00-01;240001;1500\n"
        "not a phone;240002;10\n+7 913 000-00-05;240005;\n",
        encoding="cp1251",
    )
    created = cli(
        "campaign",
        "create",
        "--name",
        "Долги",
        "--kind",
        "debt",
        "--list",
        str(listing),
        "--window",
        "09:00-20:00",
        "--days",
        "mon-fri",
        "--retry",
        "busy=2/5s",
        "--concurrency",
        "5",
    )
    assert created.exit_code == 0, created.output
    campaign_id = created.stdout.strip().splitlines()[-1]
    assert campaign_id.isdigit()
    assert "строка 4: phone" in created.stderr
    assert "строка 5: сообщение не собрать" in created.stderr
    assert "строка 3: номер повторяет строку 2" in created.stderr
    assert cli("campaign", "start", campaign_id).exit_code == 0
    assert cli("campaign", "start", campaign_id).exit_code == 2  # already running
    status = cli("campaign", "status", campaign_id, "--format", "json")
    data = json.loads(status.stdout)
    assert (data["status"], data["total"], data["waiting"]) == ("running", 1, 1)
    report = cli("campaign", "report", campaign_id, "--format", "csv")
    lines = report.stdout.splitlines()
    assert lines[0].startswith("phone,account,status,notified,attempts")
    assert lines[1].startswith("79130000001,240001,waiting,false,0")
    assert "total_contacts,1" in lines
    as_json = json.loads(cli("campaign", "report", campaign_id, "--format", "json").stdout)
    assert as_json["totals"]["contacts"] == len(as_json["contacts"]) == 1
    assert cli("campaign", "cancel", campaign_id).exit_code == 0
    final = json.loads(cli("campaign", "report", campaign_id, "--format", "json").stdout)
    assert final["contacts"][0]["status"] == "cancelled"
    followed = cli("campaign", "status", campaign_id, "--follow")
    assert followed.exit_code == 0 and "отменена" in followed.stdout


def test_refused_outage_campaign_exits_2_with_the_reason(cli: Cli, tmp_path: Path) -> None:
    now = datetime(2026, 12, 1, 11, tzinfo=KRS)
    outage = now + timedelta(hours=12)
    listing = tmp_path / "outage.csv"
    listing.write_text(
        f"phone,address,outage_start,outage_end\n+79130000001,ул. Чкалова 1,"
        f"{outage:%Y-%m-%d %H:%M},{outage + timedelta(hours=4):%Y-%m-%d %H:%M}\n",
        encoding="utf-8",
    )
    result = cli(
        "campaign",
        "create",
        "--name",
        "Отключение",
        "--kind",
        "outage",
        "--list",
        str(listing),
        "--outage-start",
        f"{outage:%Y-%m-%dT%H:%M}",
        "--decision-date",
        "2026-12-01",
    )
    assert result.exit_code == 2
    assert "24 часа" in result.stderr
    bad_retry = cli(
        "campaign",
        "create",
        "--name",
        "x",
        "--kind",
        "debt",
        "--list",
        str(listing),
        "--retry",
        "busy=0/5s",
    )
    assert bad_retry.exit_code == 2 and "попыток" in bad_retry.stderr


def test_scenario_add_list_show_versions(cli: Cli, tmp_path: Path) -> None:
    listed = cli("scenario", "list")
    for name in ("debt-notice", "outage-warning", "reminder", "tariff-change"):
        assert name in listed.stdout
    path = tmp_path / "meter.toml"
    path.write_text(
        'name = "meter"\nkind = "reminder"\nmessage = "Передайте показания счётчика."\n',
        encoding="utf-8",
    )
    assert "версия 1" in cli("scenario", "add", str(path)).stdout
    assert "не изменился" in cli("scenario", "add", str(path)).stdout
    path.write_text(path.read_text(encoding="utf-8") + "wait_digit = 3\n", encoding="utf-8")
    assert "версия 2" in cli("scenario", "add", str(path)).stdout
    shown = cli("scenario", "show", "meter@1")
    assert '"wait_digit": 5.0' in shown.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nkind = "debt"\nmessage = "{money:}"\n[keys]\n"1" = "fly"\n')
    refused = cli("scenario", "add", str(bad))
    assert refused.exit_code == 2 and refused.stderr.startswith("bad.toml: message:")


def test_list_from_the_customer_base_takes_contract_phones_of_debtors(cli: Cli) -> None:
    base = Path(__file__).resolve().parents[3] / "contact_center" / "demo" / "customers.csv"
    imported = cli("customers", "import", str(base))
    assert imported.exit_code == 0, imported.output
    created = cli("campaign", "create", "--name", "База", "--kind", "debt", "--list", "customers")
    assert created.exit_code == 0, created.stderr
    campaign_id = created.stdout.strip().splitlines()[-1]
    report = json.loads(cli("campaign", "report", campaign_id, "--format", "json").stdout)
    phones = sorted(row["phone"] for row in report["contacts"])
    assert phones == [f"7913000000{d}" for d in range(1, 9)]

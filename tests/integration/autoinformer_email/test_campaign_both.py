"""One notice by phone and e-mail: the whole autoinformer plugin as `contact-center serve` runs
it (dialer on the sim world of the session's Asterisk, mailer to aiosmtpd, the unsubscribe
endpoint), one campaign, one report."""

from __future__ import annotations

import asyncio
import urllib.request
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from autoinformer.campaigns.service import CampaignSpec
from autoinformer.email.mailer import MailerConfig
from autoinformer.reports import to_csv, to_text
from autoinformer.scheduling import Caps, retry_policy
from tests.integration.autoinformer.conftest import (  # noqa: F401 - fixtures
    SHORT_SCENARIO,
    World,
    WorldFactory,
    database,
    world,
)

from .conftest import MailServer

pytestmark = pytest.mark.integration

KRS = ZoneInfo("Asia/Krasnoyarsk")
TUESDAY_11 = datetime(2026, 12, 1, 11, 0, tzinfo=KRS)

BOTH_SCENARIO = (
    SHORT_SCENARIO.replace('name = "test-debt"', 'name = "test-both"')
    + '''
[email]
subject = "Задолженность {{ debt | money }}"
text = """
Здравствуйте, {{ name }}! Задолженность по счёту {{ account }}: {{ debt | money }}.
Отказаться от писем: {{ unsubscribe_url }}
"""
'''
)

LIST = """phone,account,name,debt,email,email_consent
+7 913 000-00-11,1001,Иванов,"150,50",ivanov@example.ru,да
+7 913 000-00-12,1002,Петров,"150,50",petrov@example.ru,нет
,1003,Сидоров,"150,50",sidorov@example.ru,да
+7 913 000-00-15,1004,Кузнецов,"150,50",,
not a phone,1005,Никто,"150,50",,
"""


async def test_one_campaign_by_phone_and_email_has_one_report_with_both_results(
    world: WorldFactory,  # noqa: F811
    mail_server: MailServer,
) -> None:
    settings = {
        "smtp_host": mail_server.host,
        "smtp_port": mail_server.port,
        "smtp_rate": 0,
        "unsubscribe_secret": "test-secret",
    }
    mailer = MailerConfig(tick=0.1, sender={"local_hostname": "cc.test", "base_delay": 0.02})
    w: World  # the factory is typed to give Any: this keeps the test's body type-checked
    async with world(now=TUESDAY_11, settings=settings, mailer=mailer, web=True) as w:
        await w.sim(SIM_CUSTOMER_BUSY_TIME=1, SIM_CUSTOMER_HANGUP_AFTER=0.4)
        await w.scenario(BOTH_SCENARIO, name="test-both")
        created = await w.campaigns.create(
            CampaignSpec(
                name="Долг звонком и письмом",
                kind="debt",
                scenario="test-both",
                channel="both",
                ring_timeout=3,
                retry=retry_policy(["busy=1/1s", "no_answer=1/1s", "failed=1/1s"]),
                caps=Caps(),
            ),
            list_data=LIST.encode(),
        )
        assert (created.contacts, created.letters) == (3, 2)
        assert [n.line for n in created.parsed.rejected] == [6]
        partial = [str(n) for n in created.parsed.partial]
        assert partial == [
            "строка 3: e-mail p***@example.ru: нет согласия на рассылку (email_consent)"
        ]
        await w.campaigns.start(created.campaign_id)
        st = await w.wait_finished(created.campaign_id, timeout=60)
        report = await w.campaigns.report(created.campaign_id)
        # the plugin's endpoint answers for the letters it sent
        letter = next(m for m in mail_server.messages() if "ivanov" in str(m["To"]))
        token = str(letter["List-Unsubscribe"]).split("token=", 1)[1].split(">", 1)[0]
        url = f"http://127.0.0.1:{w.service.web.bound_port}/unsubscribe?token={token}"
        page = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())

    assert "Отказаться от писем" in page.decode("utf-8")
    rows = {r.account: r for r in report.rows}
    got = {
        account: (r.phone, r.status, r.notified, r.email, r.email_status)
        for account, r in rows.items()
    }
    assert got == {
        "1001": ("79130000011", "notified", True, "ivanov@example.ru", "accepted"),
        "1002": ("79130000012", "busy", False, "", ""),
        "1003": ("", "", False, "sidorov@example.ru", "accepted"),
        "1004": ("79130000015", "notified", True, "", ""),
    }
    t = report.totals
    assert (t.contacts, t.notified, t.letters, t.email_accepted) == (3, 2, 2, 2)
    assert (t.recipients, t.reached) == (4, 3)
    assert st.status == "finished"
    assert st.email is not None and st.email.accepted == 2 and st.total == 3
    assert len(mail_server.received) == 2
    csv_lines = to_csv(report).decode("utf-8-sig").split("\r\n")
    assert csv_lines[0].endswith(
        ";E-mail;Итог письма;Попыток отправки;Откладываний;Код ответа сервера;Ответ сервера;"
        "Последнее откладывание;Примечание к письму"
    )
    assert len(csv_lines) == 1 + len(report.rows) + 1, "rows only, the totals are not rows"
    assert sum("принято сервером" in line for line in csv_lines) == 2
    text = to_text(report)
    assert "Итого звонки" in text and "Итого письма: 2, принято сервером 2" in text

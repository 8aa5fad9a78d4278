"""An outage warning runs out of time on the sim world; whom it did not reach get another
way: a letter (delivered to aiosmtpd) where the customer base has consent, an operator's
call-back otherwise, and the report says which."""

from __future__ import annotations

from datetime import timedelta

import pytest

from autoinformer.email.mailer import MailerConfig
from contact_center.customers.csv_import import parse_customers
from tests.integration.autoinformer.conftest import (  # noqa: F401 - fixtures
    World,
    WorldFactory,
    database,
    world,
)
from tests.integration.autoinformer.test_campaign_calls import TUESDAY_11, fast_sim
from tests.integration.autoinformer.test_outage_and_restart import OUTAGE_SCENARIO, outage_spec

from .conftest import MailServer

pytestmark = pytest.mark.integration

SCENARIO = (
    OUTAGE_SCENARIO.replace('name = "test-outage"', 'name = "test-outage-mail"')
    + '''
[email]
subject = "Отключение электроэнергии"
text = """
Здравствуйте, {{ name }}! Плановое отключение {{ outage_start | date }}.
Отказаться от писем: {{ unsubscribe_url }}
"""
'''
)
# sim customers: the last digit picks the behaviour (1 listens to the end, 2 is busy,
# 3 does not answer)
BASE = (
    "Лицевой счёт;ФИО;Адрес;Договор;Телефон;Эл. почта;Согласие на рассылку\n"
    "2001;Занятой З.;г. Дивногорск, ул. Чкалова, д. 1;да;+79130000022;z@example.ru;да\n"
    "2002;Молчащий М.;г. Дивногорск, ул. Чкалова, д. 2;да;+79130000023;;нет\n"
    "2003;Слушающий С.;г. Дивногорск, ул. Чкалова, д. 3;да;+79130000021;s@example.ru;да\n"
)


async def test_whom_an_outage_warning_did_not_reach_in_time_get_a_letter_or_a_call_back(
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
    w: World
    async with world(now=TUESDAY_11, settings=settings, mailer=mailer) as w:
        await fast_sim(w)
        await w.scenario(SCENARIO, "test-outage-mail")
        parsed = parse_customers(BASE.encode())
        assert parsed.ok, parsed.errors
        await w.service.customers.import_rows(parsed.rows)
        now = w.campaigns.clock.now()
        outage = now + timedelta(hours=24, seconds=6)  # the cut-off is 6 s away
        created = await w.campaigns.create(
            outage_spec(outage, now, scenario="test-outage-mail"), from_base=True
        )
        await w.campaigns.start(created.campaign_id)
        await w.wait_finished(created.campaign_id, timeout=40)
        # what `serve`'s follow-up task does every half minute
        [result] = await w.plugin.follow_ups.sweep()
        assert (result.letters, result.callbacks) == (1, 1)
        assert result.letters_campaign_id is not None
        await w.wait_finished(result.letters_campaign_id, timeout=30)
        report = await w.campaigns.report(created.campaign_id)
        letters = await w.campaigns.report(result.letters_campaign_id)

    rows = {r.account: (r.status, r.follow_up) for r in report.rows}
    assert rows == {
        "2001": ("not_reached_in_time", "email"),
        "2002": ("not_reached_in_time", "callback"),
        "2003": ("notified", ""),
    }
    assert [(r.email, r.email_status) for r in letters.rows] == [("z@example.ru", "accepted")]
    [message] = mail_server.messages()
    assert message["To"].addresses[0].addr_spec == "z@example.ru"
    body = message.get_body(("plain",))
    assert body is not None and "Плановое отключение" in body.get_content()

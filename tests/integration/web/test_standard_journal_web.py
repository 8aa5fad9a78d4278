"""The appeals journal in the standard's form from the console: the export link on the
appeals page gives the eleven columns in order, written appeals included."""

from __future__ import annotations

import csv
import io

import pytest

from contact_center.hotline.written import WrittenAppeals
from tests.unit.hotline.test_standard_journal import STANDARD_FORM

from .conftest import Console

pytestmark = pytest.mark.integration


async def test_the_standard_form_is_exported_from_the_appeals_page(console: Console) -> None:
    app = console.app
    written = WrittenAppeals(app.hotline.appeals, app.sessions, app.clock, app.settings.tz)
    ref = await written.add(
        channel="visit", applicant_name="Сидорова А. А.", text="Нет света в подъезде.",
        classification="КЭ", address="ул. Чкалова, д. 3",
    )  # fmt: skip
    day = app.clock.local_now().date().isoformat()
    sveta = await console.user("sveta", "supervisor")
    page = await sveta.get(f"/appeals?from={day}&to={day}")
    assert page.status == 200
    assert f"/api/appeals/export?form=standard&amp;format=csv&amp;from={day}" in page.text
    reply = await sveta.get(f"/api/appeals/export?form=standard&format=csv&from={day}&to={day}")
    assert reply.status == 200, reply.text
    assert "attachment" in reply.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(reply.body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == STANDARD_FORM
    (row,) = [r for r in rows[1:] if r[0] == ref.number]
    assert row[2:6] == ["Сидорова А. А.", "ул. Чкалова, д. 3", "Нет света в подъезде.", "КЭ"]
    assert row[10] == "письменное, личный приём"
    oleg = await console.user("oleg", "operator")
    assert (await oleg.get("/api/appeals/export?form=standard&format=csv")).status == 403

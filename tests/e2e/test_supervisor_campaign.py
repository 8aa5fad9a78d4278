"""A supervisor's campaign in headless Chromium, on the real service and the session's Asterisk
sim world: log in from the keyboard, create a campaign from a list with one bad row and see
that row named, start it, watch the live page's counters move without a reload, download the
XLSX report and find in it the rows of the JSON report. Every console page is screenshotted
under var/screenshots/, reached by Tab and checked for a horizontal scroll at 1366 px.

The service runs on this test's event loop, so the browser is driven from a thread
(`asyncio.to_thread`): a blocking Selenium call on the loop would stall the very site it waits
for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from autoinformer.phone.config import DialerConfig
from autoinformer.plugin import AutoinformerPlugin
from autoinformer.scheduling import STATUS_RU
from contact_center.app import build_app
from contact_center.clock import Clock
from tests.e2e.conftest import (
    WINDOW_WIDTH,
    save_screenshot,
    wait_for,
    wait_for_download,
)

# the session's Asterisk is tests/conftest.py's; the database fixture is the web tests'
from tests.integration.conftest import AsteriskFixture
from tests.integration.web.conftest import PASSWORD, Console, web_database  # noqa: F401
from tests.integration.web.test_campaigns_api import TUESDAY_11, add_short_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

# sim customers: the last digit picks the behaviour (1 listens to the end, 2 is busy);
# line 3 is not a phone. One call at a time makes the campaign last long enough (several
# seconds a call) for the live page to be seen moving.
CALL_LIST = (
    "phone,account,debt\n"
    "+79130000001,1001,150\n"
    "не-телефон,1002,200\n"
    "+79130000011,1003,90\n"
    "+79130000002,1004,300\n"
    "+79130000021,1005,120\n"
    "+79130000031,1006,50\n"
)
BAD_LINE = 3
LISTENERS = 4
CONTACTS = 5

# every element a keyboard can reach, as the browser decides it (disabled, hidden and
# tabindex=-1 ones are out)
FOCUSABLE_JS = """
var sel = 'a[href], button, input:not([type=hidden]), select, textarea, audio[controls], '
  + '[tabindex]';
return Array.from(document.querySelectorAll(sel)).filter(function (e) {
  return !e.disabled && e.tabIndex >= 0 && e.getClientRects().length > 0 &&
    getComputedStyle(e).visibility !== 'hidden' && !e.closest('[hidden]');
});
"""
WATCH_FOCUS_JS = """
window.__e2eTabbed = new Set();
document.addEventListener('focusin', function (e) { window.__e2eTabbed.add(e.target); }, true);
if (document.activeElement) { document.activeElement.blur(); }
"""
UNREACHED_JS = (
    "var all = (function () {"
    + FOCUSABLE_JS
    + "})();"
    + """
return all.filter(function (e) { return !window.__e2eTabbed.has(e); }).map(function (e) {
  var what = (e.textContent || e.name || '').trim().slice(0, 40);
  return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + what;
});
"""
)

AUDIO_JS = """
var audio = document.getElementById(arguments[0]), done = arguments[arguments.length - 1];
audio.addEventListener('loadedmetadata', function () { done(audio.duration); });
audio.addEventListener('error', function () {
  done('error ' + (audio.error && audio.error.code));
});
audio.preload = 'metadata';
audio.load();
"""


@dataclass
class PageCheck:
    """What the page checks found: pages with a horizontal scroll, controls Tab never reached."""

    scrolls: dict[str, tuple[int, int]] = field(default_factory=dict)
    unreached: dict[str, list[str]] = field(default_factory=dict)
    shots: list[str] = field(default_factory=list)
    # page -> how many elements Tab went through (none: the check did not run)
    reached: dict[str, int] = field(default_factory=dict)


def check_page(driver: webdriver.Chrome, name: str, checks: PageCheck) -> None:
    """Screenshot the page, then check its width and that Tab reaches every control."""
    checks.shots.append(str(save_screenshot(driver, name)))
    scroll_width, inner = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    if scroll_width > inner:
        checks.scrolls[name] = (scroll_width, inner)
    focusable = len(driver.execute_script(FOCUSABLE_JS))
    driver.execute_script(WATCH_FOCUS_JS)
    # twice round and some: an audio player's controls are several stops
    presses = 5 * focusable + 10
    keys = ActionChains(driver)
    for _ in range(presses):
        keys.send_keys(Keys.TAB)
    keys.perform()
    checks.reached[name] = int(driver.execute_script("return window.__e2eTabbed.size"))
    unreached = driver.execute_script(UNREACHED_JS)
    if unreached:
        checks.unreached[name] = unreached


def text_of(driver: webdriver.Chrome, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text).strip()


def row_statuses(driver: webdriver.Chrome) -> list[str]:
    """The contacts table's rows by status, read at once (the table is rebuilt live)."""
    return list(
        driver.execute_script(
            "return Array.from(document.querySelectorAll('#contacts-rows tr'))"
            ".map(function (r) { return r.dataset.status; })"
        )
    )


def log_in(driver: webdriver.Chrome, base: str, login: str) -> None:
    """From the keyboard: the login field has the focus, Tab to the password, Enter."""
    driver.delete_all_cookies()
    driver.get(base + "/login")
    field_ = wait_for(driver, lambda d: d.find_element(By.ID, "login"), what="the login form")
    wait_for(driver, lambda d: d.switch_to.active_element == field_, what="focus on #login")
    ActionChains(driver).send_keys(login, Keys.TAB, PASSWORD, Keys.ENTER).perform()
    wait_for(
        driver,
        lambda d: not d.current_url.endswith("/login") and d.find_elements(By.CSS_SELECTOR, "nav"),
        what=f"{login} to be logged in",
    )


@dataclass
class Run:
    campaign_id: int = 0
    notified_before: int = -1
    notified_after: int = -1
    counters_seen: list[str] = field(default_factory=list)
    xlsx: Path | None = None
    pages: list[str] = field(default_factory=list)
    checks: PageCheck = field(default_factory=PageCheck)


def supervisor_session(
    driver: webdriver.Chrome, base: str, call_list: Path, downloads: Path
) -> Run:
    run = Run()
    checks = run.checks
    driver.delete_all_cookies()
    driver.get(base + "/login")
    wait_for(driver, lambda d: d.find_element(By.ID, "login-submit"), what="the login page")
    check_page(driver, "01-login", checks)

    # a wrong password is refused on the page, then the right one from the keyboard
    driver.get(base + "/login")
    login = wait_for(driver, lambda d: d.find_element(By.ID, "login"))
    wait_for(driver, lambda d: d.switch_to.active_element == login, what="focus on #login")
    ActionChains(driver).send_keys("nadia", Keys.TAB, "не тот пароль", Keys.ENTER).perform()
    error = wait_for(driver, lambda d: d.find_elements(By.ID, "login-error"), what="#login-error")
    assert error[0].text.strip(), "a refused login says why"
    log_in(driver, base, "nadia")

    # «Кампании» from the navigation, then «Новая кампания»
    driver.find_element(By.LINK_TEXT, "Кампании").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "new-campaign"), what="the campaigns list")
    check_page(driver, "02-campaigns-empty", checks)
    driver.find_element(By.ID, "new-campaign").click()
    form = wait_for(driver, lambda d: d.find_element(By.ID, "campaign-form"), what="the form")
    check_page(driver, "03-campaign-new", checks)

    name = driver.find_element(By.ID, "f-name")
    name.send_keys("Долги декабря (e2e)")
    Select(driver.find_element(By.ID, "f-kind")).select_by_value("debt")
    Select(driver.find_element(By.ID, "f-scenario")).select_by_value("test-debt")
    driver.find_element(By.ID, "f-list").send_keys(str(call_list))
    for element_id, value in (
        ("f-concurrency", "1"),
        ("f-ring-timeout", "5"),
        ("f-retry", "busy=1/1s, no_answer=1/1s"),
        ("f-caps", "none"),
    ):
        box = driver.find_element(By.ID, element_id)
        box.clear()
        box.send_keys(value)
    # Enter in a text field submits the form, as in any browser form
    name.send_keys(Keys.ENTER)

    created = wait_for(
        driver,
        lambda d: (
            d.find_element(By.ID, "created-campaign").is_displayed()
            and d.find_element(By.ID, "created-campaign")
        ),
        timeout=30,
        what="the campaign to be created",
    )
    assert form.is_displayed()
    refused = wait_for(
        driver,
        lambda d: (
            d.find_element(By.ID, "refused-section").is_displayed()
            and d.find_elements(By.CSS_SELECTOR, "#refused-rows tr")
        ),
        what="the refused rows",
    )
    assert [r.get_attribute("data-line") for r in refused] == [str(BAD_LINE)]
    assert str(BAD_LINE) in refused[0].text and "телефон" in refused[0].text, refused[0].text
    result = text_of(driver, "create-result")
    assert f"абонентов {CONTACTS}" in result and "отклонено строк 1" in result, result
    link = driver.find_element(By.ID, "open-campaign").get_attribute("href") or ""
    run.campaign_id = int(link.rstrip("/").rsplit("/", 1)[1])
    assert created.is_displayed()
    check_page(driver, "04-campaign-new-refused-rows", checks)

    # «Запустить» has the focus once the campaign is made: Enter starts it
    start = driver.find_element(By.ID, "start-campaign")
    # (the Tab round of check_page moved the focus on: put it back where the page put it)
    driver.execute_script("arguments[0].focus()", start)
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    live_url = f"{base}/campaigns/{run.campaign_id}"
    wait_for(driver, lambda d: d.current_url == live_url, timeout=15, what="the live page")
    wait_for(driver, lambda d: d.find_elements(By.ID, "campaign"), what="#campaign")
    cid = driver.find_element(By.ID, "campaign").get_attribute("data-campaign-id")
    assert cid == str(run.campaign_id)

    # live: the page stays (a marker on window survives only without navigation)
    driver.execute_script("window.__e2eMarker = 'same page'")
    run.notified_before = int(text_of(driver, "counter-notified"))
    assert run.notified_before < LISTENERS, "one call at a time: nobody notified yet"

    def moved(d: webdriver.Chrome) -> bool:
        shown = text_of(d, "counter-notified")
        if not run.counters_seen or run.counters_seen[-1] != shown:
            run.counters_seen.append(shown)
        return int(shown) > run.notified_before

    wait_for(driver, moved, timeout=60, what="#counter-notified to move")
    shot_live = save_screenshot(driver, "05-campaign-live-running")
    checks.shots.append(str(shot_live))
    wait_for(
        driver,
        lambda d: (
            d.find_element(By.ID, "campaign-status").get_attribute("data-status") == "finished"
        ),
        timeout=120,
        what="the campaign to finish on the live page",
    )
    wait_for(
        driver,
        lambda d: text_of(d, "counter-notified") == str(LISTENERS),
        timeout=10,
        what=f"#counter-notified to show {LISTENERS}",
    )
    run.notified_after = int(text_of(driver, "counter-notified"))
    assert driver.execute_script("return window.__e2eMarker") == "same page", "the page reloaded"
    assert driver.execute_script("return performance.getEntriesByType('navigation').length") == 1
    assert text_of(driver, "live-updated") not in ("", "—")
    assert text_of(driver, "counter-done") == str(CONTACTS)
    assert int(text_of(driver, "counter-attempts")) >= CONTACTS
    assert driver.find_elements(By.CSS_SELECTOR, "#progress-chart canvas"), "the chart is drawn"
    points = driver.find_element(By.ID, "progress-chart").get_attribute("data-points")
    assert int(points or 0) >= 3, f"the chart follows the campaign: {points} points"

    # the contacts table: a search by account, submitted with Enter
    search = driver.find_element(By.ID, "contacts-search")
    search.send_keys("1004", Keys.ENTER)
    wait_for(
        driver,
        lambda d: row_statuses(d) == ["busy"],
        what="the contacts table to show only account 1004, busy",
    )
    search.clear()
    Select(driver.find_element(By.ID, "contacts-filter")).select_by_value("notified")
    wait_for(
        driver,
        lambda d: row_statuses(d) == ["notified"] * LISTENERS,
        what="the notified filter",
    )
    check_page(driver, "06-campaign-live-finished", checks)

    # the XLSX report, from the keyboard
    report = driver.find_element(By.ID, "report-xlsx")
    driver.execute_script("arguments[0].focus()", report)
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    run.xlsx = wait_for_download(driver, downloads, suffix=".xlsx", timeout=20)
    assert driver.execute_script("return window.__e2eMarker") == "same page"

    # the list again: the campaign is there, finished
    driver.find_element(By.LINK_TEXT, "Кампании").click()
    row = wait_for(
        driver,
        lambda d: d.find_elements(By.ID, f"campaign-row-{run.campaign_id}"),
        what="the campaign's row",
    )
    assert row[0].get_attribute("data-status") == "finished"
    check_page(driver, "07-campaigns", checks)

    # scenarios: the text preview of the sample customer
    driver.find_element(By.LINK_TEXT, "Сценарии").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "scenarios-table"), what="scenarios")
    # the audio player loads the scenario's message as the browser would play it
    driver.set_script_timeout(30)
    duration = driver.execute_async_script(AUDIO_JS, "audio-test-debt")
    assert isinstance(duration, (int, float)) and duration > 0.5, duration
    driver.find_element(By.ID, "preview-test-debt").click()
    wait_for(
        driver,
        lambda d: "Задолженность" in text_of(d, "preview-text-test-debt"),
        what="the scenario's text preview",
    )
    check_page(driver, "08-scenarios", checks)

    # every other page of the navigation there is for a supervisor
    run.pages = ["/campaigns", "/scenarios"]
    run.pages += visit_nav_pages(driver, base, checks, skip=tuple(run.pages), prefix="09")
    return run


def nav_pages(driver: webdriver.Chrome) -> list[str]:
    links: list[WebElement] = driver.find_elements(By.CSS_SELECTOR, "header nav a")
    return [str(a.get_attribute("pathname")) for a in links]


def visit_nav_pages(
    driver: webdriver.Chrome, base: str, checks: PageCheck, skip: tuple[str, ...], prefix: str
) -> list[str]:
    seen: list[str] = []
    for path in nav_pages(driver):
        if path in skip:
            continue
        driver.get(base + path)
        wait_for(
            driver,
            lambda d: d.execute_script("return document.readyState") == "complete",
            what=f"{path} to load",
        )
        heading = driver.find_elements(By.TAG_NAME, "h1")
        assert heading and heading[0].text.strip(), f"{path} has a heading"
        assert "ошибка" not in driver.title.lower(), f"{path}: {driver.title}"
        check_page(driver, f"{prefix}-{path.strip('/').replace('/', '-') or 'home'}", checks)
        seen.append(path)
    return seen


def admin_session(driver: webdriver.Chrome, base: str, run: Run) -> list[str]:
    """The pages only an admin sees (users)."""
    log_in(driver, base, "boss")
    return visit_nav_pages(driver, base, run.checks, skip=tuple(run.pages), prefix="10")


@asynccontextmanager
async def serving(ast: AsteriskFixture, database: str, now: datetime) -> AsyncIterator[Console]:
    """The service as `serve` runs it (heartbeat included, so the live page's service line
    says it runs), with its clock at `now`, the web console on a free port."""
    settings = ast.settings.replace(
        database_url=database,
        http_port=0,
        unsubscribe_secret="test-secret",
        clock_offset=Clock.at(now).offset_s,
    )
    app = build_app(settings, plugins=[AutoinformerPlugin(DialerConfig(tick=0.2))])
    async with app.running(web=True, report_state=True):
        yield Console(app, app.web.bound_port)


def xlsx_rows(path: Path) -> list[list[Any]]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        sheet = book.worksheets[0]
        return [list(r) for r in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


async def test_a_supervisor_creates_starts_watches_and_downloads_a_campaign_in_the_browser(
    asterisk: AsteriskFixture,
    web_database: str,  # noqa: F811
    browser: webdriver.Chrome,
    downloads_dir: Path,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    async with serving(asterisk, web_database, TUESDAY_11) as console:
        api = await console.user("nadia", "supervisor")
        await console.app.users.users.add("boss", "admin", PASSWORD, actor="test")
        await add_short_scenario(api)
        call_list = tmp_path / "список-должников.csv"
        call_list.write_text(CALL_LIST, encoding="utf-8")
        base = f"http://127.0.0.1:{console.port}"

        run = await asyncio.to_thread(supervisor_session, browser, base, call_list, downloads_dir)
        admin_pages = await asyncio.to_thread(admin_session, browser, base, run)
        browser.delete_all_cookies()

        assert "/users" in admin_pages, "an admin reaches the users page"
        assert run.notified_after == LISTENERS > run.notified_before
        assert len(run.counters_seen) >= 2, f"the counter moved on the page: {run.counters_seen}"

        reply = await api.get(f"/api/campaigns/{run.campaign_id}/report?format=json")
        assert reply.status == 200, reply.text
        contacts = reply.json()["contacts"]
        assert run.xlsx is not None
        rows = xlsx_rows(run.xlsx)
        header, body = rows[0], rows[1:]
        column = {name: i for i, name in enumerate(header)}
        assert {"Телефон", "Лицевой счёт", "ФИО", "Адрес", "Долг", "Итог звонка"} <= set(column)
        phone, account, status = (column[n] for n in ("Телефон", "Лицевой счёт", "Итог звонка"))
        from_json = [(c["phone"], c["account"], STATUS_RU[c["status"]]) for c in contacts]
        from_xlsx = [(str(r[phone]), str(r[account]), r[status]) for r in body]
        assert from_xlsx == from_json
        assert sorted(s for _, _, s in from_xlsx) == ["занято"] + ["оповещён"] * LISTENERS

        assert not run.checks.scrolls, f"pages wider than {WINDOW_WIDTH}: {run.checks.scrolls}"
        assert all(run.checks.reached.values()), f"Tab went nowhere: {run.checks.reached}"
        assert not run.checks.unreached, f"controls Tab never reaches: {run.checks.unreached}"
    print(f"\ne2e: {time.monotonic() - started:.1f} s, Tab stops by page: {run.checks.reached}")

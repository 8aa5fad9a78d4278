"""The hotline pages in headless Chromium against the real service: a supervisor watches a
sim caller arrive in the queue on the live board without reloading; the journal, customers
and outages pages fit 1366 px; screenshots under var/screenshots/."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from contact_center.hotline.sim import menu_delay, originate_caller
from contact_center.operators.models import OperatorState
from tests.e2e.conftest import save_screenshot, wait_for
from tests.integration.web.conftest import (  # noqa: F401 (fixtures)
    PASSWORD,
    Console,
    hotline_console,
    web_database,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def log_in(driver: webdriver.Chrome, base: str, login: str) -> None:
    driver.delete_all_cookies()
    driver.get(base + "/login")
    field = driver.find_element(By.NAME, "login")
    field.send_keys(login)
    # from the keyboard: Tab to the password, Enter submits
    field.send_keys(Keys.TAB, PASSWORD, Keys.ENTER)
    wait_for(driver, lambda d: "/login" not in d.current_url, what="the login to finish")


def present(element_id: str) -> Callable[[webdriver.Chrome], bool]:
    def probe(driver: webdriver.Chrome) -> bool:
        return bool(driver.find_elements(By.ID, element_id))

    return probe


def fits(driver: webdriver.Chrome) -> bool:
    return bool(
        driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;"
        )
    )


async def test_the_board_shows_a_queued_caller_live_and_the_pages_fit(
    hotline_console: Console,  # noqa: F811 (the fixture imported above)
    browser: webdriver.Chrome,
) -> None:
    console = hotline_console
    app = console.app
    base = f"http://127.0.0.1:{console.port}"
    await app.users.users.add("stas", "supervisor", PASSWORD, actor="test")
    for op in await app.operators.all():
        if op.state == OperatorState.AVAILABLE:
            await app.operators.pause(op.code, "тест")

    def open_board() -> None:
        log_in(browser, base, "stas")
        browser.get(base + "/hotline")
        wait_for(
            browser,
            lambda d: d.find_element(By.ID, "board-link").text.startswith("Связь с Asterisk есть"),
            what="the board's first snapshot",
        )
        wait_for(
            browser,
            lambda d: len(d.find_elements(By.CSS_SELECTOR, "#board-operators tbody tr")) > 0,
            what="the operators",
        )

    await asyncio.to_thread(open_board)
    sim = await originate_caller(
        app, "d0", caller_id="+73914400000", dtmf_delay=await menu_delay(app.speech)
    )
    assert sim.answered, sim.error

    def sees_the_caller() -> str:
        wait_for(
            browser,
            lambda d: d.find_element(By.ID, "board-waiting").text == "1",
            timeout=40,
            what="the caller in the queue (no reload)",
        )
        first = browser.find_element(By.CSS_SELECTOR, "#board-queue tbody tr td:last-child").text
        # the wait runs on the page between snapshots
        wait_for(
            browser,
            lambda d: (
                d.find_element(By.CSS_SELECTOR, "#board-queue tbody tr td:last-child").text != first
            ),
            timeout=3,
            what="the wait to run",
        )
        assert fits(browser)
        save_screenshot(browser, "hotline-board")
        browser.execute_script("document.getElementById('h-norms').scrollIntoView();")
        # uPlot drew the four charts (a canvas each) from the snapshot's norms
        wait_for(
            browser,
            lambda d: len(d.find_elements(By.CSS_SELECTOR, "#norms-charts canvas")) >= 4,
            what="the norm charts",
        )
        save_screenshot(browser, "hotline-norms")
        return first

    await asyncio.to_thread(sees_the_caller)
    await app.link.action("Hangup", Channel=sim.channel_id)

    def gone_and_other_pages() -> None:
        wait_for(
            browser,
            lambda d: d.find_element(By.ID, "board-waiting").text == "0",
            timeout=10,
            what="the queue to empty",
        )
        for path, element, name in (
            ("/appeals", "appeals-table", "appeals"),
            ("/customers", "customer-search", "customers"),
            ("/outages", "outage-add", "outages"),
        ):
            browser.get(base + path)
            wait_for(browser, present(element), what=element)
            assert fits(browser), path
            save_screenshot(browser, name)
        browser.delete_all_cookies()

    await asyncio.to_thread(gone_and_other_pages)

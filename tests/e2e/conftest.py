"""Headless Chromium for the end-to-end tests, driven by Selenium.

The browser and its driver are Debian's packages (`chromium`, `chromium-driver`), installed by
scripts/install-test-tools. Selenium is handed /usr/bin/chromedriver and told to stay offline,
so Selenium Manager never downloads a browser or a driver.

Fixtures:
    browser        one headless Chromium for the session: 1366x768, fresh temporary profile
    downloads_dir  an empty directory per test; the browser's downloads land there
Helpers:
    wait_for(driver, condition, timeout)   poll until `condition(driver)` is truthy
    wait_for_download(driver, directory, suffix, timeout)   a finished download
    save_screenshot(driver, name)          under var/screenshots/ (git-ignored)
A failing test that used `browser` leaves var/screenshots/FAILED-<test>.png behind.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Literal, TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.wait import WebDriverWait

log = logging.getLogger(__name__)

T = TypeVar("T")

WINDOW_WIDTH, WINDOW_HEIGHT = 1366, 768
# chromedriver's message for a command cut short because the page navigated away
_NAVIGATING = "aborted by navigation"
SCREENSHOTS_DIR = Path(__file__).resolve().parents[2] / "var" / "screenshots"
INSTALL_HINT = "install them with scripts/install-test-tools (as root) or `make test`"

# Selenium Manager must never reach the internet: the driver path below already bypasses it,
# and SE_OFFLINE makes sure of it should anything else call it.
os.environ["SE_OFFLINE"] = "true"


def _executable(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} not found: the end-to-end tests need Debian's chromium and "
            f"chromium-driver; {INSTALL_HINT}"
        )
    return path


def chromium_options(profile_dir: Path, downloads: Path) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = _executable("chromium")
    options.add_argument("--headless=new")
    options.add_argument(f"--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}")
    options.add_argument(f"--user-data-dir={profile_dir}")
    # Chromium refuses to start as root with its sandbox on; the tests run as root in CI.
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    # containers often have a 64 MB /dev/shm, too small for a renderer
    options.add_argument("--disable-dev-shm-usage")
    # no calls home during the tests (updates, safe browsing lists, sync)
    for flag in (
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--lang=ru-RU",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "download.directory_upgrade": True,
            "intl.accept_languages": "ru-RU,ru",
        },
    )
    return options


def allow_downloads(driver: webdriver.Chrome, directory: Path) -> None:
    """Send the browser's downloads to `directory` from now on."""
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior",
        {"behavior": "allow", "downloadPath": str(directory), "eventsEnabled": True},
    )


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """One headless Chromium for the whole session (starting one costs about a second).

    Shared between tests: a test that logs in should log out or call `delete_all_cookies()`.
    """
    profile_dir = Path(tempfile.mkdtemp(prefix="cc-chromium-profile-"))
    downloads = tmp_path_factory.mktemp("downloads")
    service = Service(executable_path=_executable("chromedriver"))
    started = time.monotonic()
    driver = webdriver.Chrome(service=service, options=chromium_options(profile_dir, downloads))
    log.info(
        "chromium %s started in %.2f s",
        driver.capabilities.get("browserVersion", "?"),
        time.monotonic() - started,
    )
    try:
        allow_downloads(driver, downloads)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile_dir, ignore_errors=True)


@pytest.fixture
def downloads_dir(browser: webdriver.Chrome, tmp_path: Path) -> Path:
    """An empty directory of this test's own that the browser downloads into."""
    directory = tmp_path / "downloads"
    directory.mkdir()
    allow_downloads(browser, directory)
    return directory


def wait_for(
    driver: webdriver.Chrome,
    condition: Callable[[webdriver.Chrome], T | Literal[False] | None],
    timeout: float = 10.0,
    what: str | None = None,
) -> T:
    """Poll `condition(driver)` until it returns something truthy, and return that.

    `condition` may be one of selenium's `expected_conditions` or any callable. Fails the test
    after `timeout` seconds, naming `what` (or the condition) and the page it was on.
    """

    def polled(d: webdriver.Chrome) -> T | Literal[False] | None:
        try:
            return condition(d)
        except WebDriverException as error:
            # A look taken while the page is being replaced (a form just submitted, a link
            # followed) is aborted by Chromium; it says nothing about the page to come.
            if _NAVIGATING in (error.msg or ""):
                return False
            raise

    try:
        value = WebDriverWait(driver, timeout, poll_frequency=0.05).until(polled)
    except TimeoutException:
        described = what or getattr(condition, "__name__", repr(condition))
        pytest.fail(
            f"timed out after {timeout:g} s waiting for {described} on {driver.current_url}"
        )
    assert value, "WebDriverWait returned a falsy value"  # until() returns only truthy ones
    return value


def wait_for_download(
    driver: webdriver.Chrome, directory: Path, suffix: str = "", timeout: float = 10.0
) -> Path:
    """The one finished download in `directory` whose name ends with `suffix`."""

    def finished(_: webdriver.Chrome) -> Path | None:
        done = [
            p
            for p in directory.iterdir()
            if p.name.endswith(suffix) and not p.name.endswith(".crdownload")
        ]
        partial = [p for p in directory.iterdir() if p.name.endswith(".crdownload")]
        return done[0] if len(done) == 1 and not partial else None

    return wait_for(
        driver, finished, timeout, what=f"a download ending in {suffix!r} in {directory}"
    )


def save_screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """Save the visible page as var/screenshots/<name>.png and return the path."""
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.-]+", "_", name).strip("_") or "screenshot"
    path = SCREENSHOTS_DIR / f"{safe}.png"
    if not driver.save_screenshot(str(path)):
        pytest.fail(f"could not save a screenshot to {path}")
    return path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when != "call" or not report.failed:
        return report
    driver = getattr(item, "funcargs", {}).get("browser")
    if driver is None:
        return report
    try:
        path = save_screenshot(driver, f"FAILED-{item.name}")
    except (WebDriverException, pytest.fail.Exception) as exc:
        log.warning("no screenshot of the failed test %s: %s", item.name, exc)
    else:
        report.sections.append(("screenshot", str(path)))
    return report

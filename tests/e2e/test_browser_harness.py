"""The browser harness itself: a real page from a real HTTP server, driven from the keyboard.

The server is the stdlib's, started here on a free port, so this proves the harness (browser,
keyboard input, downloads, screenshots) before any page of the web console exists.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec

from tests.e2e.conftest import (
    WINDOW_HEIGHT,
    WINDOW_WIDTH,
    save_screenshot,
    wait_for,
    wait_for_download,
)

pytestmark = pytest.mark.e2e

FORM_PAGE = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Заявка</title></head>
<body>
<form action="/submit" method="post">
  <label>Лицевой счёт <input name="account" autofocus></label>
  <label>Район
    <select name="district">
      <option value="north">Северный</option>
      <option value="south">Южный</option>
      <option value="east">Восточный</option>
    </select>
  </label>
  <label><input type="checkbox" name="urgent" value="yes"> Срочно</label>
  <button type="submit">Отправить</button>
</form>
</body></html>
"""

RESULT_PAGE = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Принято</title></head>
<body>
<p id="result">Счёт {account}, район {district}, срочно: {urgent}</p>
<a id="download" href="/report.csv?account={account_q}">Скачать отчёт</a>
</body></html>
"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/":
            self._send(200, "text/html; charset=utf-8", FORM_PAGE.encode())
        elif url.path == "/report.csv":
            account = parse_qs(url.query).get("account", [""])[0]
            body = f"\ufeffСчёт;Статус\r\n{account};принято\r\n".encode()
            self._send(
                200,
                "text/csv; charset=utf-8",
                body,
                {"Content-Disposition": 'attachment; filename="report.csv"'},
            )
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        account = form.get("account", [""])[0]
        page = RESULT_PAGE.format(
            account=escape(account),
            account_q=quote(account),
            district=escape(form.get("district", [""])[0]),
            urgent="да" if form.get("urgent") == ["yes"] else "нет",
        )
        self._send(200, "text/html; charset=utf-8", page.encode())

    def _send(
        self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output quiet; failures show in the assertions


@pytest.fixture
def site() -> Iterator[str]:
    """The two-page site on a free port of 127.0.0.1; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, name="e2e-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_form_filled_from_the_keyboard_is_submitted_and_its_report_downloads(
    browser: webdriver.Chrome, site: str, downloads_dir: Path
) -> None:
    browser.get(site + "/")
    wait_for(browser, ec.title_is("Заявка"))
    # the window is a 1366x768 screen's; the page gets its width, the height less the
    # browser's own bars (headless Chromium leaves 625 px), as on a real office screen
    size = browser.get_window_size()
    assert (size["width"], size["height"]) == (WINDOW_WIDTH, WINDOW_HEIGHT)
    assert browser.execute_script("return window.innerWidth") == WINDOW_WIDTH

    account = browser.find_element(By.NAME, "account")
    wait_for(browser, lambda d: d.switch_to.active_element == account, what="autofocus")
    keys = ActionChains(browser)
    keys.send_keys("Ёлкин-042")
    keys.send_keys(Keys.TAB, Keys.ARROW_DOWN, Keys.ARROW_DOWN)  # district: the third option
    keys.send_keys(Keys.TAB, Keys.SPACE)  # tick "urgent"
    keys.send_keys(Keys.TAB, Keys.ENTER)  # the submit button
    keys.perform()

    result = wait_for(browser, ec.visibility_of_element_located((By.ID, "result")))
    assert result.text == "Счёт Ёлкин-042, район east, срочно: да"
    save_screenshot(browser, "harness-result")

    # the download link, again from the keyboard: it is the page's first focusable element
    ActionChains(browser).send_keys(Keys.TAB, Keys.ENTER).perform()
    report = wait_for_download(browser, downloads_dir, suffix=".csv")
    assert report.name == "report.csv"
    assert report.read_bytes().decode("utf-8") == "\ufeffСчёт;Статус\r\nЁлкин-042;принято\r\n"

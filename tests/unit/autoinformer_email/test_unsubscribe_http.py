"""The unsubscribe endpoint's parsing and pages (pure)."""

from __future__ import annotations

import pytest

from autoinformer.unsubscribe import (
    Unsubscription,
    confirm_page,
    done_page,
    extract_token,
    one_click_body,
    unsubscribe_paths,
)

TOKEN = "v1.YzoxfGRlYnQ.0bmqOtM9IXIYuwBbcR-f3g"


@pytest.mark.parametrize(
    ("content_type", "body", "ok"),
    [
        ("application/x-www-form-urlencoded", b"List-Unsubscribe=One-Click", True),
        ("", b"List-Unsubscribe=One-Click", True),
        ("application/x-www-form-urlencoded", b"List-Unsubscribe=Other", False),
        ("application/x-www-form-urlencoded", b"", False),
        ("text/plain", b"List-Unsubscribe=One-Click", False),
        (
            "multipart/form-data; boundary=XyZ",
            b'--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
            b"One-Click\r\n--XyZ--\r\n",
            True,
        ),
        (
            "multipart/form-data; boundary=XyZ",
            b'--XyZ\r\nContent-Disposition: form-data; name="other"\r\n\r\n'
            b"One-Click\r\n--XyZ--\r\n",
            False,
        ),
    ],
)
def test_a_post_must_carry_list_unsubscribe_one_click(
    content_type: str, body: bytes, ok: bool
) -> None:
    assert one_click_body(content_type, body) is ok


@pytest.mark.parametrize(
    "pasted",
    [
        TOKEN,
        f"  {TOKEN}\n",
        f"http://127.0.0.1:8080/unsubscribe?token={TOKEN}",
        f"unsubscribe {TOKEN}",
        f"unsubscribe%20{TOKEN}",
        f"mailto:noreply@x.ru?subject=unsubscribe%20{TOKEN}",
    ],
)
def test_the_clerk_may_paste_the_token_the_link_or_the_mailto_subject(pasted: str) -> None:
    assert extract_token(pasted) == TOKEN


def test_pages_escape_and_never_show_the_full_address() -> None:
    who = Unsubscription("debt", "ivanov<b>@example.ru", 1, already=False)
    page = confirm_page(who)
    assert "ivanov" not in page and "i***@example.ru" in page
    assert 'name="List-Unsubscribe" value="One-Click"' in page and 'method="post"' in page
    assert "письма о задолженности" in page
    assert "уже не получает" in confirm_page(Unsubscription("debt", "a@b.ru", 1, already=True))
    assert "Готово" in done_page(who)


def test_the_endpoint_serves_the_base_urls_path_and_the_default_one() -> None:
    assert unsubscribe_paths("https://lk.example.ru/mail/off") == ("/mail/off", "/unsubscribe")
    assert unsubscribe_paths("http://127.0.0.1:8080/unsubscribe") == ("/unsubscribe",)


def test_the_http_listener_settings_are_checked() -> None:
    from contact_center.settings import SettingsError, load_settings

    assert (load_settings({}).http_host, load_settings({}).http_port) == ("127.0.0.1", 8080)
    assert load_settings({"CC_HTTP_PORT": "0"}).http_port == 0
    with pytest.raises(SettingsError, match="CC_HTTP_PORT"):
        load_settings({"CC_HTTP_PORT": "70000"})


def test_the_unsubscribe_link_follows_the_http_port_unless_set() -> None:
    from contact_center.settings import load_settings

    assert load_settings({}).unsubscribe_base_url == "http://127.0.0.1:8080/unsubscribe"
    assert (
        load_settings({"CC_HTTP_PORT": "8181"}).unsubscribe_base_url
        == "http://127.0.0.1:8181/unsubscribe"
    )
    assert (
        load_settings({"CC_HTTP_HOST": "0.0.0.0", "CC_HTTP_PORT": "81"}).unsubscribe_base_url
        == "http://127.0.0.1:81/unsubscribe"
    )
    explicit = {"CC_HTTP_PORT": "8181", "CC_UNSUBSCRIBE_BASE_URL": "http://127.0.0.1:9/off"}
    assert load_settings(explicit).unsubscribe_base_url == "http://127.0.0.1:9/off"

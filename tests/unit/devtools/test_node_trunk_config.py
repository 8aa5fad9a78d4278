"""The node trunk between Asterisk nodes (issue 14) as settings and the renderer see it; two
real nodes calling over it are tests/integration/nodes/test_node_trunk.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from contact_center.devtools.asterisk_config import (
    NODE_TRUNK_SECRET_FILE,
    AsteriskError,
    render_for_container,
)
from contact_center.settings import Settings, SettingsError, load_settings

SECRET = "f00dfeed0123456789abcdef"


def live(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if ln and not ln.lstrip().startswith(";")]


def secrets_dir(tmp_path: Path, secret: str = SECRET) -> Path:
    folder = tmp_path / "secrets"
    folder.mkdir(exist_ok=True)
    (folder / NODE_TRUNK_SECRET_FILE).write_text(secret + "\n")
    return folder


def test_without_a_node_trunk_nothing_of_it_is_rendered_and_no_password_is_needed(
    tmp_path: Path,
) -> None:
    render_for_container(Settings(asterisk_secrets_dir=tmp_path / "none"), tmp_path / "out")
    lines = live(tmp_path / "out" / "pjsip.conf")
    assert not [ln for ln in lines if "hotline-node" in ln or "dialer-nodes" in ln]
    # the dialplan of both ends is there (unused until a trunk leads to it)
    assert "[from-dialer-nodes]" in (tmp_path / "out" / "extensions.conf").read_text()


def test_a_dialer_node_dials_the_hotline_node_with_the_shared_password(tmp_path: Path) -> None:
    settings = Settings(hotline_node="10.0.0.5:5070", asterisk_secrets_dir=secrets_dir(tmp_path))
    render_for_container(settings, tmp_path / "out")
    lines = live(tmp_path / "out" / "pjsip.conf")
    assert "contact = sip:10.0.0.5:5070" in lines
    assert f"password = {SECRET}" in lines
    assert "outbound_auth = hotline-node-auth" in lines
    assert not [ln for ln in lines if "dialer-nodes-identify" in ln]


def test_the_hotline_node_takes_the_dialer_nodes_by_address_and_password(tmp_path: Path) -> None:
    settings = Settings(
        dialer_nodes="10.0.0.6, 10.0.1.0/24", asterisk_secrets_dir=secrets_dir(tmp_path)
    )
    render_for_container(settings, tmp_path / "out")
    lines = live(tmp_path / "out" / "pjsip.conf")
    assert "match = 10.0.0.6,10.0.1.0/24" in lines
    assert "context = from-dialer-nodes" in lines and "auth = dialer-nodes-auth" in lines
    assert f"password = {SECRET}" in lines
    assert "[hotline-node]" not in lines


def test_a_missing_or_weak_node_trunk_password_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(AsteriskError, match=NODE_TRUNK_SECRET_FILE):
        render_for_container(
            Settings(hotline_node="hotline", asterisk_secrets_dir=tmp_path), tmp_path / "a"
        )
    weak = secrets_dir(tmp_path, "short")
    with pytest.raises(AsteriskError, match="не короче 16"):
        render_for_container(
            Settings(dialer_nodes="10.0.0.6", asterisk_secrets_dir=weak), tmp_path / "b"
        )


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"CC_HOTLINE_NODE": "hotline:99999"}, "CC_HOTLINE_NODE"),
        ({"CC_HOTLINE_NODE": "sip:hotline"}, "CC_HOTLINE_NODE"),
        ({"CC_HOTLINE_NODE": "hot line"}, "CC_HOTLINE_NODE"),
        ({"CC_DIALER_NODES": "10.0.0.0/8, dialer"}, "CC_DIALER_NODES"),
        ({"CC_HOTLINE_NODE": "hotline", "CC_SIP_PORT": "0"}, "CC_SIP_PORT"),
    ],
)
def test_bad_node_trunk_settings_name_the_setting(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings(env)


def test_good_node_trunk_settings_load() -> None:
    s = load_settings({"CC_HOTLINE_NODE": "asterisk:5060", "CC_DIALER_NODES": "172.16.0.0/12"})
    assert (s.hotline_node, s.dialer_nodes) == ("asterisk:5060", "172.16.0.0/12")
    assert load_settings({"CC_HOTLINE_NODE": "10.0.0.5"}).hotline_node == "10.0.0.5"

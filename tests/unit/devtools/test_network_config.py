"""SIP, NAT, RTP and the SIP secrets as the renderer writes them (Asterisk reading them is
tests/integration/deploy/test_asterisk_unit.py)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from contact_center.devtools.asterisk_config import render_for_container
from contact_center.settings import Settings, SettingsError, load_settings


def live(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if ln and not ln.lstrip().startswith(";")]


def test_rtp_range_is_one_setting_written_into_rtp_conf(tmp_path: Path) -> None:
    render_for_container(Settings(rtp_ports="12000-12200"), tmp_path)
    assert live(tmp_path / "rtp.conf")[-2:] == ["rtpstart = 12000", "rtpend = 12200"]


def test_nat_lines_appear_only_with_an_external_address(tmp_path: Path) -> None:
    render_for_container(Settings(), tmp_path / "plain")
    assert not [ln for ln in live(tmp_path / "plain" / "pjsip.conf") if "external" in ln]
    nat = Settings(sip_external_address="203.0.113.5", sip_local_net="192.168.1.0/24, 10.0.0.0/8")
    render_for_container(nat, tmp_path / "nat", sip_port=5070)
    lines = live(tmp_path / "nat" / "pjsip.conf")
    assert "bind = 0.0.0.0:5070" in lines
    assert "external_media_address = 203.0.113.5" in lines
    assert "external_signaling_address = 203.0.113.5" in lines
    assert "local_net = 192.168.1.0/24,10.0.0.0/8" in lines


def test_sip_secrets_come_from_their_own_folder_readable_by_the_owner_only(
    tmp_path: Path,
) -> None:
    secrets = tmp_path / "etc-cc"
    secrets.mkdir()
    (secrets / "pjsip_operators.conf").write_text("[op101]\npassword = p@ss;word@X@\n")
    render_for_container(Settings(asterisk_secrets_dir=secrets), tmp_path / "out")
    copied = tmp_path / "out" / "pjsip_operators.conf"
    assert copied.read_text() == "[op101]\npassword = p@ss;word@X@\n"  # verbatim
    assert stat.S_IMODE(copied.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"CC_SIP_BIND": "office"}, "CC_SIP_BIND"),
        ({"CC_SIP_PORT": "70000"}, "CC_SIP_PORT"),
        ({"CC_RTP_PORTS": "20000-10000"}, "CC_RTP_PORTS"),
        ({"CC_RTP_PORTS": "10000"}, "CC_RTP_PORTS"),
        ({"CC_SIP_EXTERNAL_ADDRESS": "203.0.113.5"}, "CC_SIP_LOCAL_NET"),
        (
            {"CC_SIP_EXTERNAL_ADDRESS": "1.2.3.4", "CC_SIP_LOCAL_NET": "10.0.0.0/33"},
            "CC_SIP_LOCAL_NET",
        ),
        ({"CC_LOG_LEVEL": "LOUD"}, "CC_LOG_LEVEL"),
    ],
)
def test_bad_network_and_log_settings_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        load_settings(env)


def test_network_settings_from_the_environment() -> None:
    s = load_settings(
        {"CC_SIP_BIND": "0.0.0.0", "CC_SIP_PORT": "5080", "CC_RTP_PORTS": "10000-10100",
         "CC_SIP_EXTERNAL_ADDRESS": "sip.example.ru", "CC_SIP_LOCAL_NET": "192.168.1.0/24"}
    )  # fmt: skip
    assert (s.sip_bind, s.sip_port, s.sip_external_address) == ("0.0.0.0", 5080, "sip.example.ru")

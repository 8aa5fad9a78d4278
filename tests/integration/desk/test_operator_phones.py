"""`operator login` (and the desk, through the same service) refuses a phone Asterisk does
not know or that is not registered; the sim world's Local operators stay allowed."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from contact_center.cli import main
from contact_center.operators.exceptions import PhoneUnavailable
from tests.integration.hotline.conftest import MakeHotline

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("interface", "fragment"),
    [
        ("PJSIP/op102", "неизвестен Asterisk"),
        ("SIP/op103", "chan_sip"),
        # exists in the sim world's pjsip config, but no phone registered as it
        ("PJSIP/sim-op1", "не зарегистрирован"),
        ("Local/9@no-such-context/n", "нет такого внутреннего номера"),
    ],
)
async def test_login_refuses_a_phone_asterisk_cannot_ring(
    hotline: MakeHotline, interface: str, fragment: str
) -> None:
    h = await hotline()
    with pytest.raises(PhoneUnavailable, match=fragment):
        await h.service.operators.login("op7", interface)
    # nothing half-done: no queue member, no operator row
    assert interface not in await h.members()
    assert all(o.code != "op7" for o in await h.service.operators.all())


async def test_sim_operator_on_a_local_channel_logs_in(hotline: MakeHotline) -> None:
    h = await hotline()
    view = await h.service.operators.login("op8", "Local/8@sim-operators/n")
    assert view.state == "available" and "Local/8@sim-operators/n" in await h.members()
    await h.service.operators.logout("op8")


async def test_cli_login_of_an_unknown_phone_exits_2_with_the_reason(
    hotline: MakeHotline,
) -> None:
    h = await hotline()
    s = h.service.settings
    env = {
        "CC_DATABASE_URL": s.database_url,
        "CC_AMI_HOST": s.ami_host,
        "CC_AMI_PORT": str(s.ami_port),
        "CC_AMI_SECRET": s.ami_secret,
    }
    runner = CliRunner()
    for interface, fragment in (("PJSIP/op102", "неизвестен"), ("SIP/op103", "PJSIP")):
        result = await asyncio.to_thread(
            runner.invoke, main, ["operator", "login", "op102", "--interface", interface], env=env
        )
        assert result.exit_code == 2, result.output
        assert fragment in result.output and interface in result.output
    listing = await asyncio.to_thread(runner.invoke, main, ["operator", "list"], env=env)
    assert "op102" not in listing.output

from collections.abc import AsyncIterator

import pytest

from contact_center.telephony.agi import AgiServer
from contact_center.telephony.ami import AmiConfig, AmiLink
from contact_center.telephony.originate import Originator
from tests.integration.conftest import AsteriskFixture


@pytest.fixture
async def link(asterisk: AsteriskFixture) -> AsyncIterator[AmiLink]:
    link = AmiLink(AmiConfig.from_settings(asterisk.settings))
    await link.connect(timeout=10)
    try:
        yield link
    finally:
        await link.close()


@pytest.fixture
def agi(link: AmiLink) -> AgiServer:
    return AgiServer(link)


@pytest.fixture
def originator(asterisk: AsteriskFixture, link: AmiLink) -> Originator:
    return Originator(link, "Local/{number}@sim-customers")

from collections.abc import AsyncIterator

import pytest

from contact_center.telephony.agi import AgiServer
from contact_center.telephony.ami import AmiConfig, AmiLink
from contact_center.telephony.originate import Originator


@pytest.fixture
async def link(asterisk) -> AsyncIterator[AmiLink]:  # type: ignore[no-untyped-def]
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
def originator(asterisk, link: AmiLink) -> Originator:  # type: ignore[no-untyped-def]
    return Originator(link, "Local/{number}@sim-customers")

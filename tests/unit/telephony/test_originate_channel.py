"""Originating to a known channel (an operator's phone) refuses anything that is not a
plain dial string before Asterisk is asked."""

from __future__ import annotations

import pytest

from contact_center.telephony.ami import AmiConfig, AmiLink
from contact_center.telephony.originate import Originator


@pytest.mark.parametrize(
    "channel", ["PJSIP/op101,1", "PJSIP/op101&Local/x", "op101", "PJSIP/op 101", "PJSIP/a\r\nX"]
)
async def test_a_channel_that_is_not_a_plain_dial_string_is_refused(channel: str) -> None:
    link = AmiLink(AmiConfig(host="127.0.0.1", port=1, username="u", secret="s"))
    originator = Originator(link, "PJSIP/{number}@t")
    with pytest.raises(ValueError, match="bad channel"):
        await originator.originate_channel(
            channel=channel, channel_id="cc-0123456789", context="operator-phones"
        )

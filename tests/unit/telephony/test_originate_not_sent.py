"""An Originate that could not be written is OriginateNotSent: the dialer may retry it freely."""

import pytest

from contact_center.telephony.ami import AmiConfig, AmiLink
from contact_center.telephony.exceptions import OriginateNotSent
from contact_center.telephony.originate import Originator, new_channel_id


async def test_originate_on_a_link_never_connected_is_not_sent() -> None:
    link = AmiLink(AmiConfig(host="127.0.0.1", port=1, username="u", secret="s"))
    originator = Originator(link, "Local/{number}@sim-customers")
    with pytest.raises(OriginateNotSent) as info:
        await originator.originate(
            number="79130000001", channel_id=new_channel_id(), context="autoinformer"
        )
    assert not info.value.refused
    assert info.value.error_id == "originate-not-sent"


def test_originate_now_on_a_link_that_is_down_raises_at_once() -> None:
    """No await needed to know: the dialer's step that frees a slot sees it there."""
    link = AmiLink(AmiConfig(host="127.0.0.1", port=1, username="u", secret="s"))
    originator = Originator(link, "Local/{number}@sim-customers")
    with pytest.raises(OriginateNotSent):
        originator.originate_now(  # type: ignore[unused-coroutine]
            number="79130000001", channel_id=new_channel_id(), context="autoinformer"
        )

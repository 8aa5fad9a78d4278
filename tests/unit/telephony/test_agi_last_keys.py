"""How the key Asterisk keeps in a channel is read (one GET FULL VARIABLE of
CPLAYBACKSTATUS and CPLAYBACKSTOPKEY, left by CONTROL STREAM FILE): a literal table."""

from __future__ import annotations

import pytest

from contact_center.telephony.agi import _last_key, parse_agi_result

CASES = [
    # nothing that takes keys ran yet
    ("200 result=1 (|)", None),
    # a sound, or a wait, stopped by a key
    ("200 result=1 (USERSTOPPED|9)", "9"),
    ("200 result=1 (USERSTOPPED|*)", "*"),
    ("200 result=1 (USERSTOPPED|#)", "#"),
    # played out: the key an earlier sound left is no answer
    ("200 result=1 (SUCCESS|1)", None),
    ("200 result=1 (ERROR|)", None),
    ("200 result=1 (REMOTESTOPPED|5)", None),
    # nothing that is not one key of the pad
    ("200 result=1 (USERSTOPPED|A)", None),
    ("200 result=1 (USERSTOPPED|12)", None),
    ("200 result=0", None),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_the_key_kept_in_the_channel_is_read_as_in_the_table(
    raw: str, expected: str | None
) -> None:
    assert _last_key(parse_agi_result(raw)) == expected

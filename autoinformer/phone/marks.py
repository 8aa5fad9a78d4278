"""Asterisk's "heard" marks the dialer no longer needs, and their way out of AstDB.

The last part of a message leaves a mark in the node's AstDB when it ends
(`cc-heard/<ChannelId>`, AgiChannel.stream_file(mark=...)): until the service has stored
that the customer heard it all, the mark is the one record of it. A call with nothing
after its message is hung up at once and stored after, so the mark cannot be deleted on
its own channel (AGI needs the channel, and AMI's DBDel needs the `system` class our
AMI user does not have). Instead each stored mark waits here, and the next calls' dialplan
deletes it: an Originate carries up to `PER_CALL` of them (CC_FORGET1, CC_FORGET2) and
[autoinformer] deletes them with DB_DELETE before AGI starts, at no cost in AMI traffic.
A call that was not answered never ran that dialplan: its marks are given back for the
next one. Marks waiting when the service stops stay in AstDB (a row each).
"""

from __future__ import annotations

from collections import deque

# the AstDB family of the marks (asterisk_conf/extensions.conf [autoinformer] names it too)
HEARD_FAMILY = "cc-heard"


class HeardMarks:
    # marks an Originate carries (the dialplan's CC_FORGET1..n): two, so the queue drains
    # while some calls go unanswered
    PER_CALL = 2
    # kept at most (the oldest beyond are left in AstDB): a node that dials nothing for long
    LIMIT = 10_000

    def __init__(self) -> None:
        self._waiting: deque[str] = deque(maxlen=self.LIMIT)

    def __len__(self) -> int:
        return len(self._waiting)

    def stored(self, channel_id: str) -> None:
        """What the mark records is in the database now: it may go."""
        self._waiting.append(channel_id)

    def take(self) -> list[str]:
        """Marks for the next Originate to delete (oldest first)."""
        taken: list[str] = []
        while self._waiting and len(taken) < self.PER_CALL:
            taken.append(self._waiting.popleft())
        return taken

    def give_back(self, channel_ids: list[str]) -> None:
        """The call that carried them was not answered: its dialplan deleted nothing."""
        for channel_id in reversed(channel_ids):
            if len(self._waiting) < self.LIMIT:
                self._waiting.appendleft(channel_id)


def forget_variables(channel_ids: list[str]) -> dict[str, str]:
    """The Originate's channel variables that have [autoinformer] delete these marks."""
    return {f"CC_FORGET{i}": channel_id for i, channel_id in enumerate(channel_ids, start=1)}

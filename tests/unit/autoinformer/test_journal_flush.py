"""A journal write a call waits for goes ahead of the ordinary ones."""

from __future__ import annotations

from typing import cast

from autoinformer.phone.book import CallBook
from autoinformer.phone.progress import CallJournal, CallProgress, CallRef
from contact_center.clock import Clock


class _Book:
    """Records the journal's writes (the real book is tested in test_call_journal.py)."""

    def __init__(self) -> None:
        self.writes: list[tuple[int, bool]] = []

    async def note(self, ref: object, progress: CallProgress, now: object, **kw: object) -> None:
        self.writes.append((progress.parts_played, bool(kw.get("urgent"))))


async def test_a_flushed_journal_write_goes_ahead_of_the_queued_ones() -> None:
    """A write a call waits for (the message heard to its end, a decisive key) is urgent:
    under load the ordinary writes queue up, and a kill while it waited behind them made
    a customer who had heard everything a customer to call again (bench/chaos.py)."""
    book = _Book()
    progress = CallProgress(parts_total=3)
    journal = CallJournal(
        cast(CallBook, book), CallRef(1, 1, 1, "79130000001", "debt"), progress, Clock()
    )
    progress.parts_played = 1
    journal.changed()
    written = journal._task  # the ordinary write, behind the call
    assert written is not None
    await written
    progress.parts_played = 3
    progress.played_to_end = True
    await journal.flush()
    assert book.writes == [(1, False), (3, True)]


async def test_an_urgent_change_is_written_ahead_without_holding_the_call() -> None:
    """The Asterisk run an Originate went to is noted urgently, not waited for."""
    book = _Book()
    progress = CallProgress(parts_total=3)
    journal = CallJournal(
        cast(CallBook, book), CallRef(1, 1, 1, "79130000001", "debt"), progress, Clock()
    )
    progress.asterisk_boot = "2026-12-01 17:00:00"
    journal.changed(urgent=True)
    written = journal._task
    assert written is not None and not written.done()
    await written
    assert book.writes == [(0, True)]

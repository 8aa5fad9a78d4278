"""A campaign's phrases rendered before its first call, without holding the event loop.

The service's loop also runs the hotline and every AMI event: a 100,000-contact campaign
must not freeze it while its messages are filled. So the waiting contacts are read a page
at a time (keyset by id), the loop is given back every `SLICE` seconds of filling, each
prompt file is looked at once per pass (not once per contact), and the phrases go to the
speech service's pre-render (`Speech.prerender_texts`: cache look-ups, synthesis in its
worker processes) a chunk at a time. bench/prerender_stall.py: 100,000 contacts froze the
loop for 7.9 s when they were read at once; now the longest stall is about 11 ms.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autoinformer.campaigns.plan import Plan
from autoinformer.campaigns.scenario_store import ScenarioStore
from autoinformer.lists import speech_values
from autoinformer.loop import give_way
from autoinformer.phone.book import CallBook, DueContact
from contact_center.speech import Message, MessageError, PromptPart, Speech
from contact_center.speech.prompts import prompt_path

log = logging.getLogger(__name__)


def contact_values(contact: DueContact) -> dict[str, Any]:
    """The contact's fields typed for speech (what its message is filled from)."""
    fields: Mapping[str, str] = {
        "phone": "+" + contact.phone,
        "account": contact.account,
        "name": contact.name,
        **contact.values,
    }
    return speech_values(fields)


@dataclass(frozen=True, slots=True)
class PrerenderSummary:
    contacts: int
    # distinct phrases per chunk handed to the speech service, summed over the chunks
    phrases: int
    synthesized: int
    failed: int
    unfit: int


class _Collector:
    """One pass's phrases, handed to the speech service a chunk at a time."""

    def __init__(self, speech: Speech, chunk: int) -> None:
        self._speech = speech
        self._chunk = chunk
        self._texts: dict[str, None] = {}
        self._prompts: dict[str, bool] = {}  # prompt name -> its file is built
        self.phrases = self.synthesized = self.failed = 0

    def add(self, message: Message, values: Mapping[str, Any]) -> None:
        """The phrases of `message` filled from `values` (raises MessageError)."""
        for part in self._speech.resolve(message, values):
            if isinstance(part, PromptPart):
                if part.name not in self._prompts:
                    path = prompt_path(self._speech.sounds_dir, part.name)
                    self._prompts[part.name] = path.is_file()
            else:
                self._texts[part.text] = None

    @property
    def full(self) -> bool:
        return len(self._texts) >= self._chunk

    async def flush(self) -> None:
        if not self._texts:
            return
        texts, self._texts = list(self._texts), {}
        report = await self._speech.prerender_texts(texts)
        self.phrases += report.phrases
        self.synthesized += report.synthesized
        self.failed += report.failed_texts

    async def unbuilt_prompts(self) -> None:
        """Prompts `sounds build` has not made yet: synthesized into the cache instead."""
        for name, built in self._prompts.items():
            if not built:
                await self._speech.prompt(name)


class Prerenderer:
    # contacts read per query
    PAGE = 1000
    # phrases handed to the speech service at once (its cache look-ups hold the loop,
    # about 20 us each here)
    CHUNK = 250
    # the longest stretch of filling messages before the loop is given back, in seconds
    SLICE = 0.01

    def __init__(
        self,
        *,
        book: CallBook,
        scenarios: ScenarioStore,
        speech: Speech,
        page: int = PAGE,
        chunk: int = CHUNK,
    ) -> None:
        self._book = book
        self._scenarios = scenarios
        self._speech = speech
        self._page = page
        self._chunk = chunk

    async def prepare(self, plan: Plan) -> PrerenderSummary:
        """Render every phrase the campaign's waiting contacts and its replies need."""
        scenario = await self._scenarios.by_id(plan.scenario_id)
        collector = _Collector(self._speech, self._chunk)
        for reply in scenario.replies.values():
            if reply is not None:
                collector.add(reply, {})
        contacts = unfit = 0
        held_since = time.perf_counter()
        # counted from before each page's query too: one more give_way a page, never a
        # page's decoding on top of a full slice
        async for contact in self._book.waiting(plan.id, page=self._page):
            contacts += 1
            values = contact_values(contact)
            try:
                collector.add(scenario.message_for(values), values)
            except MessageError:
                unfit += 1
            if collector.full or time.perf_counter() - held_since >= self.SLICE:
                await give_way()
                held_since = time.perf_counter()
                if collector.full:
                    # its cache look-ups hold the loop too: they start a slice of their own
                    await collector.flush()
        await collector.flush()
        await collector.unbuilt_prompts()
        summary = PrerenderSummary(
            contacts=contacts,
            phrases=collector.phrases,
            synthesized=collector.synthesized,
            failed=collector.failed,
            unfit=unfit,
        )
        log.info(
            "campaign %d: %d phrases ready for %d contacts "
            "(%d synthesized, %d failed, %d contacts unfit)",
            plan.id,
            summary.phrases,
            contacts,
            summary.synthesized,
            summary.failed,
            unfit,
        )
        return summary

"""Russian speech for the hotline and the autoinformer.

- :mod:`~contact_center.speech.phrases`: pure phrase builders (money, dates, times, time
  ranges, quantities, phone numbers, numbers) over num2words.
- :mod:`~contact_center.speech.message`: messages as segments (prompt, text, typed value).
- :mod:`~contact_center.speech.service`: :class:`Speech`, which synthesizes phrases in
  worker processes, caches them under ``sounds/cache/`` and returns Asterisk playback names.
"""

from contact_center.speech.cache import SoundCache, asterisk_name, cache_key
from contact_center.speech.message import (
    Message,
    MessageError,
    PromptPart,
    PromptSegment,
    SpeechPart,
    TextSegment,
    ValueSegment,
    resolve,
)
from contact_center.speech.phrases import (
    KINDS,
    UNITS,
    PhraseError,
    date_phrase,
    money_phrase,
    number_phrase,
    phone_phrase,
    quantity_phrase,
    time_phrase,
    timerange_phrase,
)
from contact_center.speech.prompts import PromptCatalog, PromptError, prompt_path
from contact_center.speech.service import PrerenderReport, PromptBuildReport, Speech
from contact_center.speech.synth import SynthConfig, SynthesisError, SynthTimeout, WorkerCrashed

__all__ = [
    "KINDS",
    "UNITS",
    "Message",
    "MessageError",
    "PhraseError",
    "PrerenderReport",
    "PromptBuildReport",
    "PromptCatalog",
    "PromptError",
    "PromptPart",
    "PromptSegment",
    "SoundCache",
    "Speech",
    "SpeechPart",
    "SynthConfig",
    "SynthTimeout",
    "SynthesisError",
    "TextSegment",
    "ValueSegment",
    "WorkerCrashed",
    "asterisk_name",
    "cache_key",
    "date_phrase",
    "money_phrase",
    "number_phrase",
    "phone_phrase",
    "prompt_path",
    "quantity_phrase",
    "resolve",
    "time_phrase",
    "timerange_phrase",
]

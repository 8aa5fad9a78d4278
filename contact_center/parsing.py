"""Small value parsers shared by the customer import, phone scenarios and e-mail templates.

Pure functions; each raises a plain ValueError that the caller turns into its own message
(a CSV column, a scenario option), so every input keeps the wording its users know.
"""

from __future__ import annotations

# one vocabulary for yes/no everywhere: office exports write "да"/"нет", "+"/"-" or 1/0,
# scenario and template options write yes/no
YES_WORDS = frozenset({"1", "true", "yes", "y", "да", "д", "+"})
NO_WORDS = frozenset({"0", "false", "no", "n", "нет", "н", "-"})


def parse_yes_no(raw: object, *, blank: bool | None = None) -> bool:
    """A yes/no answer: a bool as it is, else one of YES_WORDS / NO_WORDS (any case, spaces
    around ignored). An empty value is `blank` when given (an empty CSV cell means "no"),
    otherwise an error like any other unknown word."""
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    if not word and blank is not None:
        return blank
    raise ValueError(f"ожидается да или нет, получено {raw!r}")

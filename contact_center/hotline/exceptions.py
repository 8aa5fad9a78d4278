"""Hotline errors, each with a stable id for logs and the API; messages are Russian."""

from __future__ import annotations

# the calendar is shared with the autoinformer: its error lives in the core module
from contact_center.calendar import CalendarError as CalendarError


class HotlineError(Exception):
    error_id = "hotline-error"


class IvrError(HotlineError, ValueError):
    """An IVR script is broken: the message names the file, the key and the problem."""

    error_id = "hotline-ivr-script"

    def __init__(self, file: str, key: str, problem: str) -> None:
        super().__init__(f"{file}: {key}: {problem}" if key else f"{file}: {problem}")
        self.file = file
        self.key = key
        self.problem = problem


class OutageError(HotlineError, ValueError):
    """An outage record or import line that cannot be used."""

    error_id = "hotline-outage"


class AppealNotFound(HotlineError, LookupError):
    error_id = "hotline-appeal-not-found"


class ReportFormatError(HotlineError, ValueError):
    """A hotline report asked for in a format there is none of (csv, json, xlsx, text)."""

    error_id = "hotline-report-format"

"""Domain errors of the autoinformer; each has a stable id for logs, the CLI and the API.

Messages are Russian: they are shown to the supervisor who typed the command.
"""

from __future__ import annotations


class AutoinformerError(Exception):
    error_id = "autoinformer-error"


class ScenarioError(AutoinformerError):
    """A scenario file that cannot be used; the message names the file and the key."""

    error_id = "scenario-invalid"


class ScenarioNotFound(AutoinformerError):
    error_id = "scenario-not-found"


class CallListError(AutoinformerError):
    """A call list that cannot be read at all (no header, no `phone` column, no usable row)."""

    error_id = "call-list-invalid"


class CampaignRefused(AutoinformerError):
    """A campaign that must not run as asked (24-hour rule, bad window...); says why."""

    error_id = "campaign-refused"


class CampaignNotFound(AutoinformerError):
    error_id = "campaign-not-found"


class CampaignStateError(AutoinformerError):
    """An action that does not fit the campaign's state (resume a cancelled one...)."""

    error_id = "campaign-state"


class ReportFormatError(AutoinformerError):
    """A report asked for in a format there is none of (csv, json, xlsx, text)."""

    error_id = "report-format"

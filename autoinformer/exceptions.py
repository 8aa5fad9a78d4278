"""Domain errors of the autoinformer; each has a stable id for logs, the CLI and the API.

Messages are Russian: they are shown to the supervisor who typed the command.
"""

from __future__ import annotations

from contact_center.telephony.exceptions import OriginateNotSent


class AutoinformerError(Exception):
    error_id = "autoinformer-error"


class ScenarioError(AutoinformerError):
    """A scenario file that cannot be used; the message names the file and the key."""

    error_id = "scenario-invalid"

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        # the scenario key at fault (message, keys.1, email.text...): the web names the field
        self.key = key


class ScenarioNotFound(AutoinformerError):
    error_id = "scenario-not-found"


class CallListError(AutoinformerError):
    """A call list that cannot be read at all (no header, no `phone` column, no usable row)."""

    error_id = "call-list-invalid"


class CampaignRefused(AutoinformerError):
    """A campaign that must not run as asked (24-hour rule, bad window...); says why."""

    error_id = "campaign-refused"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        # the `campaign create` option at fault (end, outage_start...), when one is
        self.field = field


class CampaignNotFound(AutoinformerError):
    error_id = "campaign-not-found"


class CampaignStateError(AutoinformerError):
    """An action that does not fit the campaign's state (resume a cancelled one...)."""

    error_id = "campaign-state"


class ReportFormatError(AutoinformerError):
    """A report asked for in a format there is none of (csv, json, xlsx, text)."""

    error_id = "report-format"


class LeaseLapsed(OriginateNotSent):
    """An Originate held back: this worker's heartbeat lease ran out after the call was
    claimed (contact_center.service_state.HeartbeatLease), so another worker may have it.
    Not Asterisk refusing: nothing to back off from."""

    error_id = "worker-lease-lapsed"

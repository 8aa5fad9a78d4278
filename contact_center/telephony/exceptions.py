"""One error tree for the AMI edge; each error has a stable id for logs and the API."""

from __future__ import annotations


class TelephonyError(Exception):
    error_id = "telephony-error"


class AmiConnectionError(TelephonyError):
    """Asterisk's manager interface cannot be reached, or the link dropped mid-action."""

    error_id = "ami-connection"


class AmiLoginError(TelephonyError):
    """Asterisk refused the AMI user name or secret."""

    error_id = "ami-login-refused"


class AmiTimeout(TelephonyError):
    """An AMI action got no reply in time."""

    error_id = "ami-timeout"


class AmiActionError(TelephonyError):
    """Asterisk answered an action with `Response: Error`."""

    error_id = "ami-action-error"

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"{action}: {message}")
        self.action = action
        self.message = message


class ChannelGone(TelephonyError):
    """The call left AsyncAGI (hung up) before a command finished."""

    error_id = "channel-gone"


class AgiCommandError(TelephonyError):
    """An AGI command was refused (invalid, usage error) or failed in the application."""

    error_id = "agi-command-error"


class OriginateNotSent(TelephonyError):
    """The Originate never reached Asterisk (link down, action refused, Asterisk shutting
    down): nobody was dialed, so it is not an attempt."""

    error_id = "originate-not-sent"

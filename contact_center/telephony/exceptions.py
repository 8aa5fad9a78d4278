"""One error tree for the AMI edge; each error has a stable id for logs and the API."""

from __future__ import annotations


class TelephonyError(Exception):
    error_id = "telephony-error"


class AmiConnectionError(TelephonyError):
    """Asterisk's manager interface cannot be reached, or the link dropped mid-action."""

    error_id = "ami-connection"


class AmiNotSent(AmiConnectionError):
    """The action was never written to Asterisk (the link was down or closing): it had no
    effect, so sending it again later is safe."""

    error_id = "ami-not-sent"


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


class OriginateNotSent(TelephonyError):
    """The Originate never reached Asterisk, or Asterisk refused the action itself: nobody was
    dialled, so it is not an attempt. A lost reply to a sent Originate is not this (the call may
    be ringing): that stays AmiConnectionError / AmiTimeout."""

    error_id = "originate-not-sent"

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        # True: Asterisk answered `Response: Error` ("Asterisk is shutting down", ...);
        # False: the action was not written (link down)
        self.refused = refused


class ChannelGone(TelephonyError):
    """The call left AsyncAGI (hung up) before a command finished."""

    error_id = "channel-gone"


class AgiCommandError(TelephonyError):
    """An AGI command was refused (invalid, usage error) or failed in the application."""

    error_id = "agi-command-error"

"""Operator errors with stable ids; messages are Russian (shown to the operator)."""

from __future__ import annotations


class OperatorError(Exception):
    error_id = "operator-error"


class UnknownOperator(OperatorError, LookupError):
    error_id = "operator-unknown"


class OperatorStateError(OperatorError):
    """The action does not fit what the operator is doing (e.g. lookup-done with no call)."""

    error_id = "operator-state"


class QueueControlError(OperatorError):
    """Asterisk refused or did not answer a queue action (QueueAdd/QueuePause/QueueRemove)."""

    error_id = "operator-queue-control"


class PhoneUnavailable(OperatorError):
    """The operator's phone is not one Asterisk can ring: unknown, or not registered."""

    error_id = "operator-phone-unavailable"

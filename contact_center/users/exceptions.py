"""Users, sessions and audit errors with stable ids; messages are Russian (shown to people).

`field` names the input at fault (the web answers `{"error": ..., "field": ...}`), or is
None when no single field is.
"""

from __future__ import annotations

from datetime import datetime


class UserError(Exception):
    error_id = "user-error"
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field


class InvalidLogin(UserError, ValueError):
    error_id = "user-login-invalid"
    field = "login"


class WeakPassword(UserError, ValueError):
    error_id = "user-password-weak"
    field = "password"


class InvalidRole(UserError, ValueError):
    error_id = "user-role-invalid"
    field = "role"


class DuplicateLogin(UserError):
    error_id = "user-exists"
    field = "login"


class UnknownUser(UserError, LookupError):
    error_id = "user-unknown"
    field = "login"


class UnknownOperatorCode(UserError, LookupError):
    error_id = "user-operator-unknown"
    field = "operator_code"


class AuthError(UserError):
    """A login or a session was refused (the web answers 401/403/429)."""

    error_id = "auth-error"


class AuthenticationFailed(AuthError):
    """Wrong login or password: one message for both, so logins cannot be probed."""

    error_id = "auth-failed"


class AccountDisabled(AuthError):
    """Told only after the right password, so it reveals nothing to a guesser."""

    error_id = "auth-disabled"


class LoginThrottled(AuthError):
    """Too many failed logins for this login or from this address; the password was not
    checked. `retry_after` is in whole seconds (an HTTP Retry-After value)."""

    error_id = "auth-throttled"

    def __init__(self, message: str, *, retry_at: datetime, retry_after: int) -> None:
        super().__init__(message)
        self.retry_at = retry_at
        self.retry_after = retry_after


class SessionInvalid(AuthError):
    """No such session, or it expired, was logged out or its user disabled."""

    error_id = "session-invalid"


class CsrfRejected(AuthError):
    error_id = "csrf-invalid"


class PermissionDenied(AuthError):
    error_id = "permission-denied"

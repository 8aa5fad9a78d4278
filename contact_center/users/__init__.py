"""Users of the web console: accounts and roles, sessions, the failed-login throttle, the
audit log. Domain only; the HTTP edge calls `UserService`, `SessionService` and `AuditLog`."""

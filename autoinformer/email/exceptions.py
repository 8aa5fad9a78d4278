"""The e-mail channel's one error tree.

Every error is an :class:`EmailChannelError`; ``str(exc)`` is one line in Russian that can be
shown to a supervisor as it is. Errors never carry a full e-mail address (they end up in logs
and reports): addresses are masked with :func:`contact_center.privacy.mask_email`.

- :class:`TemplateError` - a scenario's e-mail template cannot be loaded (names the key);
  :class:`TemplateRenderError` - it cannot be filled for one contact (names the field).
- :class:`AddressError` - an address that cannot be put into a message or an SMTP envelope.
- :class:`UnsubscribeTokenError` - an unsubscribe token that is malformed, forged or unknown.
- :class:`ConsentFileError` - a consent CSV that cannot be read at all (rows are reported one
  by one, not raised).
- :class:`SmtpError` - the SMTP server cannot be used: :class:`SmtpSetupError` (it refuses
  this client: authentication, TLS, greeting 5xx; fix the settings) and
  :class:`SmtpUnavailableError` (it cannot be reached right now). A message the server
  refused is not an exception: it is a ``DeliveryResult`` with status ``failed``.
"""

from __future__ import annotations


class EmailChannelError(Exception):
    """Base of every error of ``autoinformer.email``."""


class TemplateError(EmailChannelError, ValueError):
    """A template that cannot be loaded: ``key`` is ``subject``, ``text`` or ``html``
    (prefixed by where the template came from), ``line`` its line when known."""

    def __init__(self, reason: str, *, key: str, line: int | None = None) -> None:
        self.reason = reason
        self.key = key
        self.line = line
        where = f"{key}, строка {line}" if line else key
        super().__init__(f"{where}: {reason}")


class TemplateRenderError(TemplateError):
    """A template that cannot be filled for one contact; ``field`` names the contact field
    when it is known (a missing, empty or malformed value)."""

    def __init__(
        self, reason: str, *, key: str, field: str | None = None, line: int | None = None
    ) -> None:
        self.field = field
        super().__init__(reason, key=key, line=line)


class AddressError(EmailChannelError, ValueError):
    """An address that cannot be used (malformed, or a non-ASCII local part, which needs
    SMTPUTF8 that this channel does not rely on)."""


class UnsubscribeTokenError(EmailChannelError, ValueError):
    """An unsubscribe token that is malformed or whose signature does not match."""


class ConsentFileError(EmailChannelError, ValueError):
    """A consent CSV that cannot be read at all (empty, no header, no ``email`` column)."""


class SmtpError(EmailChannelError):
    """The SMTP server as a whole cannot be used (not one message's refusal)."""


class SmtpSetupError(SmtpError):
    """The server refuses this client: wrong login, TLS failure, a 5xx greeting. Retrying
    will not help; the settings must change. Campaigns should pause, not fail contacts."""


class SmtpUnavailableError(SmtpError):
    """The server cannot be reached now (refused, timed out, 4xx greeting)."""

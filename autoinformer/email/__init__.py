"""The e-mail channel of notification campaigns: templates, MIME, consent, SMTP sending,
and the mailer that sends campaigns' letters inside `serve`.

The mailer (``mailer``: the loop; ``book``: its table writes) is imported from its own
modules; the self-contained parts below are re-exported here:

- :class:`EmailTemplate` (``templates``): a scenario's subject/text/HTML, checked on load,
  rendered per contact with typed values as text;
- :func:`compose_notice` (``mime``): render + a MIME letter with a signed one-click
  unsubscribe link; :func:`verify_unsubscribe_token` for the web endpoint;
- :func:`parse_consent_csv`, :func:`address_problem` (``consent``): who may be mailed;
- :class:`SmtpSender` (``sender``): one reused SMTP session, rate limit, retries, and the
  before-DATA hook for sending each letter at most once across restarts.
"""

from .consent import (
    ConsentedAddress,
    ConsentList,
    RejectedRow,
    address_problem,
    parse_consent_csv,
)
from .exceptions import (
    AddressError,
    ConsentFileError,
    EmailChannelError,
    SmtpError,
    SmtpSetupError,
    SmtpUnavailableError,
    TemplateError,
    TemplateRenderError,
    UnsubscribeTokenError,
)
from .mime import (
    UnsubscribeRequest,
    build_message,
    compose_notice,
    make_unsubscribe_token,
    message_id_domain,
    new_message_id,
    verify_unsubscribe_token,
)
from .sender import Deferral, DeliveryResult, SenderOptions, SmtpSender, TokenBucket
from .templates import EmailTemplate, RenderedEmail

__all__ = [
    "AddressError",
    "ConsentFileError",
    "ConsentList",
    "ConsentedAddress",
    "Deferral",
    "DeliveryResult",
    "EmailChannelError",
    "EmailTemplate",
    "RejectedRow",
    "RenderedEmail",
    "SenderOptions",
    "SmtpError",
    "SmtpSender",
    "SmtpSetupError",
    "SmtpUnavailableError",
    "TemplateError",
    "TemplateRenderError",
    "TokenBucket",
    "UnsubscribeRequest",
    "UnsubscribeTokenError",
    "address_problem",
    "build_message",
    "compose_notice",
    "make_unsubscribe_token",
    "message_id_domain",
    "new_message_id",
    "parse_consent_csv",
    "verify_unsubscribe_token",
]

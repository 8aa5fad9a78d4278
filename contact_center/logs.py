"""Where `serve` logs: journald, a file, or the terminal; personal data masked on the way out.

- Under systemd stderr is a journald stream (``JOURNAL_STREAM`` names it): journald stamps
  each line itself, so the time is left out, and a ``<N>`` syslog prefix gives it the level
  (``journalctl -p warning`` then works).
- ``CC_LOG_FILE``: a `logging.handlers.WatchedFileHandler`. Rotation is logrotate's job
  (``deploy/logrotate/contact-center``): the handler notices the file was moved and reopens
  it, so nothing is lost or written into the rotated file. `RotatingFileHandler` was not
  chosen: it rotates from inside each process, and two processes on one file (``serve`` and
  a CLI command, or a restart overlapping a stop) each rename it under the other.
- Otherwise (a terminal): stderr with the time.

Call sites mask phone numbers, e-mail addresses and names themselves (`privacy`);
`MaskingFilter` masks any phone number or address that reaches a line anyway.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from contact_center.privacy import mask_email, mask_phone

FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(levelname)s %(name)s: %(message)s"
# syslog priorities journald reads from a "<N>" line prefix (sd-daemon.h)
_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}
# a number as the service stores it (+7XXXXXXXXXX, or 8/7 and ten digits): not a longer run
# of digits (ids) and not part of a word or a decimal (Asterisk's uniqueids)
_PHONE = re.compile(r"(?<![\w.+])(?:\+\d{10,15}|[78]\d{10})(?![\d])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class LogSetupError(RuntimeError):
    """The log cannot go where the settings say (the message says why, in Russian)."""


def under_journald(environ: Mapping[str, str], stderr_fd: int = 2) -> bool:
    """True when stderr is the journald stream systemd gave us (not merely inherited
    ``JOURNAL_STREAM`` by a child whose stderr goes elsewhere: systemd.exec(5))."""
    value = environ.get("JOURNAL_STREAM", "")
    dev, sep, ino = value.partition(":")
    if not (sep and dev.isdigit() and ino.isdigit()):
        return False
    try:
        stat = os.fstat(stderr_fd)
    except OSError:
        return False
    return (stat.st_dev, stat.st_ino) == (int(dev), int(ino))


def mask_personal_data(text: str) -> str:
    text = _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
    return _EMAIL.sub(lambda m: mask_email(m.group(0)), text)


class MaskingFilter(logging.Filter):
    """Masks phone numbers and e-mail addresses in the final message (and a traceback's
    text is left alone: it holds code, not customers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_personal_data(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JournalFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)
        # every line of a traceback gets the prefix: journald reads it per line
        return "\n".join(f"<{priority}>{line}" for line in super().format(record).splitlines())


def service_handler(
    log_file: str, environ: Mapping[str, str], stderr_fd: int = 2
) -> logging.Handler:
    """The one handler of `serve`'s log (see the module docstring)."""
    handler: logging.Handler
    if log_file:
        path = Path(log_file)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.WatchedFileHandler(path, encoding="utf-8")
        except OSError as exc:
            raise LogSetupError(
                f"CC_LOG_FILE: нельзя писать в {path}: {exc.strerror or exc}"
            ) from None
        handler.setFormatter(logging.Formatter(FILE_FORMAT))
    elif under_journald(environ, stderr_fd):
        handler = logging.StreamHandler()
        handler.setFormatter(JournalFormatter())
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FILE_FORMAT))
    handler.addFilter(MaskingFilter())
    return handler


def configure_service_logging(
    loggers: Iterable[logging.Logger],
    *,
    level: str,
    log_file: str = "",
    verbose: bool = False,
    environ: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Replace the root's handlers with `service_handler`; the service's `loggers` at
    `level` (CC_LOG_LEVEL), libraries at WARNING (everything at DEBUG with `verbose`)."""
    handler = service_handler(log_file, os.environ if environ is None else environ)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    for logger in loggers:
        logger.setLevel(logging.DEBUG if verbose else level.upper())
    return handler

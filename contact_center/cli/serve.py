"""`contact-center serve`: run the service (AMI link, call flows, plugins) until stopped.

It starts and stays up while Asterisk is down (the link keeps trying and says so in the log;
`campaign status` shows it too); it stops with a clear message only when Asterisk refuses
our AMI login, which no waiting can fix.

It logs to journald under systemd, to ``CC_LOG_FILE`` if set, else to stderr (`logs`), at
``CC_LOG_LEVEL``; SIGTERM or SIGINT stop it (exit 0) after the calls in progress are let go
(`contact_center.app.serve_forever`; README "Installing on a server")."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import click

from contact_center.cli.common import EXIT_FAILURE, CliContext, fail, pass_cli, run
from contact_center.plugins import Plugin
from contact_center.telephony.exceptions import AmiConnectionError, AmiLoginError


def service_loggers(plugins: Iterable[Plugin]) -> list[logging.Logger]:
    """The core's logger and each plugin package's: `serve` reports at INFO through all of
    them (the root stays at WARNING so libraries keep quiet)."""
    names = ["contact_center", *(type(p).__module__.split(".")[0] for p in plugins)]
    return [logging.getLogger(name) for name in dict.fromkeys(names)]


@click.command("serve")
@pass_cli
def command(cli: CliContext) -> None:
    """Запустить сервис (связь с Asterisk по AMI, обработка вызовов)."""
    from contact_center.app import serve_forever
    from contact_center.logs import LogSetupError, configure_service_logging

    settings = cli.settings
    try:
        configure_service_logging(
            service_loggers(cli.plugins),
            level=settings.log_level,
            log_file=settings.log_file,
            # `contact-center -v serve` set the root to DEBUG before we got here
            verbose=logging.getLogger().level == logging.DEBUG,
        )
    except LogSetupError as exc:
        fail(str(exc), EXIT_FAILURE)
    try:
        run(serve_forever(cli.app()))
    except AmiLoginError as exc:
        fail(
            f"Asterisk отклонил вход AMI: проверьте CC_AMI_USER и CC_AMI_SECRET ({exc})",
            EXIT_FAILURE,
        )
    except AmiConnectionError as exc:  # pragma: no cover - serve waits for Asterisk instead
        fail(f"Нет связи с Asterisk: {exc}", EXIT_FAILURE)

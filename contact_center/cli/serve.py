"""`contact-center serve`: run the service (AMI link, call flows) until stopped."""

from __future__ import annotations

import logging

import click

from contact_center.cli.common import EXIT_FAILURE, CliContext, fail, pass_cli, run
from contact_center.service import serve_forever
from contact_center.telephony.exceptions import AmiConnectionError, AmiLoginError


@click.command("serve")
@pass_cli
def command(cli: CliContext) -> None:
    """Запустить сервис (связь с Asterisk по AMI, обработка вызовов)."""
    logging.getLogger("contact_center").setLevel(logging.INFO)
    try:
        run(serve_forever(cli.settings))
    except AmiLoginError as exc:
        fail(
            f"Asterisk отклонил вход AMI: проверьте CC_AMI_USER и CC_AMI_SECRET ({exc})",
            EXIT_FAILURE,
        )
    except AmiConnectionError as exc:
        fail(f"Нет связи с Asterisk: {exc}", EXIT_FAILURE)

"""`contact-center demo`: the foundation end to end on the simulated world."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click

from contact_center.cli.common import EXIT_FAILURE, CliContext, fail, pass_cli, run
from contact_center.demo.run import run_demo
from contact_center.devtools.local_asterisk import AsteriskError, LocalAsterisk
from contact_center.storage import migrate
from contact_center.telephony.exceptions import TelephonyError


@click.command("demo")
@click.option(
    "--stop-asterisk/--keep-asterisk",
    default=False,
    help="Остановить Asterisk после демонстрации, если он был запущен ею.",
)
@pass_cli
def command(cli: CliContext, stop_asterisk: bool) -> None:
    """Демонстрация на модели абонентов: база, Asterisk, речь, звонки."""
    # demo customers go into a database of their own, never into the utility's customer base
    workdir = Path(tempfile.mkdtemp(prefix="cc-demo-"))
    settings = cli.settings.replace(database_url=f"sqlite+aiosqlite:///{workdir / 'demo.db'}")
    migrate.upgrade(settings.database_url)
    local = LocalAsterisk(settings)
    started_here = False
    if not local.status(with_version=False).running:
        click.echo("Запускаю Asterisk (asterisk_conf/, профиль sim)...")
        try:
            local.start()
        except AsteriskError as exc:
            fail(f"Asterisk не запустился: {exc}", EXIT_FAILURE)
        started_here = True
    click.echo(f"Asterisk работает, AMI {settings.ami_host}:{settings.ami_port}.")
    try:
        reports = run(run_demo(settings, echo=click.echo))
    except TelephonyError as exc:
        fail(f"Ошибка связи с Asterisk: {exc}", EXIT_FAILURE)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if started_here and stop_asterisk:
            local.stop()
    if not any(r.outcome and r.outcome.value == "answered" for r in reports):
        fail("Ни один звонок не состоялся: проверьте журнал Asterisk.", EXIT_FAILURE)
    if started_here and not stop_asterisk:
        click.echo("Asterisk оставлен запущенным; остановить: contact-center asterisk stop")

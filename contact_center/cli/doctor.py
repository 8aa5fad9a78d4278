"""`contact-center doctor`: check what this deployment needs and say what to fix."""

from __future__ import annotations

import click

from contact_center.cli.common import EXIT_FAILURE, CliContext, pass_cli, run
from contact_center.doctor.checks import CHECKS, Level, failed, run_checks

_MARK = {Level.OK: "[ок]", Level.WARN: "[??]", Level.FAIL: "[!!]"}


@click.command("doctor")
@click.option(
    "--skip",
    type=click.Choice(sorted(CHECKS)),
    multiple=True,
    help="Пропустить проверку (можно несколько раз), например smtp без рассылки писем.",
)
@pass_cli
def command(cli: CliContext, skip: tuple[str, ...]) -> None:
    """Проверить установку: Asterisk, модули, SIP, подсказки, база, почта, часы, диск.

    Код выхода 0 — всё в порядке (предупреждения [??] не мешают), 1 — есть что исправить.
    """
    from contact_center.doctor.facts import gather_facts

    skipped = frozenset(skip)
    facts = run(gather_facts(cli.settings, cli.plugins, skipped))
    findings = run_checks(facts, cli.settings, skipped)
    for finding in findings:
        click.echo(f"{_MARK[finding.level]} {finding.message}")
        if finding.level is not Level.OK and finding.fix:
            click.echo(f"     что сделать: {finding.fix}")
    problems = sum(f.level is Level.FAIL for f in findings)
    if failed(findings):
        click.echo(f"Проблем: {problems}. Исправьте их и запустите doctor снова.")
        raise click.exceptions.Exit(EXIT_FAILURE)
    click.echo("Всё в порядке.")

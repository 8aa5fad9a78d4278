"""`contact-center asterisk start|stop|status|reload`: the local Asterisk from asterisk_conf/.

`render-config DEST` writes the same configuration for a container (mount DEST at
/etc/asterisk), with the standard paths and AMI on the container network.
"""

from __future__ import annotations

from pathlib import Path

import click

from contact_center.cli.common import EXIT_FAILURE, EXIT_OK, CliContext, fail, pass_cli
from contact_center.devtools.asterisk_config import render_for_container
from contact_center.devtools.local_asterisk import (
    AsteriskAlreadyRunning,
    AsteriskError,
    LocalAsterisk,
)

EXIT_NOT_RUNNING = 3


@click.group("asterisk")
def group() -> None:
    """Локальный Asterisk (конфигурация из asterisk_conf/, имитация абонентов и операторов)."""


@group.command("start")
@click.option(
    "--sip-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="UDP-порт SIP (по умолчанию CC_SIP_PORT, адрес — CC_SIP_BIND); 0 — без SIP.",
)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Секунд на запуск.")
@pass_cli
def start(cli: CliContext, sip_port: int | None, timeout: float) -> None:
    """Запустить Asterisk и дождаться полной загрузки (уже запущен — код 0 и его pid)."""
    local = LocalAsterisk(cli.settings, sip_port=sip_port)
    try:
        status = local.start(timeout=timeout)
    except AsteriskAlreadyRunning as exc:
        # the state asked for is there: a unit's ExecStart or a second `make demo` goes on
        click.echo(f"Asterisk уже запущен (pid {exc.pid}). AMI: {_ami(cli)}.")
        click.echo(f"Каталог: {local.runtime_dir}; остановить: contact-center asterisk stop")
        raise click.exceptions.Exit(EXIT_OK) from None
    except AsteriskError as exc:
        fail(f"Не удалось запустить Asterisk: {exc}", EXIT_FAILURE)
    sip = f"SIP: {local.sip_bind}:{local.sip_port}/udp" if local.sip_port else "SIP: выключен"
    click.echo(f"Asterisk запущен (pid {status.pid}). AMI: {_ami(cli)}, {sip}.")
    click.echo(f"Каталог: {local.runtime_dir}, журнал: {local.log_file}")


@group.command("reload")
@pass_cli
def reload(cli: CliContext) -> None:
    """Перечитать конфигурацию (asterisk_conf/, телефоны, транк) без обрыва звонков."""
    local = LocalAsterisk(cli.settings)
    if not local.status(with_version=False).running:
        click.echo(f"Asterisk не запущен ({local.runtime_dir}): нечего перечитывать.", err=True)
        raise click.exceptions.Exit(EXIT_NOT_RUNNING)
    try:
        done = local.reload()
    except (AsteriskError, OSError) as exc:
        fail(f"Не удалось перечитать конфигурацию: {exc}", EXIT_FAILURE)
    click.echo(f"Конфигурация записана в {local.etc_dir} и перечитана: " + "; ".join(done) + ".")


@group.command("stop")
@click.option("--timeout", type=float, default=15.0, show_default=True, help="Секунд на остановку.")
@pass_cli
def stop(cli: CliContext, timeout: float) -> None:
    """Остановить локальный Asterisk."""
    local = LocalAsterisk(cli.settings)
    try:
        stopped = local.stop(timeout=timeout)
    except (AsteriskError, OSError) as exc:
        fail(f"Не удалось остановить Asterisk: {exc}", EXIT_FAILURE)
    if stopped:
        click.echo("Asterisk остановлен.")
    else:
        click.echo("Asterisk не был запущен.")
    raise click.exceptions.Exit(EXIT_OK)


@group.command("status")
@pass_cli
def status(cli: CliContext) -> None:
    """Показать, работает ли Asterisk (код выхода 0 — работает, 3 — нет)."""
    local = LocalAsterisk(cli.settings)
    state = local.status()
    if not state.running:
        click.echo(f"Asterisk не запущен ({local.runtime_dir}).")
        raise click.exceptions.Exit(EXIT_NOT_RUNNING)
    click.echo(f"Asterisk работает (pid {state.pid}). AMI: {_ami(cli)}")
    if state.version:
        click.echo(state.version)
    click.echo(f"Каталог: {local.runtime_dir}")


def _ami(cli: CliContext) -> str:
    s = cli.settings
    return f"{s.ami_host}:{s.ami_port}, пользователь {s.ami_user}"


@group.command("render-config")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--sip-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="UDP-порт SIP (по умолчанию CC_SIP_PORT).",
)
@click.option(
    "--sim/--no-sim",
    default=True,
    show_default=True,
    help="Включить имитацию абонентов, операторов и звонящих.",
)
@pass_cli
def render_config(cli: CliContext, dest: Path, sip_port: int | None, sim: bool) -> None:
    """Записать конфигурацию Asterisk для контейнера (монтировать в /etc/asterisk)."""
    try:
        written = render_for_container(cli.settings, dest, sip_port=sip_port, include_sim=sim)
    except (AsteriskError, OSError) as exc:
        fail(f"Не удалось записать конфигурацию: {exc}", EXIT_FAILURE)
    click.echo(f"Записано файлов: {len(written)} в {dest}")

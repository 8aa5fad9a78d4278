"""docker-compose.yml cannot run here (no Docker engine): check its parts against the code."""

from dataclasses import fields
from pathlib import Path

import yaml
from click.testing import CliRunner

from contact_center.cli import main
from contact_center.settings import PROJECT_ROOT, Settings

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
KNOWN = {"CC_" + f.name.upper() for f in fields(Settings)}


def test_every_cc_variable_is_a_setting() -> None:
    env = SERVICES["service"]["environment"]
    names = [k for k in env if k.startswith("CC_")]
    assert names
    assert sorted(set(names) - KNOWN) == []
    example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    for line in example.splitlines():
        key = line.split("=", 1)[0]
        if key.startswith("CC_"):
            assert key in KNOWN


def test_asterisk_gets_the_rendered_config_and_sounds_where_the_renderer_says() -> None:
    asterisk = SERVICES["asterisk"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in asterisk["volumes"]}
    assert mounts["/etc/asterisk"] == "asterisk-etc"
    assert mounts["/var/lib/asterisk/sounds/cc"] == "sounds"
    assert "asterisk-etc:/rendered" in SERVICES["asterisk-config"]["volumes"]
    service_mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["service"]["volumes"]}
    assert service_mounts["/app/sounds"] == "sounds"
    assert SERVICES["service"]["environment"]["CC_SOUNDS_DIR"] == "/app/sounds"
    # AMI must stay on the compose network
    assert not any("5038" in str(p) for p in asterisk.get("ports", []))


def test_the_config_step_command_exists_and_renders(tmp_path: Path) -> None:
    command = SERVICES["asterisk-config"]["command"][-1]
    assert "contact-center asterisk render-config /rendered" in command
    result = CliRunner().invoke(
        main,
        ["asterisk", "render-config", str(tmp_path / "etc"), "--sim"],
        env={"CC_AMI_SECRET": "compose-test-secret", "CC_AMI_HOST": "asterisk"},
    )
    assert result.exit_code == 0, result.output
    manager = (tmp_path / "etc" / "manager.conf").read_text(encoding="utf-8")
    assert "secret = compose-test-secret" in manager
    assert "bindaddr = 0.0.0.0" in manager
    live = [ln for ln in manager.splitlines() if not ln.lstrip().startswith(";")]
    assert [ln for ln in live if "@AMI_" in ln] == []


def test_image_entrypoint_uses_existing_commands() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    for sub in ("db upgrade", "sounds build", "serve"):
        assert f"contact-center {sub}" in dockerfile
        args = [*sub.split(), "--help"]
        assert CliRunner().invoke(main, args).exit_code == 0, sub


def test_unsubscribe_endpoint_is_reachable_and_signed_with_a_real_secret() -> None:
    service = SERVICES["service"]
    env = service["environment"]
    assert env["CC_HTTP_HOST"] == "0.0.0.0"
    assert f"{env['CC_HTTP_PORT']}:{env['CC_HTTP_PORT']}" in service["ports"]
    # no default: compose refuses to start without a secret of the admin's own
    assert ":?" in env["CC_UNSUBSCRIBE_SECRET"]


def test_the_rtp_range_published_is_the_one_rtp_conf_gets(tmp_path: Path) -> None:
    rtp = "${CC_RTP_PORTS:-" + Settings().rtp_ports + "}"
    assert f"{rtp}:{rtp}/udp" in SERVICES["asterisk"]["ports"]
    env = SERVICES["asterisk-config"]["environment"]
    assert env["CC_RTP_PORTS"] == rtp
    assert env["CC_SIP_PORT"] == "${CC_SIP_PORT:-5060}"
    assert "${CC_SIP_PORT:-5060}:${CC_SIP_PORT:-5060}/udp" in SERVICES["asterisk"]["ports"]
    # what the renderer does with those values, as compose hands them over from .env
    dotenv = dict(
        line.split("=", 1)
        for line in (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    result = CliRunner().invoke(
        main,
        ["asterisk", "render-config", str(tmp_path), "--no-sim"],
        env={
            "CC_AMI_SECRET": "x",
            "CC_RTP_PORTS": dotenv["CC_RTP_PORTS"],
            "CC_SIP_PORT": dotenv["CC_SIP_PORT"],
            "CC_SIP_EXTERNAL_ADDRESS": dotenv["CC_SIP_EXTERNAL_ADDRESS"],
            "CC_SIP_LOCAL_NET": "172.16.0.0/12",
        },
    )
    assert result.exit_code == 0, result.output
    first, last = dotenv["CC_RTP_PORTS"].split("-")
    rtp_conf = (tmp_path / "rtp.conf").read_text(encoding="utf-8")
    assert f"rtpstart = {first}" in rtp_conf and f"rtpend = {last}" in rtp_conf
    pjsip = (tmp_path / "pjsip.conf").read_text(encoding="utf-8")
    assert f"external_media_address = {dotenv['CC_SIP_EXTERNAL_ADDRESS']}" in pjsip
    assert "local_net = 172.16.0.0/12" in pjsip
    assert f"bind = 0.0.0.0:{dotenv['CC_SIP_PORT']}" in pjsip


def test_nat_addresses_come_from_env_and_the_external_one_is_required() -> None:
    env = SERVICES["asterisk-config"]["environment"]
    assert env["CC_SIP_EXTERNAL_ADDRESS"].startswith("${CC_SIP_EXTERNAL_ADDRESS:?")
    # the compose networks are Docker's 172.16.0.0/12: inside it no address is rewritten
    assert env["CC_SIP_LOCAL_NET"] == "${CC_SIP_LOCAL_NET:-172.16.0.0/12}"


def test_the_image_builds_the_prompts_into_the_folder_the_volume_starts_from() -> None:
    lines = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    build = next(
        i for i, ln in enumerate(lines) if ln.startswith("RUN contact-center sounds build")
    )
    sounds_env = next(i for i, ln in enumerate(lines) if "CC_SOUNDS_DIR=/app/sounds" in ln)
    user = next(i for i, ln in enumerate(lines) if ln.startswith("USER cc"))
    assert sounds_env < build and user < build  # built as the service's user, where it reads
    assert "sounds:/app/sounds" in SERVICES["service"]["volumes"]

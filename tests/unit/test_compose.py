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

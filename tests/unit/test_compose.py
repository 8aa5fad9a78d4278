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


def _dialer_nodes() -> list[str]:
    return sorted(
        name
        for name, svc in SERVICES.items()
        if "CC_HOTLINE_NODE" in (svc.get("environment") or {}) and not name.endswith("-config")
    )


def test_the_layout_has_a_hotline_node_several_dialer_nodes_and_one_database() -> None:
    hotline = SERVICES["service"]["environment"]
    assert hotline["CC_NODE"] == "hotline" and "CC_HOTLINE_NODE" not in hotline
    # the hotline node takes the node trunk from the compose networks, where the dialers are
    assert hotline["CC_DIALER_NODES"] == "${CC_DIALER_NODES:-172.16.0.0/12}"
    assert (
        SERVICES["asterisk-config"]["environment"]["CC_DIALER_NODES"]
        == (hotline["CC_DIALER_NODES"])
    )
    dialers = _dialer_nodes()
    assert len(dialers) >= 2
    names, asterisks, sip_ports, rtp = set(), set(), set(), set()
    for name in dialers:
        svc = SERVICES[name]
        env = svc["environment"]
        # one PostgreSQL shared by every worker
        assert env["CC_DATABASE_URL"] == hotline["CC_DATABASE_URL"]
        assert "@postgres:5432/" in env["CC_DATABASE_URL"]
        # its own Asterisk (its own AMI host, rendered from its own config step) and name
        ami = env["CC_AMI_HOST"]
        assert ami in SERVICES and ami != "asterisk"
        assert svc["depends_on"][ami]["condition"] == "service_started"
        config = SERVICES[f"{ami}-config"]
        assert config["environment"] == env
        etc = next(v.split(":")[0] for v in config["volumes"] if v.endswith(":/rendered"))
        assert f"{etc}:/etc/asterisk:ro" in SERVICES[ami]["volumes"]
        assert etc in COMPOSE["volumes"]
        names.add(env["CC_NODE"])
        asterisks.add(ami)
        sip_ports.add(env["CC_SIP_PORT"])
        rtp.add(env["CC_RTP_PORTS"])
        port = env["CC_SIP_PORT"]
        assert f"{port}:{port}/udp" in SERVICES[ami]["ports"]
        assert not any("5038" in str(p) for p in SERVICES[ami]["ports"])
        # the node trunk points at the hotline node's Asterisk, on the hotline's SIP port
        assert env["CC_HOTLINE_NODE"] == "asterisk:${CC_SIP_PORT:-5060}"
        # the operators are the hotline node's: none simulated here, and one migrator
        assert env["CC_SIM_OPERATORS"] == "0"
        assert "db upgrade" not in " ".join(svc["command"])
        assert svc["depends_on"]["service"]["condition"] == "service_healthy"
        # the same password file on every node
        assert env["CC_ASTERISK_SECRETS_DIR"] == "/secrets"
        assert "./secrets:/secrets:ro" in config["volumes"]
    assert len(names) == len(asterisks) == len(sip_ports) == len(dialers)
    assert "hotline" not in names and "5060" not in sip_ports
    assert "./secrets:/secrets:ro" in SERVICES["asterisk-config"]["volumes"]
    assert "healthcheck" in SERVICES["service"]


def test_the_node_trunk_renders_on_both_ends(tmp_path: Path) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "node_trunk.secret").write_text("0123456789abcdef0123\n")
    dialer = SERVICES[_dialer_nodes()[0]]["environment"]
    hotline = SERVICES["service"]["environment"]
    rendered = {}
    for name, env in (
        ("hotline", {"CC_DIALER_NODES": "172.16.0.0/12"}),
        ("dialer", {"CC_HOTLINE_NODE": "asterisk:5060", "CC_SIP_PORT": dialer["CC_SIP_PORT"]}),
        ("single", {}),
    ):
        result = CliRunner().invoke(
            main,
            ["asterisk", "render-config", str(tmp_path / name), "--no-sim"],
            env={"CC_AMI_SECRET": "x", "CC_ASTERISK_SECRETS_DIR": str(secrets_dir), **env},
        )
        assert result.exit_code == 0, result.output
        rendered[name] = (tmp_path / name / "pjsip.conf").read_text(encoding="utf-8")
    assert hotline["CC_DIALER_NODES"].endswith("172.16.0.0/12}")
    assert "[dialer-nodes](node-trunk-endpoint)" in rendered["hotline"]
    assert "match = 172.16.0.0/12" in rendered["hotline"]
    assert "password = 0123456789abcdef0123" in rendered["hotline"]
    assert "[hotline-node]" not in rendered["hotline"]
    assert "contact = sip:asterisk:5060" in rendered["dialer"]
    assert "password = 0123456789abcdef0123" in rendered["dialer"]
    assert "[dialer-nodes]" not in rendered["dialer"]
    # one node, nothing configured: no node trunk and no password needed
    assert "[hotline-node]" not in rendered["single"] and "[dialer-nodes]" not in rendered["single"]

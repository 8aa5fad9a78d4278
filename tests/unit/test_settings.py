from pathlib import Path

import pytest

from contact_center.settings import Settings, SettingsError, load_settings, mask_url_password


def test_defaults_run_on_one_machine() -> None:
    s = load_settings(environ={})
    assert s.database_url.startswith("sqlite+aiosqlite:///")
    assert s.database_url.endswith("var/contact_center.db")
    assert (s.ami_host, s.ami_port) == ("127.0.0.1", 5038)
    assert s.timezone == "Asia/Krasnoyarsk"
    assert s.dial_template == "PJSIP/{number}@trunk"


def test_environment_overrides_toml_file(tmp_path: Path) -> None:
    cfg = tmp_path / "cc.toml"
    cfg.write_text('ami_port = 6000\nami_host = "10.0.0.5"\n', encoding="utf-8")
    s = load_settings(environ={"CC_AMI_PORT": "6001"}, config_file=cfg)
    assert s.ami_port == 6001
    assert s.ami_host == "10.0.0.5"


def test_config_file_from_cc_config(tmp_path: Path) -> None:
    cfg = tmp_path / "cc.toml"
    cfg.write_text('dial_template = "Local/{number}@sim-customers"\n', encoding="utf-8")
    s = load_settings(environ={"CC_CONFIG": str(cfg)})
    assert s.dial_template == "Local/{number}@sim-customers"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"CC_AMI_PORT": "abc"}, "CC_AMI_PORT"),
        ({"CC_AMI_PORT": "70000"}, "CC_AMI_PORT"),
        ({"CC_TIMEZONE": "Mars/Olympus"}, "CC_TIMEZONE"),
        ({"CC_DIAL_TEMPLATE": "PJSIP/trunk"}, "{number}"),
        ({"CC_DIAL_TEMPLATE": "PJSIP/{number}@trunk&PJSIP/{x}"}, "CC_DIAL_TEMPLATE"),
        ({"CC_CALLER_ID": "Anonymous"}, "CC_CALLER_ID"),
        ({"CC_CALLER_ID": "7391<44>"}, "CC_CALLER_ID"),
        ({"CC_CALLER_ID": "12"}, "CC_CALLER_ID"),
        ({"CC_CALLER_NAME": 'Сети" <1>'}, "CC_CALLER_NAME"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment.replace("{", r"\{").replace("}", r"\}")):
        load_settings(environ=env)


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "cc.toml"
    cfg.write_text("ami_prot = 1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="ami_prot"):
        load_settings(environ={}, config_file=cfg)


def test_secrets_are_never_shown() -> None:
    s = Settings(ami_secret="s3cr3t", database_url="postgresql+asyncpg://cc:pa55@db:5432/cc")
    shown = s.public_items()
    assert "s3cr3t" not in repr(s)
    assert shown["ami_secret"] == "***"
    assert "pa55" not in shown["database_url"]
    assert mask_url_password("postgresql://u:p@h/d") == "postgresql://u:***@h/d"
    assert mask_url_password("sqlite+aiosqlite:///x.db") == "sqlite+aiosqlite:///x.db"


def test_caller_id_is_digits_with_an_optional_plus() -> None:
    assert load_settings(environ={"CC_CALLER_ID": "+73914400000"}).caller_id == "+73914400000"
    assert load_settings(environ={}).caller_id.isdigit()

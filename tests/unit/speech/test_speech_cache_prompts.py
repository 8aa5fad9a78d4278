"""Cache keys, Asterisk playback names and the prompts file."""

from __future__ import annotations

from pathlib import Path

import pytest

from contact_center.speech.cache import SoundCache, asterisk_name, cache_key, normalize_text
from contact_center.speech.prompts import PromptCatalog, PromptError, prompt_path


def test_cache_key_depends_on_text_voice_rate_only() -> None:
    key = cache_key("одна тысяча рублей", "ru", 150)
    assert key == cache_key("  одна   тысяча\nрублей ", "ru", 150)
    assert key != cache_key("одна тысяча рублей", "ru", 160)
    assert key != cache_key("одна тысяча рублей", "ru-lv", 150)
    assert key != cache_key("одна тысяча рубль", "ru", 150)
    assert len(key) == 32 and int(key, 16) >= 0


def test_cache_path_layout(tmp_path: Path) -> None:
    cache = SoundCache(tmp_path, "ru", 150)
    path = cache.path("привет")
    key = cache.key("привет")
    assert path == tmp_path / "cache" / key[:2] / f"{key}.wav"
    assert cache.lookup("привет") is None
    path.parent.mkdir(parents=True)
    path.write_bytes(b"RIFF")
    assert cache.lookup("привет") == path


def test_asterisk_name() -> None:
    sounds = Path("/srv/cc/sounds")
    path = sounds / "cache" / "ab" / "abcdef.wav"
    assert asterisk_name(path, sounds) == "cc/cache/ab/abcdef"
    assert asterisk_name(path, sounds, prefix="custom/") == "custom/cache/ab/abcdef"
    assert asterisk_name(path, sounds, prefix="") == "cache/ab/abcdef"
    assert (
        asterisk_name(sounds / "ru" / "greeting.wav", sounds, prefix="/var/lib/asterisk/sounds/cc")
        == "/var/lib/asterisk/sounds/cc/ru/greeting"
    )
    with pytest.raises(ValueError):
        asterisk_name(Path("/tmp/x.wav"), sounds)


def test_asterisk_name_relative_and_absolute_mix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sounds").mkdir()
    assert asterisk_name(tmp_path / "sounds" / "ru" / "x.wav", Path("sounds")) == "cc/ru/x"


def test_normalize_text() -> None:
    assert normalize_text(" a \t b\n") == "a b"


def test_packaged_prompts() -> None:
    catalog = PromptCatalog.load()
    for name in (
        "recording_warning",
        "greeting",
        "out_of_hours",
        "press_0_operator",
        "press_1_confirm",
        "goodbye",
    ):
        assert name in catalog
        assert catalog.text(name).strip()
    assert next(iter(catalog)) == "recording_warning"
    # texts are for a synthesizer: numbers in words
    assert not any(ch.isdigit() for name in catalog for ch in catalog.text(name))


def test_prompt_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text('[prompts]\nBad = "x"\n', encoding="utf-8")
    with pytest.raises(PromptError):
        PromptCatalog.load(bad)
    bad.write_text('[prompts]\nok = ""\n', encoding="utf-8")
    with pytest.raises(PromptError):
        PromptCatalog.load(bad)
    bad.write_text("prompts = 1\n", encoding="utf-8")
    with pytest.raises(PromptError):
        PromptCatalog.load(bad)
    bad.write_text("[prompts\n", encoding="utf-8")
    with pytest.raises(PromptError):
        PromptCatalog.load(bad)
    with pytest.raises(PromptError):
        PromptCatalog.load(tmp_path / "missing.toml")
    with pytest.raises(PromptError):
        PromptCatalog.load().text("no_such_prompt")


def test_prompt_path(tmp_path: Path) -> None:
    assert prompt_path(tmp_path, "greeting") == tmp_path / "ru" / "greeting.wav"
    with pytest.raises(PromptError):
        prompt_path(tmp_path, "../etc/passwd")

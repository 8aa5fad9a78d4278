"""Fixed prompts: names and texts from one TOML file, files under ``<sounds_dir>/ru/``."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from contact_center.speech.cache import PROMPTS_DIRNAME, SOUND_SUFFIX

PROMPTS_FILE = Path(__file__).with_name("prompts.toml")
PROMPT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class PromptError(ValueError):
    """A prompts file that cannot be used, or an unknown prompt name."""


@dataclass(frozen=True, slots=True)
class PromptCatalog:
    """Prompt name -> text, in file order."""

    texts: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # `load` passes a TOML table straight in: its values are not known to be str yet
        texts: Mapping[str, object] = self.texts
        for name, text in texts.items():
            if not PROMPT_NAME_RE.match(name):
                raise PromptError(f"bad prompt name {name!r} (lower case latin, digits, '_')")
            if not isinstance(text, str) or not text.strip():
                raise PromptError(f"prompt {name!r} has no text")
        object.__setattr__(self, "texts", MappingProxyType(dict(self.texts)))

    @classmethod
    def load(cls, path: Path | None = None) -> PromptCatalog:
        """Read ``[prompts] name = "text"`` from ``path`` (default: the packaged file)."""
        source = path or PROMPTS_FILE
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PromptError(f"prompts file not found: {source}") from None
        except tomllib.TOMLDecodeError as exc:
            raise PromptError(f"{source}: {exc}") from None
        prompts = data.get("prompts")
        if not isinstance(prompts, dict):
            raise PromptError(f"{source}: no [prompts] table")
        return cls(prompts)

    def text(self, name: str) -> str:
        try:
            return self.texts[name]
        except KeyError:
            raise PromptError(f"unknown prompt {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.texts

    def __iter__(self) -> Iterator[str]:
        return iter(self.texts)

    def __len__(self) -> int:
        return len(self.texts)


def prompt_path(sounds_dir: Path, name: str) -> Path:
    """Where the built prompt ``name`` lives: ``<sounds_dir>/ru/<name>.wav``."""
    if not PROMPT_NAME_RE.match(name):
        raise PromptError(f"bad prompt name {name!r}")
    return sounds_dir / PROMPTS_DIRNAME / f"{name}{SOUND_SUFFIX}"

"""Reading deploy/systemd/*.service the way a test may run them: the command lines as
written, with only the paths that exist on a server and not here swapped (explicitly)."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from contact_center.settings import PROJECT_ROOT

UNITS_DIR = PROJECT_ROOT / "deploy" / "systemd"
# the one binary path the units name, and this test run's equivalent
INSTALLED_CLI = "/opt/contact-center/.venv/bin/contact-center"
VENV_CLI = str(Path(sys.executable).parent / "contact-center")
INSTALLED_CONFIG = "/etc/contact-center/contact-center.toml"


@dataclass(frozen=True)
class Unit:
    sections: dict[str, dict[str, list[str]]]

    def get(self, section: str, key: str) -> list[str]:
        return self.sections.get(section, {}).get(key, [])

    def one(self, section: str, key: str) -> str:
        (value,) = self.get(section, key)
        return value

    def command(self, key: str) -> list[str]:
        """`key` (ExecStart...) split as systemd does, the installed CLI replaced by ours."""
        argv = shlex.split(self.one("Service", key))
        assert argv[0] == INSTALLED_CLI, f"{key} names {argv[0]}, not the installed CLI"
        return [VENV_CLI, *argv[1:]]

    def environment(self, config: Path) -> dict[str, str]:
        """The unit's Environment=, with the installed settings file swapped for `config`."""
        env: dict[str, str] = {}
        for line in self.get("Service", "Environment"):
            for item in shlex.split(line):
                key, _, value = item.partition("=")
                env[key] = str(config) if value == INSTALLED_CONFIG else value
        return env


def read_unit(name: str) -> Unit:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in (UNITS_DIR / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return Unit(sections)

"""Every application our dialplan names is one the Asterisk we start has loaded.

`modules.conf` loads an explicit list (`autoload = no`), and a dialplan line naming an
application that is not loaded fails only when a call reaches it: Asterisk logs "No
application" and hangs the call up (an `ExecIf` did that once, `app_exec` not being
loaded). Read from the running Asterisk (`core show applications`), not from a table of
ours that could be as wrong as the dialplan."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.conftest import AsteriskFixture

pytestmark = pytest.mark.integration

CONF = Path(__file__).resolve().parents[3] / "asterisk_conf"
# `exten => ext,prio(label),App(...)` and `same => prio(label),App(...)`
_LINE = re.compile(
    r"^\s*(?:exten\s*=>\s*[^,]+,|same\s*=>\s*)\s*[^,]+?\s*,\s*([A-Za-z][A-Za-z0-9_]*)\s*(?:\(|$)"
)
# an application run by another one: ExecIf(cond?App(...)), GotoIf has labels only
_INNER = re.compile(r"\?\s*([A-Za-z][A-Za-z0-9_]*)\(")


def dialplan_applications(*files: Path) -> dict[str, str]:
    """Application name (lower case) -> the first `file:line` that names it."""
    found: dict[str, str] = {}
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            text = line.split(";", 1)[0]
            match = _LINE.match(text)
            if match is None:
                continue
            names = [match.group(1)]
            if names[0].lower() == "execif":
                names += _INNER.findall(text)
            for name in names:
                found.setdefault(name.lower(), f"{path.name}:{number}")
    return found


def test_the_parser_reads_both_line_forms() -> None:
    sample = CONF / "extensions.conf"
    apps = dialplan_applications(sample)
    # a few our dialplan is known to use, in both forms
    assert {"set", "gotoif", "agi", "controlplayback", "mixmonitor", "userevent"} <= set(apps)


def test_every_dialplan_application_is_loaded(asterisk: AsteriskFixture) -> None:
    used = dialplan_applications(CONF / "extensions.conf", CONF / "sim" / "extensions_sim.conf")
    listing = asterisk.local.rx("core show applications")
    loaded = {
        m.group(1).lower()
        for m in re.finditer(r"^\s*([A-Za-z][A-Za-z0-9_]*):", listing, flags=re.MULTILINE)
    }
    assert len(loaded) > 20, listing
    missing = {name: where for name, where in used.items() if name not in loaded}
    assert missing == {}

"""Fixtures shared by every kind of test: the session's one real Asterisk (integration and
end-to-end tests alike use the same instance)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from contact_center.devtools.local_asterisk import LocalAsterisk
from tests.integration.conftest import AsteriskFixture, asterisk_settings, short_runtime_dir


@pytest.fixture(scope="session")
def asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskFixture]:
    """The session's Asterisk: `.settings` (AMI port, secret...) and `.local` (LocalAsterisk)."""
    settings = asterisk_settings(short_runtime_dir(tmp_path_factory, "ast"))
    local = LocalAsterisk(settings, sip_port=0)
    binary = settings.asterisk_binary
    if not (
        any(os.access(Path(d) / binary, os.X_OK) for d in os.environ.get("PATH", "").split(":"))
        or os.access("/usr/sbin/asterisk", os.X_OK)
    ):
        pytest.fail("Asterisk is not installed: run `sudo scripts/install-asterisk`")
    local.start(timeout=30)
    try:
        yield AsteriskFixture(settings=settings, local=local)
    finally:
        local.stop(timeout=15)

"""The autoinformer's part: an e-mail-only part (`phone=False`) runs its mailer without a
dialer, so it needs no Asterisk (the e-mail benchmark runs it that way)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from autoinformer.plugin import Autoinformer, AutoinformerPlugin
from contact_center.app import build_app
from contact_center.settings import Settings
from contact_center.storage import migrate


async def test_an_email_only_part_starts_its_mailer_and_no_dialer(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'mail.db'}"
    plugin = AutoinformerPlugin(http=False, phone=False)
    await asyncio.to_thread(migrate.upgrade, url, [plugin])
    async with build_app(Settings(database_url=url), plugins=[plugin]) as app:
        part = app.part(Autoinformer)
        await app.start_parts()
        try:
            assert part.mailer is not None
            assert part.dialer is None
            assert not app.link.connected
        finally:
            await app.stop_parts()
        assert part.mailer is None

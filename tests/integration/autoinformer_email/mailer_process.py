"""A mailer alone in its own process, as `serve` runs it, for tests that kill it (SIGKILL).

python -m tests.integration.autoinformer_email.mailer_process DB_URL SMTP_PORT BATCH
"""

from __future__ import annotations

import asyncio
import sys

from autoinformer.campaigns.scenario_store import ScenarioStore
from autoinformer.email.book import LetterBook
from autoinformer.email.mailer import Mailer, MailerConfig
from autoinformer.phone.book import CallBook
from contact_center.clock import Clock
from contact_center.settings import Settings
from contact_center.storage.database import create_engine, session_factory


async def main(url: str, port: int, batch: int) -> None:
    settings = Settings(
        database_url=url, smtp_port=port, smtp_rate=0, unsubscribe_secret="test-secret-for-links"
    )
    sessions = session_factory(create_engine(url))
    mailer = Mailer(
        book=LetterBook(sessions, CallBook(sessions)),
        scenarios=ScenarioStore(sessions, None),
        settings=settings,
        clock=Clock(),
        config=MailerConfig(tick=0.05, batch=batch, sender={"local_hostname": "cc.test"}),
    )
    mailer.start()
    print("started", flush=True)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))

"""`serve` reports at INFO through the core's and every plugin's loggers (the autoinformer's
"campaign N finished" included), while libraries stay at WARNING."""

from __future__ import annotations

import logging

import pytest

from autoinformer.plugin import AutoinformerPlugin
from contact_center.cli.serve import service_loggers


def test_serve_logs_the_core_and_each_plugin_package() -> None:
    names = [logger.name for logger in service_loggers([AutoinformerPlugin()])]
    assert names == ["contact_center", "autoinformer"]


def test_a_campaign_line_of_the_autoinformer_reaches_the_log_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loggers = service_loggers([AutoinformerPlugin()])
    saved = [logger.level for logger in loggers]
    root = logging.getLogger()
    root_level = root.level
    try:
        root.setLevel(logging.WARNING)
        for logger in loggers:
            logger.setLevel(logging.INFO)
        # as `contact-center` configures it: the root at WARNING, its handler takes all
        logging.getLogger("autoinformer.dialer").info("campaign 7 finished")
        logging.getLogger("panoramisk.manager").info("library chatter")
        messages = [r.getMessage() for r in caplog.records]
        assert "campaign 7 finished" in messages
        assert "library chatter" not in messages
    finally:
        root.setLevel(root_level)
        for logger, level in zip(loggers, saved, strict=True):
            logger.setLevel(level)

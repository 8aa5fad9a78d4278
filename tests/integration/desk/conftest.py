"""The operator desk's telephony on the session's real Asterisk: the hotline fixtures
(an app per test on its own database, sim callers, sim operators) are shared."""

from tests.integration.hotline.conftest import built_prompts, hotline

__all__ = ["built_prompts", "hotline"]

"""README "Installing on a server": every contact-center command in it exists with the
options it is given, and every file it copies is in the repository."""

from __future__ import annotations

import re
import shlex

from click.testing import CliRunner

from contact_center.cli import main
from contact_center.settings import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Installing on a server", 1)[1].split("\n## ", 1)[0]
BLOCK = SECTION.split("```sh", 1)[1].split("```", 1)[0].replace("\\\n", " ")


def cli_invocations() -> list[list[str]]:
    calls = []
    for line in BLOCK.splitlines():
        words = shlex.split(line, comments=True)
        for i, word in enumerate(words):
            if word.endswith("bin/contact-center"):
                calls.append(words[i + 1 :])
    calls += [shlex.split(m) for m in re.findall(r"`contact-center ([a-z][^`]*)`", SECTION)]
    return calls


def test_every_command_of_the_install_path_exists_with_its_options() -> None:
    calls = cli_invocations()
    assert ["db", "upgrade"] in calls and ["sounds", "build"] in calls and ["doctor"] in calls
    runner = CliRunner()
    for args in calls:
        # options are checked by click before --help is honoured only if they come first:
        # parse the real arguments, stopping before the command runs
        words = [w for w in args if not w.startswith("-") or w.startswith("--")]
        command = main
        ctx = command.make_context("contact-center", list(words), resilient_parsing=True)
        with ctx:
            name, sub, rest = command.resolve_command(ctx, list(words))
            assert sub is not None, args
            while hasattr(sub, "resolve_command") and rest:
                sub_ctx = sub.make_context(name or "", list(rest), resilient_parsing=True)
                name, sub, rest = sub.resolve_command(sub_ctx, list(rest))
                assert sub is not None, args
            sub.make_context(name or "", list(rest))  # unknown options raise here
        assert runner.invoke(main, [*args[:2], "--help"]).exit_code == 0, args


def test_every_file_the_install_path_copies_is_in_the_repository() -> None:
    for path in re.findall(r"(?:deploy|asterisk_conf|scripts)/[\w./-]+", BLOCK):
        assert (PROJECT_ROOT / path).exists(), path

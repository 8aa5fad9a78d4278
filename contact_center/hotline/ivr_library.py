"""The IVR menus in force, read from `ivr_scripts/*.toml` (the rules live in `ivr`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from pathlib import Path

from contact_center.hotline import ivr as ivr_rules
from contact_center.hotline.exceptions import IvrError

log = logging.getLogger(__name__)


def read_scripts_dir(directory: Path) -> tuple[tuple[tuple[str, int, int], ...], dict[str, str]]:
    """(stamp, file name -> text) of the *.toml files; runs in a worker thread."""
    files: dict[str, str] = {}
    stamp: list[tuple[str, int, int]] = []
    if directory.is_dir():
        for path in sorted(directory.glob("*.toml")):
            try:
                st = path.stat()
                files[path.name] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                files[path.name] = f"\0unreadable: {exc}"
                continue
            stamp.append((path.name, st.st_mtime_ns, st.st_size))
    return tuple(stamp), files


class IvrLibrary:
    """The IVR menus in force: re-read when the files change; a broken file never replaces the
    last good version (nor does a set that fails as a whole)."""

    def __init__(self, directory: Path, prompts: Collection[str]) -> None:
        self.directory = Path(directory)
        self._prompts = frozenset(prompts)
        self.scripts: ivr_rules.ScriptSet = ivr_rules.BUILTIN
        self.last: ivr_rules.LoadResult | None = None
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._lock = asyncio.Lock()

    async def reload(self, *, force: bool = False) -> ivr_rules.LoadResult:
        async with self._lock:
            stamp, files = await asyncio.to_thread(read_scripts_dir, self.directory)
            if not force and stamp == self._stamp and self.last is not None:
                return self.last
            self._stamp = stamp
            result = self.check(files)
            if result.errors:
                for error in result.errors:
                    log.error("IVR script refused: %s", error)
                if result.refused:
                    log.error("IVR: the previous menus stay in force")
            elif self.last is not None:
                log.info("IVR menus reloaded: %s", ", ".join(sorted(result.scripts.menus)))
            self.scripts = result.scripts
            self.last = result
            return result

    def check(self, files: dict[str, str]) -> ivr_rules.LoadResult:
        previous = None if self.scripts.builtin else self.scripts
        unreadable = {k: v for k, v in files.items() if v.startswith("\0unreadable")}
        readable = {k: v for k, v in files.items() if k not in unreadable}
        result = ivr_rules.load_scripts(readable, prompts=self._prompts, previous=previous)
        if unreadable:
            extra = tuple(IvrError(k, "", "файл не читается") for k in unreadable)
            result = ivr_rules.LoadResult(
                result.scripts, extra + result.errors, result.kept, result.refused
            )
        return result

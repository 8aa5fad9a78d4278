"""serve's log: journald detection and format, the file for logrotate, masking."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from contact_center.logs import (
    JournalFormatter,
    LogSetupError,
    mask_personal_data,
    service_handler,
    under_journald,
)


def record(message: str, *args: object, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord("contact_center.x", level, __file__, 1, message, args, None)


def test_journald_is_recognised_only_when_stderr_is_the_stream_it_names(tmp_path: Path) -> None:
    with open(tmp_path / "stream", "wb") as stream, open(tmp_path / "other", "wb") as other:
        st = os.fstat(stream.fileno())
        env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        assert under_journald(env, stream.fileno())
        # a child that inherited the variable but writes elsewhere is not under journald
        assert not under_journald(env, other.fileno())
        assert not under_journald({}, stream.fileno())
        assert not under_journald({"JOURNAL_STREAM": "garbage"}, stream.fileno())


def test_journal_lines_carry_the_level_and_no_time() -> None:
    line = JournalFormatter().format(record("link down"))
    assert line == "<4>WARNING contact_center.x: link down"
    assert JournalFormatter().format(record("x", level=logging.ERROR)).startswith("<3>ERROR")


def test_the_log_file_survives_logrotate_moving_it(tmp_path: Path) -> None:
    path = tmp_path / "log" / "cc.log"
    handler = service_handler(str(path), {})
    try:
        handler.handle(record("first"))
        path.rename(tmp_path / "log" / "cc.log.1")  # what logrotate does
        handler.handle(record("second"))
    finally:
        handler.close()
    assert "first" in (tmp_path / "log" / "cc.log.1").read_text()
    text = path.read_text()
    assert "second" in text and "first" not in text
    assert text[:4].isdigit()  # a file keeps its own time stamps


def test_an_unwritable_log_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(LogSetupError, match="CC_LOG_FILE: нельзя писать"):
        service_handler(str(tmp_path / "file" / "cc.log"), {})


def test_phone_numbers_and_addresses_are_masked_but_ids_are_not() -> None:
    text = (
        "call to +79131234567 (Local/79131234567@sim-customers) ivanov@example.ru id 1717171717.12"
    )
    assert mask_personal_data(text) == (
        "call to +7********67 (Local/7********67@sim-customers) i***@example.ru id 1717171717.12"
    )


def test_the_handler_masks_what_slipped_through(tmp_path: Path) -> None:
    path = tmp_path / "cc.log"
    handler = service_handler(str(path), {})
    try:
        handler.handle(record("customer %s", "+79131234567"))
    finally:
        handler.close()
    assert "+7********67" in path.read_text() and "1234567" not in path.read_text()

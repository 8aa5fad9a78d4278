"""The AMI edge's pure parts: UTF-8 split across reads, header injection, AGI results."""

import asyncio
from typing import Any

import pytest

from contact_center.telephony._panoramisk import Manager, Message
from contact_center.telephony.agi import parse_agi_result
from contact_center.telephony.ami import _headers, _Utf8Protocol


class _Transport(asyncio.Transport):
    def write(self, data: bytes | bytearray | memoryview) -> None:  # pragma: no cover
        pass

    def close(self) -> None:  # pragma: no cover
        pass


def test_cyrillic_name_split_between_two_reads_arrives_whole() -> None:
    proto = _Utf8Protocol()
    proto.connection_made(_Transport())
    events: list[Message] = []
    # an unconnected Manager: the protocol only hands it events to dispatch
    manager = Manager()
    manager.register_event("*", lambda _manager, event: events.append(event))
    proto.factory = manager
    raw = "Event: Newchannel\r\nCallerIDName: Иванов\r\nUniqueid: 1.1\r\n\r\n".encode()
    cut = raw.index("Иванов".encode()) + 1  # in the middle of 'И'
    proto.data_received(raw[:cut])
    proto.data_received(raw[cut:])
    assert [e["CallerIDName"] for e in events] == ["Иванов"]


@pytest.mark.parametrize(
    "fields",
    [
        {"Channel": "Local/1@x\r\nAction: Originate"},
        {"Variable": ["A=1", "B=2\nAction: Command"]},
        {"Bad Header": "x"},
    ],
)
def test_header_injection_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        _headers("Originate", fields)


@pytest.mark.parametrize(
    ("raw", "code", "value", "data", "digit"),
    [
        ("200 result=48\n", 200, 48, "", "0"),
        ("200 result=0 endpos=10240\n", 200, 0, "", None),
        ("200 result=1 (Иванов)\n", 200, 1, "Иванов", "\x01"),
        ("200 result=123 (timeout)\n", 200, 123, "timeout", "{"),
        ("200 result=-1\n", 200, -1, "", None),
        ("510 Invalid or unknown command\n", 510, 0, "", None),
        ("511 Command Not Permitted on a dead channel or intercept routine\n", 511, 0, "", None),
    ],
)
def test_agi_results_are_parsed(
    raw: str, code: int, value: int, data: str, digit: str | None
) -> None:
    result = parse_agi_result(raw)
    assert result.code == code
    assert result.value == value
    assert result.data == data
    assert result.digit == digit

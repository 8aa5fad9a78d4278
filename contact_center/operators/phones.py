"""Whether an operator's phone can take calls: Asterisk's device state of the interface.

Asterisk answers DEVICE_STATE(<interface>) (func_devstate, read with AMI Getvar: the PJSIP
show actions need the `system` class, which our AMI user does not get) with:
INVALID for a name it does not know (no such PJSIP endpoint, no channel driver such as
chan_sip, a Local extension that does not exist), UNAVAILABLE for a PJSIP endpoint with no
reachable contact (not registered, or not answering its qualify), and NOT_INUSE, INUSE,
RINGING... for a phone that can be rung. Only PJSIP phones and the simulated world's Local
operators are queue members here.
"""

from __future__ import annotations

# channel drivers an operator's phone may use (Local: the simulated world, sim-operators)
PHONE_TECHNOLOGIES = ("PJSIP", "Local")
# device states in which a login is refused
REFUSED_STATES = frozenset({"INVALID", "UNAVAILABLE"})


def phone_refusal(interface: str, state: str) -> str | None:
    """Why `interface` in device `state` cannot be logged in (Russian), or None if it can."""
    tech, _, resource = interface.partition("/")
    known = {t.lower(): t for t in PHONE_TECHNOLOGIES}
    if tech.lower() not in known:
        hint = " (chan_sip не загружается: используйте PJSIP/...)" if tech.upper() == "SIP" else ""
        return (
            f"телефон {interface}: канал {tech} в этом Asterisk не используется{hint}; "
            "телефоны операторов подключаются по PJSIP, например PJSIP/op101"
        )
    state = state.strip().upper()
    if state not in REFUSED_STATES:
        return None
    if known[tech.lower()] == "Local":
        return f"телефон {interface}: в Asterisk нет такого внутреннего номера"
    endpoint = resource.split("/", 1)[0]
    if state == "INVALID":
        return (
            f"телефон {interface} неизвестен Asterisk: нет учётной записи «{endpoint}» "
            "в pjsip_operators.conf"
        )
    return (
        f"телефон {interface} не зарегистрирован в Asterisk (выключен или не в сети): "
        "включите телефон, проверьте его настройки и войдите снова"
    )

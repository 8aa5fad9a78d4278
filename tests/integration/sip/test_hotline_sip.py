"""A hotline call over real SIP: the carrier UA rings the hotline number on the trunk, hears
the recording warning, picks the operator with an RFC 4733 key, and talks with the
operator UA; each one's recording holds the other's tone."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from contact_center.hotline.flow import HotlineCall
from contact_center.hotline.models import Appeal
from tests.integration.sip.audio import only, read_samples, rms, tone_share
from tests.integration.sip.conftest import (
    CARRIER_TONE,
    HOTLINE_DID,
    OPERATOR,
    OPERATOR_TONE,
    SIP_MARKS,
    ServiceFactory,
    SipWorld,
    release_operator,
)
from tests.integration.waiting import wait_for

pytestmark = SIP_MARKS

# a tone heard through G.711 keeps nearly all of a block's energy; speech and noise do not
TONE_SHARE = 0.8
# RMS of 16-bit samples: our tones are sent at 16000 peak (RMS ~11300); silence is ~0
MIN_RMS = 500.0


async def test_hotline_call_reaches_the_operator_phone_with_audio_both_ways(
    sip_world: SipWorld, service: ServiceFactory
) -> None:
    carrier, operator = sip_world.carrier, sip_world.operator
    async with service() as s:
        app = s.app
        await app.operators.login("op1", f"PJSIP/{OPERATOR}")
        done: dict[str, HotlineCall] = {}
        app.hotline.on_call_finished.append(lambda c: done.__setitem__(c.uniqueid, c))
        seen_carrier, seen_operator = len(carrier.events), len(operator.events)

        await carrier.dial(f"sip:{HOTLINE_DID}@{sip_world.sip_uri_host}")
        answered = await carrier.wait_event("CALL_ESTABLISHED", 15, since=seen_carrier)

        async def taken() -> HotlineCall | None:
            return next(iter(app.hotline.calls.values()), None)

        call = await wait_for(taken, 10, "the hotline flow to take the call")
        # the key lands in the menu after the warning and the greeting (as the sim callers')
        await asyncio.sleep(max(0.0, answered.at + sip_world.menu_delay - time.monotonic()))
        await carrier.send_digits("0")
        picked = await operator.wait_event("CALL_ESTABLISHED", 30, since=seen_operator)
        # both talk for a while, then the caller hangs up
        await asyncio.sleep(3)
        await carrier.hangup()
        await carrier.wait_event("CALL_CLOSED", 10, since=seen_carrier)
        await operator.wait_event("CALL_CLOSED", 10, since=seen_operator)

        async def ended() -> HotlineCall | None:
            return done.get(call.uniqueid)

        finished = await wait_for(ended, 15, "the hotline call to end")
        assert finished.appeal_id is not None

        async def closed() -> Appeal | None:
            assert finished.appeal_id is not None
            appeal = await app.hotline.appeals.get(finished.appeal_id)
            return appeal if appeal.ended_at is not None else None

        appeal = await wait_for(closed, 15, "the appeal to close")
        warning = await app.speech.prompt("recording_warning")
        await release_operator(app, "op1")

    # the warning came first, then the key (sent as RFC 4733) chose the operator
    plays = [e[1] for e in appeal.timeline if e[0] == "play"]
    assert plays[0] == warning
    assert "main:0=" in appeal.ivr_path, appeal.ivr_path
    assert appeal.operator_answered_at is not None and picked.at > answered.at
    warned = next(e[2] for e in appeal.timeline if e[:2] == ["state", "warned"])
    assert datetime.fromisoformat(warned) < appeal.operator_answered_at
    assert appeal.caller_number.endswith("9135550101")

    heard_by_operator = only(operator.recordings("dec"))
    heard_by_carrier = only(carrier.recordings("dec"))
    op_samples, op_rate = read_samples(heard_by_operator)
    ca_samples, ca_rate = read_samples(heard_by_carrier)
    figures = {
        "operator_rms": rms(op_samples),
        "carrier_rms": rms(ca_samples),
        "operator_hears_carrier_tone": tone_share(op_samples, op_rate, CARRIER_TONE),
        "carrier_hears_operator_tone": tone_share(ca_samples, ca_rate, OPERATOR_TONE),
    }
    print("SIP hotline figures:", figures)
    assert figures["operator_rms"] > MIN_RMS and figures["carrier_rms"] > MIN_RMS, figures
    assert figures["operator_hears_carrier_tone"] > TONE_SHARE, figures
    assert figures["carrier_hears_operator_tone"] > TONE_SHARE, figures

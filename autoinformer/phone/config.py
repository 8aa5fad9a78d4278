"""The dialer's settings and its counters."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

# what a transfer dials when the operators are on the hotline node (pjsip.conf `hotline-node`,
# the hotline node's [from-dialer-nodes] takes extension `operators`)
NODE_TRUNK_DIAL = "PJSIP/operators@hotline-node"


@dataclass(slots=True)
class DialerConfig:
    context: str = "autoinformer"
    queue: str = "operators"
    # seconds a transferred customer may wait in the queue before the call-back fallback
    queue_timeout: float = 30.0
    # the operators are on another Asterisk node (CC_HOTLINE_NODE): a transfer dials this
    # over the node trunk instead of queueing here ("": the queue on this node)
    operators_trunk: str = ""
    tick: float = 0.5
    # a call found live after a restart or a link drop that cannot be driven (answered,
    # not in AsyncAGI, not with an operator) is hung up this long after it was first seen;
    # the instant is stored with the attempt, so later starts do not push it back
    orphan_grace: float = 30.0
    # on stop, calls in progress get this long to finish before they are hung up
    drain_timeout: float = 5.0
    # seconds to wait for the AsyncAGI start of an answered call
    agi_timeout: float = 10.0
    # an answered call lasts at most this long (Settings.call_hard_limit: Asterisk's
    # TIMEOUT(absolute), lifted in the operators' queue)
    call_hard_limit: float = 900.0
    # a call in AGI nobody drives ends this long after its last renewal (Settings
    # .driven_lease, autoinformer/phone/lease.py); 0: off
    driven_lease: float = 60.0
    # the longest ring of any campaign (CampaignSpec allows 3..120 s)
    ring_timeout_max: float = 120.0
    # how often a worker looks for calls of workers that stopped (several workers)
    takeover_interval: float = 15.0
    # a dead worker's call on another node is taken once that node has not had its
    # channel at two looks in a row; if the node cannot be asked, this long after it
    # started (None: the longest ring + call_hard_limit + 30 s, by when that node's
    # Asterisk has ended it)
    takeover_after: float | None = None
    # campaign calls at once, every campaign together: the trunk's channels (0: no limit;
    # CC_DIAL_CHANNELS when this is 0)
    max_channels: int = 0
    # the call's dialplan plays the message itself (autoinformer/phone/played.py); off:
    # every part is an AGI command, as before (a comparison; an Asterisk without
    # app_controlplayback falls back to that by itself)
    dialplan_message: bool = True


@dataclass(slots=True)
class DialerStats:
    # passes over the campaigns done (the first after a start adopts the previous run's calls)
    passes: int = 0
    launched: int = 0
    finished: int = 0
    reconciled: int = 0
    orphans_hung_up: int = 0
    # previous runs' calls taken over at a start; calls that lost the AMI link mid-way
    adopted: int = 0
    recovered: int = 0
    # looks at a dead worker's open calls, each asking their nodes which are over there
    takeover_looks: int = 0
    # attempts that were not attempts (the Originate never reached Asterisk...)
    voided: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: defaultdict(int))

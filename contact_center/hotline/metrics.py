"""The hotline's Prometheus metrics on the web console's registry: calls in progress, callers
waiting, the queue wait time against the 40 s norm, the AMI link. Labels carry no phone,
name or e-mail (there are none at all)."""

from __future__ import annotations

from collections.abc import Callable, Sized

from prometheus_client import CollectorRegistry, Gauge, Histogram

from contact_center.hotline.board import BoardMetrics
from contact_center.hotline.norms import NORMS

# the 40 s norm is a bucket boundary: `le="40.0"` counts the callers answered within it
WAIT_BUCKETS = (5.0, 10.0, 20.0, 30.0, NORMS.wait, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)


class HotlineMetrics(BoardMetrics):
    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        calls: Sized,
        waiting: Callable[[], int],
        link_up: Callable[[], bool],
    ) -> None:
        self.calls_in_progress = Gauge(
            "cc_hotline_calls_in_progress",
            "Hotline calls in progress (arrived and not ended)",
            registry=registry,
        )
        self.calls_in_progress.set_function(lambda: float(len(calls)))
        self.callers_waiting = Gauge(
            "cc_hotline_callers_waiting",
            "Callers waiting in the operators' queue",
            registry=registry,
        )
        self.callers_waiting.set_function(lambda: float(waiting()))
        self.wait = Histogram(
            "cc_hotline_queue_wait_seconds",
            "Seconds a caller waited in the queue until an operator answered or they left",
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.link = Gauge(
            "cc_ami_link_up", "1 while the AMI link to Asterisk is up", registry=registry
        )
        self.link.set_function(lambda: 1.0 if link_up() else 0.0)

    def waited(self, seconds: float) -> None:
        self.wait.observe(max(0.0, seconds))

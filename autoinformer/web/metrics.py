"""The autoinformer's Prometheus metrics on the console's registry: campaign contacts by
status (from the live progress) and SMTP results (from the mailer's counts). Labels are a
campaign's number, a status or a result: never a phone, a name or an address."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class CampaignMetrics(Collector):
    def __init__(
        self,
        contacts: Callable[[], Mapping[int, Mapping[str, int]]],
        smtp_results: Callable[[], Mapping[str, int]],
    ) -> None:
        self._contacts = contacts
        self._smtp_results = smtp_results

    def describe(self) -> Iterator[Metric]:
        # nothing is read at registration: the series appear once campaigns run
        return iter(())

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "autoinformer_campaign_contacts",
            "Contacts of a campaign by status (waiting, calling or the final status)",
            labels=["campaign", "status"],
        )
        for campaign_id, counts in sorted(self._contacts().items()):
            for status, n in sorted(counts.items()):
                gauge.add_metric([str(campaign_id), status], n)
        yield gauge
        counter = CounterMetricFamily(
            "autoinformer_smtp_results",
            "Letters handed to the SMTP server by result (accepted, deferred, failed...)",
            labels=["result"],
        )
        for result, n in sorted(self._smtp_results().items()):
            counter.add_metric([result], n)
        yield counter

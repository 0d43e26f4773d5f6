"""GET /metrics: the Prometheus metrics of `csms.metrics`, in the text exposition format.

Who may read them is the operator's choice (README, "Metrics"):

- CSMS_METRICS=false: /metrics answers 404.
- CSMS_METRICS_ALLOWED_NETWORKS (default loopback only): a request from another address is
  refused with 403 (behind a proxy, serve with --proxy-headers so that the address is the
  scraper's, not the proxy's).
- CSMS_METRICS_TOKEN: when set, a request must also carry `Authorization: Bearer <token>`
  (else 401).

Values kept in memory by each process (handler queue, message-log backlog, webhook queue)
are sampled every CSMS_METRICS_SAMPLE_SECONDS by each serving process, and once more by
the process answering a scrape; backlogs stored in the database are counted at scrape time
(indexed counts, one query each per scrape, never per message). Under `serve --workers` the
workers share PROMETHEUS_MULTIPROC_DIR and any of them answers for all
(`server_runtime.workers`).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
from collections.abc import Iterator
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from csms import metrics

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def sample() -> None:
    """Copy this process's in-memory queue lengths into their gauges (no I/O)."""
    from integrations.delivery import worker
    from ocpp_router import dispatch
    from stations.message_log import message_log

    metrics.HANDLER_QUEUE.set(dispatch.pool().busy())
    metrics.MESSAGE_LOG_BACKLOG.set(message_log.backlog())
    metrics.WEBHOOK_QUEUE.set(worker.backlog())


async def sample_forever() -> None:
    """Run by every serving process (server_runtime.server) on its event loop."""
    interval = settings.CSMS_METRICS_SAMPLE_SECONDS
    while True:
        try:
            sample()
        except Exception:
            logger.exception("Sampling the metrics failed")
        await asyncio.sleep(interval)


class DatabaseCollector:
    """What waits in the database, counted when scraped."""

    def collect(self) -> Iterator[Metric]:
        from commands.choices import CallbackStatus, CommandStatus
        from commands.models import Command
        from integrations.choices import DeliveryStatus
        from integrations.models import EventDelivery

        up = GaugeMetricFamily(
            "csms_database_up", "Whether the database answered this scrape's counts (1 or 0)."
        )
        backlog = GaugeMetricFamily(
            "csms_webhook_backlog",
            "Deliveries stored and not yet delivered or given up: event webhooks and command "
            "callbacks.",
            labels=["kind"],
        )
        pending = GaugeMetricFamily(
            "csms_commands_pending", "Commands sent and awaiting the station's answer."
        )
        try:
            events = EventDelivery.objects.filter(status=DeliveryStatus.PENDING).count()
            callbacks = Command.objects.filter(callback_status=CallbackStatus.PENDING).count()
            awaiting = Command.objects.filter(status=CommandStatus.PENDING).count()
        except Exception as exc:
            logger.warning("Metrics: the database did not answer (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        backlog.add_metric(["event"], events)
        backlog.add_metric(["callback"], callbacks)
        pending.add_metric([], awaiting)
        yield from (up, backlog, pending)


class Scrape:
    """The collectors one scrape reads, as a registry for `generate_latest`."""

    def __init__(self, *collectors: Any) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


@cache
def scrape() -> Scrape:
    if os.environ.get(MULTIPROC_ENV):
        # Every process's values from their files (the process and GC collectors of the
        # default registry describe one process only, so they are left out).
        return Scrape(MultiProcessCollector(None), DatabaseCollector())
    return Scrape(REGISTRY, DatabaseCollector())


def allowed_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(
        ipaddress.ip_network(network, strict=False)
        for network in settings.CSMS_METRICS_ALLOWED_NETWORKS
        if network.lower() != "none"
    )


def _from_allowed_network(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in allowed_networks())


def refusal(request: HttpRequest) -> HttpResponse | None:
    """The answer refusing this request, or None when it may read the metrics."""
    if not settings.CSMS_METRICS:
        return HttpResponse("metrics are off (CSMS_METRICS)\n", status=404)
    address = request.META.get("REMOTE_ADDR") or ""
    if not _from_allowed_network(address):
        return HttpResponse(
            f"{address or 'this address'} is not in CSMS_METRICS_ALLOWED_NETWORKS\n", status=403
        )
    token = settings.CSMS_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            response = HttpResponse("a bearer token is required (CSMS_METRICS_TOKEN)\n", status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return None


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics of every serving process of this host, and the database's backlogs."""
    refused = refusal(request)
    if refused is not None:
        return refused
    sample()
    # The format the scraper asks for (Accept): Prometheus text 0.0.4 by default, or
    # OpenMetrics.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(scrape()), content_type=content_type)

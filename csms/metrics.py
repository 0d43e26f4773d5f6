"""The Prometheus metrics of the CSMS (prometheus-client), served at /metrics.

Every metric is defined here, so that one file lists what an operator can graph; the code
that counts imports the metric it counts and nothing else. The message path pays a
dictionary lookup and an increment per frame (no database query, no lock of ours): label
children are looked up once per (version, action, outcome) and kept.

Several processes (`serve --workers N`): the supervisor gives its workers a shared
PROMETHEUS_MULTIPROC_DIR before they import prometheus_client, so that every value lives in
a memory-mapped file of its process and whichever worker answers a scrape adds them all up
(prometheus_client's multiprocess mode). Gauges are summed over live processes (`livesum`).
Values read from the database (backlogs) are counted at scrape time by the process that
answers it (`server_runtime.metrics`).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

# --- stations and messages (the transport) -------------------------------------------------
STATIONS_CONNECTED = Gauge(
    "csms_stations_connected",
    "Station websockets open, by OCPP version and the serving node that holds them.",
    ["version", "node"],
    multiprocess_mode="livesum",
)
MESSAGES = Counter(
    "csms_ocpp_messages",
    "OCPP calls by direction (in: from stations, answered by us; out: ours, answered by "
    "stations), action and outcome (ok, a CALLERROR code, Timeout).",
    ["direction", "version", "action", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "csms_ocpp_handler_seconds",
    "Time from a station's CALL to our answer being ready (validation, handler, database).",
    ["version", "action"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HANDLER_QUEUE = Gauge(
    "csms_ocpp_handler_queue_depth",
    "Handler calls queued or running in the handler threads (CSMS_HANDLER_THREADS).",
    multiprocess_mode="livesum",
)
# --- what waits to be written or sent ---------------------------------------------------
MESSAGE_LOG_BACKLOG = Gauge(
    "csms_message_log_backlog",
    "Frames waiting in memory to be written to the message log.",
    multiprocess_mode="livesum",
)
MESSAGE_LOG_DROPPED = Counter(
    "csms_message_log_dropped",
    "Frames not logged because the message log backlog was full.",
)
COMMANDS = Counter(
    "csms_commands",
    "CSMS-initiated commands recorded as ended, by action and status (completed, error, timeout).",
    ["action", "status"],
)
WEBHOOK_QUEUE = Gauge(
    "csms_webhook_queue",
    "Events and frames waiting in memory to be matched to webhooks and stored.",
    multiprocess_mode="livesum",
)
WEBHOOK_FAILURES = Counter(
    "csms_webhook_failures",
    "Failed delivery attempts of event webhooks and command callbacks; final=true when the "
    "delivery is given up.",
    ["kind", "final"],
)

_messages: dict[tuple[str, str, str, str], Any] = {}
_latency: dict[tuple[str, str], Any] = {}


def message(direction: str, version: str, action: str, outcome: str) -> None:
    """Count one answered call (hot path: one dict lookup, one increment)."""
    key = (direction, version, action, outcome)
    child = _messages.get(key)
    if child is None:
        child = _messages[key] = MESSAGES.labels(direction, version, action, outcome)
    child.inc()


def handler_time(version: str, action: str, started: float) -> None:
    """Observe the time since `started` (time.perf_counter()) for a station call."""
    key = (version, action)
    child = _latency.get(key)
    if child is None:
        child = _latency[key] = HANDLER_SECONDS.labels(version, action)
    child.observe(time.perf_counter() - started)

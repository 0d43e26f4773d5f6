"""Domain events -> the channel layer group every dashboard socket listens on.

Events are delivered after commit in whatever thread committed: usually an OCPP handler
thread run through asgiref (where `async_to_sync` hops onto the server's event loop, which
owns the in-memory channel layer), sometimes the event loop's own thread, sometimes a plain
thread (a management command; with Redis, `async_to_sync` opens its own connection there).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from csms.events import Event

logger = logging.getLogger(__name__)

GROUP = "dashboard"
# Only what the dashboard shows: the message log would flood every open page.
FORWARDED_KINDS = frozenset(
    {
        "station.connected",
        "station.disconnected",
        "station.booted",
        "station.status_changed",
        "transaction.started",
        "transaction.updated",
        "transaction.ended",
    }
)

_tasks: set[asyncio.Task[Any]] = set()


def event_message(event: Event) -> dict[str, Any]:
    return {
        "type": "dashboard.event",
        "event": {
            "kind": event.kind,
            "station": event.station,
            "data": event.data,
            "timestamp": event.timestamp.isoformat(),
        },
    }


def forward_event(event: Event) -> None:
    """csms.events subscriber: hand the event to the dashboard group, never raising."""
    if event.kind not in FORWARDED_KINDS:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    message = event_message(event)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    try:
        if loop is not None:
            task = loop.create_task(layer.group_send(GROUP, message))
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)
        else:
            async_to_sync(layer.group_send)(GROUP, message)
    except Exception:
        logger.warning("Could not forward %s of %s to the dashboard", event.kind, event.station)

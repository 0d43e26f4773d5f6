"""Domain events -> the channel layer group every dashboard socket listens on.

Events are delivered after commit in whatever thread committed, usually an OCPP handler
thread that asgiref runs for the server's event loop. That loop owns the in-memory channel
layer (and the Redis layer's connections), so events are handed to it: queued without
blocking the handler, and sent in order by one task per loop. Code with no server loop
behind it (a management command) sends directly.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
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
# Events waiting for the layer beyond this are dropped (the layer is down or far too slow):
# a dashboard reloads its state when its socket reconnects.
MAX_BACKLOG = 10_000
# Events sent to the group in one message at most.
MAX_BATCH = 200
# After an event, wait this long for more before sending: under load, one group message
# (a Redis round trip and script run) carries a tenth of a second of events instead of the
# two or three that arrived during the previous send.
BATCH_SECONDS = 0.1


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


class LoopForwarder:
    """Sends messages to the dashboard group from one event loop, in the order submitted."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.queue: asyncio.Queue[dict[str, Any]] | None = None
        self.task: asyncio.Task[None] | None = None
        self.dropped = 0

    def submit(self, message: dict[str, Any]) -> None:
        """Thread-safe and non-blocking."""
        self.loop.call_soon_threadsafe(self._put, message)

    def _put(self, message: dict[str, Any]) -> None:
        if self.queue is None:
            self.queue = asyncio.Queue(MAX_BACKLOG)
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._drain())
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                logger.error("Dashboard event backlog is full: %d events dropped", self.dropped)

    async def _drain(self) -> None:
        assert self.queue is not None
        layer = get_channel_layer()
        while True:
            batch = [(await self.queue.get())["event"]]
            await asyncio.sleep(BATCH_SECONDS)
            # One group message per burst: a group send costs a Redis round trip and a
            # script run, and a reconnect storm publishes thousands of events a second.
            while len(batch) < MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait()["event"])
            message = {"type": "dashboard.events", "events": batch}
            try:
                await layer.group_send(GROUP, message)
            except Exception:
                logger.warning("Could not forward %d events to the dashboard", len(batch))


_forwarders: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopForwarder] = (
    weakref.WeakKeyDictionary()
)


# Marks a worker thread whose server loop has stopped (see `_server_loop`).
STOPPED = object()


def _server_loop() -> asyncio.AbstractEventLoop | object | None:
    """The event loop behind this thread: its own, or the one asgiref runs it for; STOPPED
    when that loop has stopped (the server is shutting down); None for plain threads."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is None:
        return None
    if loop.is_running() and not loop.is_closed():
        return loop
    return STOPPED


def forward_event(event: Event) -> None:
    """csms.events subscriber: hand the event to the dashboard group, never raising."""
    if event.kind not in FORWARDED_KINDS:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    message = event_message(event)
    loop = _server_loop()
    if loop is STOPPED:
        # A handler finishing while the server stops: nothing is left to show the event
        # to, and waiting for the stopped loop would hang the process's exit.
        logger.debug("Server stopping: %s of %s not forwarded", event.kind, event.station)
        return
    try:
        if loop is None:
            async_to_sync(layer.group_send)(GROUP, message)
            return
        assert isinstance(loop, asyncio.AbstractEventLoop)
        forwarder = _forwarders.get(loop)
        if forwarder is None:
            forwarder = _forwarders[loop] = LoopForwarder(loop)
        forwarder.submit(message)
    except Exception:
        logger.warning("Could not forward %s of %s to the dashboard", event.kind, event.station)

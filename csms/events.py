"""Domain events: what happened in the network, for whoever listens (live dashboard, webhooks).

Services publish after their database transaction commits; subscribers must return quickly
and never raise into the publisher (queue slow work). Kinds in use:

    station.connected  station.disconnected  station.booted  station.status_changed
    transaction.started  transaction.updated  transaction.ended
    security.event  ocpp.message  der.alarm  der.started  der.stopped

Each event carries the station identity and a JSON-serialisable `data` dict.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import SyncToAsync
from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    kind: str
    station: str
    data: dict[str, Any]
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


Subscriber = Callable[[Event], None]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Register `subscriber` for every event (usable as a decorator; call from AppConfig.ready)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def publish(kind: str, station: str, **data: Any) -> None:
    """Publish once the current database transaction commits (at once outside one)."""
    event = Event(kind=kind, station=station, data=data)
    transaction.on_commit(lambda: _deliver(event))


def _deliver(event: Event) -> None:
    for subscriber in list(_subscribers):
        try:
            subscriber(event)
        except Exception:
            logger.exception("Event subscriber %r failed on %s", subscriber, event.kind)


def server_loop() -> asyncio.AbstractEventLoop | None:
    """The server's event loop, from any of its threads (its own, or a handler thread that
    asgiref or the handler pool runs for it), if it is running; None outside a server (a
    management command), where a subscriber does its work at once or leaves it to a job."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is None or not loop.is_running() or loop.is_closed():
        return None
    return loop

"""Webhook settings held in memory, so the per-message path never queries the database.

The snapshot is reloaded (in a worker thread) when it is older than
CSMS_WEBHOOK_CONFIG_TTL seconds or after a webhook or subscription was saved or deleted
in this process; other processes pick a change up within the TTL.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

from csms.conf import hot_settings
from csms.outage import DATABASE, is_connection_error
from integrations import selectors


@dataclass(frozen=True)
class IntegratorTarget:
    name: str
    url: str
    actions: frozenset[str]
    versions: frozenset[str]
    auth_type: str
    username: str
    # Never in a log line or a traceback's locals.
    password: str = field(repr=False)
    token: str = field(repr=False)
    timeout: float
    on_failure: str

    def takes(self, version: str, action: str) -> bool:
        return (not self.versions or version in self.versions) and (
            not self.actions or action in self.actions
        )


@dataclass(frozen=True)
class Subscriber:
    pk: int
    url: str
    secret: str = field(repr=False)
    events: frozenset[str]
    ocpp_actions: frozenset[str]
    max_attempts: int
    timeout: float


@dataclass(frozen=True)
class Snapshot:
    integrators: tuple[IntegratorTarget, ...] = ()
    subscribers: tuple[Subscriber, ...] = ()
    # Actions of "ocpp.message" subscriptions: the message sink's cheap filter.
    message_actions: frozenset[str] = field(default_factory=frozenset)
    loaded_at: float = float("-inf")

    def integrator_for(self, version: str, action: str) -> IntegratorTarget | None:
        for target in self.integrators:
            if target.takes(version, action):
                return target
        return None

    def subscribers_of(self, kind: str, action: str = "") -> list[Subscriber]:
        return [
            s
            for s in self.subscribers
            if kind in s.events and (kind != "ocpp.message" or action in s.ocpp_actions)
        ]


_snapshot = Snapshot()
_lock = threading.Lock()
# One reload at a time: when the snapshot expires under load, the stations that find it
# stale wait for the one reload in progress instead of each querying the database.
_refresh_lock = threading.Lock()


def load() -> Snapshot:
    """Read the enabled webhooks from the database (blocking: call from a thread)."""
    integrators = tuple(
        IntegratorTarget(
            name=w.name,
            url=w.url,
            actions=frozenset(w.actions or ()),
            versions=frozenset(w.versions or ()),
            auth_type=w.auth_type,
            username=w.username,
            password=w.password,
            token=w.token,
            timeout=w.timeout,
            on_failure=w.on_failure,
        )
        for w in selectors.integrator_webhooks_enabled()
    )
    subscribers = tuple(
        Subscriber(
            pk=s.pk,
            url=s.url,
            secret=s.secret,
            events=frozenset(s.events or ()),
            ocpp_actions=frozenset(s.ocpp_actions or ()),
            max_attempts=s.max_attempts,
            timeout=s.timeout,
        )
        for s in selectors.event_subscriptions_enabled()
    )
    message_actions = frozenset(
        action for s in subscribers if "ocpp.message" in s.events for action in s.ocpp_actions
    )
    return Snapshot(integrators, subscribers, message_actions, time.monotonic())


def current() -> Snapshot:
    """The snapshot as it is, fresh or not (never blocks)."""
    return _snapshot


def is_fresh() -> bool:
    return time.monotonic() - _snapshot.loaded_at < hot_settings.CSMS_WEBHOOK_CONFIG_TTL


# While the database is unreachable the last snapshot stays in use; reloading is tried again
# this many seconds later (not on every frame).
RELOAD_RETRY_SECONDS = 1.0


def refresh() -> Snapshot:
    """Reload unless fresh (blocking: call from a thread). While the database is down the
    snapshot loaded before stays in use: stations are answered as before the outage."""
    global _snapshot
    with _refresh_lock:
        if is_fresh():
            return _snapshot
        try:
            snapshot = load()
        except Exception as error:
            if not is_connection_error(error):
                raise
            DATABASE.failed(error, "integrations keep the configuration loaded before")
            retry_at = time.monotonic() + RELOAD_RETRY_SECONDS
            snapshot = replace(_snapshot, loaded_at=retry_at - hot_settings.CSMS_WEBHOOK_CONFIG_TTL)
        with _lock:
            _snapshot = snapshot
        return snapshot


def get() -> Snapshot:
    """The snapshot, reloaded first if stale (blocking when it reloads)."""
    return _snapshot if is_fresh() else refresh()


def invalidate(**_kwargs: object) -> None:
    global _snapshot
    with _lock:
        _snapshot = Snapshot(
            _snapshot.integrators, _snapshot.subscribers, _snapshot.message_actions
        )

"""Event webhooks: signed JSON POSTs of domain events, delivered off the OCPP path.

`csms.events` calls `DeliveryWorker.enqueue_event` and the consumer calls `record` (as a
message sink) on the thread that produced them; both only put the item on a bounded queue.
One background thread runs an asyncio loop that matches subscriptions, stores the deliveries
of everything queued meanwhile in one INSERT (`EventDelivery`, pending) and only then posts
them, retried with tenacity's exponential back-off (`csms.retry`), at most
CSMS_WEBHOOK_CONCURRENCY deliveries at once. Each attempt is recorded with the time the next
one is due, so deliveries left by a process that stopped are resumed by the
`integrations.jobs.webhooks_retry` job (at least once: receivers deduplicate on
X-CSMS-Delivery, the same on every attempt); one out of attempts ends failed with the
reason. When the queue is full (endpoints far too slow, database down) new events are
dropped with an error in the log: a dead endpoint never slows a station.

Each POST carries

    Content-Type: application/json
    X-CSMS-Event: <event kind>            X-CSMS-Delivery: <delivery id>
    X-CSMS-Timestamp: <unix seconds>
    X-CSMS-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed by the secret>
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from django.conf import settings
from django.db import close_old_connections

from csms import egress, events, retry
from integrations import config, services
from integrations.choices import DeliveryStatus
from ocpp_router.datetimes import utcnow
from ocpp_router.session import LogEntry
from stations.redaction import redact

logger = logging.getLogger(__name__)

T = TypeVar("T")

SIGNATURE_HEADER = "X-CSMS-Signature"
DELIVERY_HEADER = "X-CSMS-Delivery"
TIMESTAMP_HEADER = "X-CSMS-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-CSMS-Signature value of `body` posted at `timestamp`."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def policy(max_attempts: int) -> retry.Policy:
    return retry.Policy(
        attempts=max_attempts,
        base=settings.CSMS_WEBHOOK_RETRY_BASE,
        maximum=settings.CSMS_WEBHOOK_RETRY_MAX,
    )


def retry_delay(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): exponential."""
    delay = policy(attempt + 1).next_delay(attempt)
    assert delay is not None
    return delay


# Events stored in one INSERT at most.
BATCH = 500


def _db(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    close_old_connections()
    try:
        return func(*args, **kwargs)
    finally:
        close_old_connections()


class DeliveryWorker:
    """Implements `ocpp_router.registry.MessageSink` and subscribes to `csms.events`."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, Any]] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._in_flight = 0
        self._dropped = 0
        self._identities: dict[int, str] = {}

    # --- producers: called on the OCPP path, only enqueue --------------------------------
    def record(self, entry: LogEntry) -> None:
        if not entry.action:
            return
        if config.is_fresh() and entry.action not in config.current().message_actions:
            return
        self._put(("message", entry))

    def enqueue_event(self, event: events.Event) -> None:
        if event.kind == "ocpp.message":
            if config.is_fresh() and not config.current().subscribers_of(
                event.kind, event.data.get("action", "")
            ):
                return
        elif config.is_fresh() and not config.current().subscribers_of(event.kind):
            return
        self._put(("event", event))

    def _put(self, item: tuple[str, Any]) -> None:
        self._ensure_thread()
        assert self._queue is not None
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._dropped += 1
            if self._dropped % 1000 == 1:
                logger.error("Webhook queue is full: %d events not delivered so far", self._dropped)

    def backlog(self) -> int:
        """Events and frames queued in memory, not yet stored as deliveries."""
        return 0 if self._queue is None else self._queue.qsize()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event is delivered or given up. True if done in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self._queue is None or self._queue.unfinished_tasks == 0) and not self._in_flight:
                return True
            time.sleep(0.02)
        return False

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                if self._queue is None:
                    self._queue = queue.Queue(maxsize=settings.CSMS_WEBHOOK_QUEUE_SIZE)
                self._thread = threading.Thread(
                    target=self._run, name="webhook-delivery", daemon=True
                )
                self._thread.start()

    # --- the worker's loop ------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except RuntimeError as exc:
            # The process is exiting: its thread pools take no more work ("cannot schedule
            # new futures after [interpreter] shutdown"). Nothing to report.
            if "after shutdown" not in str(exc) and "interpreter shutdown" not in str(exc):
                raise

    async def _main(self) -> None:
        assert self._queue is not None
        slots = asyncio.Semaphore(settings.CSMS_WEBHOOK_CONCURRENCY)
        tasks: set[asyncio.Task[None]] = set()
        async with egress.async_client() as client:
            while True:
                received = await asyncio.to_thread(self._next)
                if received is None:
                    continue
                batch = [received]
                while len(batch) < BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                try:
                    await self._handle(client, slots, tasks, batch)
                except Exception:
                    logger.exception("Webhook worker failed on %d events", len(batch))
                finally:
                    for _ in batch:
                        self._queue.task_done()

    async def _handle(
        self,
        client: httpx.AsyncClient,
        slots: asyncio.Semaphore,
        tasks: set[asyncio.Task[None]],
        batch: list[tuple[str, Any]],
    ) -> None:
        snapshot = (
            config.current() if config.is_fresh() else await asyncio.to_thread(_db, config.refresh)
        )
        pending: list[tuple[config.Subscriber, dict[str, Any]]] = []
        for kind, item in batch:
            if kind == "message":
                await self._publish_message(snapshot, item)
                continue
            event: events.Event = item
            action = event.data.get("action", "") if event.kind == "ocpp.message" else ""
            for subscriber in snapshot.subscribers_of(event.kind, action):
                pending.append((subscriber, _body(event)))
        if not pending:
            return
        # Stored before the first attempt, all in one INSERT: a restart resumes them.
        await asyncio.to_thread(
            _db,
            services.event_deliveries_create,
            deliveries=[(subscriber.pk, body) for subscriber, body in pending],
        )
        for subscriber, body in pending:
            await slots.acquire()
            self._in_flight += 1
            task = asyncio.create_task(
                deliver(client, _target(subscriber), uuid.UUID(body["id"]), body, 0)
            )
            tasks.add(task)
            task.add_done_callback(lambda t: self._done(t, tasks, slots))

    def _next(self) -> tuple[str, Any] | None:
        # A short wait, not a blocking get: the interpreter joins executor threads at exit.
        assert self._queue is not None
        try:
            return self._queue.get(timeout=0.2)
        except queue.Empty:
            return None

    def _done(
        self, task: asyncio.Task[None], tasks: set[asyncio.Task[None]], slots: asyncio.Semaphore
    ) -> None:
        tasks.discard(task)
        slots.release()
        self._in_flight -= 1
        if not task.cancelled() and task.exception() is not None:
            logger.error("Webhook delivery failed", exc_info=task.exception())

    async def _publish_message(self, snapshot: config.Snapshot, entry: LogEntry) -> None:
        if entry.action not in snapshot.message_actions:
            return
        identity = self._identities.get(entry.station_pk)
        if identity is None:
            identity = await asyncio.to_thread(_db, _identity_of, entry.station_pk)
            if len(self._identities) > 10_000:
                self._identities.clear()
            self._identities[entry.station_pk] = identity
        data = {
            "direction": entry.direction,
            "message_type": entry.message_type,
            "message_id": entry.message_id,
            "action": entry.action,
            # Stored with the delivery and sent out: never a station password.
            "payload": redact(entry.action, entry.payload),
            "error_code": entry.error_code,
            "error_description": entry.error_description,
            "at": entry.timestamp.isoformat(),
        }
        # publish() needs a synchronous thread (it asks the database connection whether a
        # transaction is open); outside one it hands the event to every subscriber at once,
        # this worker's `enqueue_event` included.
        await asyncio.to_thread(_db, events.publish, "ocpp.message", identity, **data)


@dataclass(frozen=True)
class Target:
    url: str
    secret: str
    timeout: float
    max_attempts: int


def _target(subscriber: config.Subscriber) -> Target:
    return Target(subscriber.url, subscriber.secret, subscriber.timeout, subscriber.max_attempts)


def _body(event: events.Event) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        json.dumps(
            {
                "id": str(uuid.uuid4()),
                "event": event.kind,
                "station": event.station,
                "timestamp": event.timestamp.isoformat(),
                "data": event.data,
            },
            default=str,
        )
    )
    return body


async def deliver(
    client: httpx.AsyncClient,
    target: Target,
    delivery_id: uuid.UUID,
    payload: dict[str, Any],
    attempts_made: int,
) -> str:
    """Post a stored delivery until delivered or out of attempts (tenacity); its end status."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    retrying = policy(target.max_attempts).retrying(attempts_made=attempts_made)
    outcome: str = await retrying(_attempt, client, target, delivery_id, payload["event"], body)
    return outcome


async def _attempt(
    client: httpx.AsyncClient, target: Target, delivery_id: uuid.UUID, kind: str, body: bytes
) -> str:
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "csms-webhooks",
        "X-CSMS-Event": kind,
        DELIVERY_HEADER: str(delivery_id),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(target.secret, timestamp, body),
    }
    status_code: int | None = None
    try:
        response = await client.post(
            target.url, content=body, headers=headers, timeout=target.timeout
        )
        status_code = response.status_code
        error = "" if 200 <= status_code < 300 else f"HTTP {status_code}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    status: str = await asyncio.to_thread(
        _db,
        services.event_delivery_attempt_record,
        delivery_id=delivery_id,
        status_code=status_code,
        error=error,
        policy=policy(target.max_attempts),
        at=utcnow(),
    )
    if status == DeliveryStatus.FAILED:
        logger.warning("Gave up delivering %s to %s: %s", kind, target.url, error)
        return retry.FAILED
    return retry.DELIVERED if status == DeliveryStatus.DELIVERED else retry.RETRY


async def deliver_due(limit: int = 100) -> int:
    """Deliveries due again (left by a stopped process, or whose retry was not made): claimed
    (SKIP LOCKED) and posted; how many were delivered."""
    due = await asyncio.to_thread(_db, services.event_deliveries_claim, limit=limit)
    if not due:
        return 0
    async with egress.async_client() as client:
        outcomes = await asyncio.gather(
            *(
                deliver(
                    client,
                    Target(
                        d.subscription.url,
                        d.subscription.secret,
                        d.subscription.timeout,
                        d.subscription.max_attempts,
                    ),
                    d.id,
                    d.payload,
                    d.attempts,
                )
                for d in due
            )
        )
    return sum(outcome == retry.DELIVERED for outcome in outcomes)


def _identity_of(station_pk: int) -> str:
    from stations.models import ChargingStation

    return (
        ChargingStation.objects.filter(pk=station_pk).values_list("identity", flat=True).first()
        or ""
    )


worker = DeliveryWorker()

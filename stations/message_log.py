"""The message log writer: frames are queued by the consumer and written in batches.

Writing one row per frame on the message path would double its database round trips; a
background thread instead bulk-inserts whatever has queued up every
CSMS_MESSAGE_LOG_FLUSH_SECONDS (or CSMS_MESSAGE_LOG_BATCH rows). Rows are flushed at exit.

On PostgreSQL a batch goes in with one COPY: building model instances and compiling an
INSERT for every frame cost the server process more CPU (and GIL time) than the station
messages themselves. Other databases use `bulk_create`.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction

from ocpp_router.session import LogEntry
from stations.models import OcppMessage

logger = logging.getLogger(__name__)

# Beyond this many unwritten frames (the database is down or far too slow) new frames are
# dropped, with an error in the log, rather than exhausting memory.
MAX_BACKLOG = 200_000


REDACTED = "***"
PASSWORD_VARIABLES = {("SecurityCtrlr", "BasicAuthPassword")}
PASSWORD_KEYS = {"AuthorizationKey"}


def redact(action: str, payload: Any) -> Any:
    """`payload` without station passwords (OCPP 2.0.1 A01: a password is never stored in
    plain text): SetVariables/GetVariables SecurityCtrlr.BasicAuthPassword values and 1.6
    AuthorizationKey values, in requests and in answers."""
    if not isinstance(payload, dict):
        return payload
    if action in ("SetVariables", "GetVariables"):
        key = "setVariableData" if action == "SetVariables" else "getVariableResult"
        items = payload.get(key)
        if isinstance(items, list) and any(_is_password_variable(item) for item in items):
            return {
                **payload,
                key: [
                    {**item, "attributeValue": REDACTED} if _is_password_variable(item) else item
                    for item in items
                ],
            }
    elif action == "ChangeConfiguration" and payload.get("key") in PASSWORD_KEYS:
        return {**payload, "value": REDACTED}
    elif action == "GetConfiguration" and isinstance(payload.get("configurationKey"), list):
        items = payload["configurationKey"]
        if any(isinstance(i, dict) and i.get("key") in PASSWORD_KEYS for i in items):
            return {
                **payload,
                "configurationKey": [
                    {**i, "value": REDACTED}
                    if isinstance(i, dict) and i.get("key") in PASSWORD_KEYS and "value" in i
                    else i
                    for i in items
                ],
            }
    return payload


def _is_password_variable(item: Any) -> bool:
    if not isinstance(item, dict) or "attributeValue" not in item:
        return False
    component = (item.get("component") or {}).get("name")
    variable = (item.get("variable") or {}).get("name")
    return (component, variable) in PASSWORD_VARIABLES


class BatchedMessageLog:
    def __init__(self) -> None:
        self._queue: queue.Queue[LogEntry | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._dropped = 0

    @property
    def enabled(self) -> bool:
        """False when CSMS_MESSAGE_LOG is off: the consumer then builds no entries at all."""
        return bool(settings.CSMS_MESSAGE_LOG)

    def record(self, entry: LogEntry) -> None:
        if not settings.CSMS_MESSAGE_LOG:
            return
        entry.payload = redact(entry.action, entry.payload)
        if self._queue.qsize() >= MAX_BACKLOG:
            self._dropped += 1
            if self._dropped % 1000 == 1:
                logger.error(
                    "Message log backlog is full: %d frames not logged so far", self._dropped
                )
            return
        self._idle.clear()
        self._queue.put(entry)
        self._ensure_thread()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued frame is written. True if the queue drained in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty() and self._idle.is_set():
                return True
            time.sleep(0.01)
        return False

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="ocpp-message-log", daemon=True
                )
                self._thread.start()
                atexit.register(self.flush)

    def _run(self) -> None:
        batch_size = settings.CSMS_MESSAGE_LOG_BATCH
        interval = settings.CSMS_MESSAGE_LOG_FLUSH_SECONDS
        while True:
            first = self._queue.get()
            batch = [first] if first is not None else []
            deadline = time.monotonic() + interval
            while len(batch) < batch_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                if item is not None:
                    batch.append(item)
            if batch:
                self._write(batch)
            if self._queue.empty():
                self._idle.set()

    def _write(self, batch: list[LogEntry]) -> None:
        close_old_connections()
        try:
            self.store(batch)
        finally:
            close_old_connections()

    def store(self, batch: list[LogEntry]) -> None:
        """Write `batch` now, in this thread."""
        if connection.vendor == "postgresql":
            try:
                self._copy(batch)
                return
            except Exception:
                logger.warning(
                    "COPY of %d message log rows failed; inserting them with the ORM",
                    len(batch),
                    exc_info=True,
                )
        rows = [self._row(entry) for entry in batch]
        try:
            with transaction.atomic():
                OcppMessage.objects.bulk_create(rows)
        except Exception:
            # One bad row (e.g. its station was deleted meanwhile) must not lose the batch.
            for row in rows:
                try:
                    row.save(force_insert=True)
                except Exception:
                    logger.exception("Could not write message log row %s", row.id)

    @staticmethod
    def _row(entry: LogEntry) -> OcppMessage:
        return OcppMessage(
            id=entry.id,
            station_id=entry.station_pk,
            timestamp=entry.timestamp,
            direction=entry.direction,
            message_type=entry.message_type,
            message_id=entry.message_id[:64],
            action=entry.action[:64],
            payload=entry.payload,
            error_code=entry.error_code[:50],
            error_description=entry.error_description[:255],
            answers_id=entry.answers,
        )

    @staticmethod
    def _copy(batch: list[LogEntry]) -> None:
        meta = OcppMessage._meta
        columns = [
            meta.get_field(name).column
            for name in (
                "id",
                "station",
                "timestamp",
                "direction",
                "message_type",
                "message_id",
                "action",
                "payload",
                "error_code",
                "error_description",
                "answers",
            )
        ]
        statement = "COPY {} ({}) FROM STDIN".format(
            connection.ops.quote_name(meta.db_table),
            ", ".join(connection.ops.quote_name(column) for column in columns),
        )
        with transaction.atomic(), connection.cursor() as cursor, cursor.copy(statement) as copy:
            for entry in batch:
                copy.write_row(
                    (
                        entry.id,
                        entry.station_pk,
                        entry.timestamp,
                        entry.direction,
                        entry.message_type,
                        entry.message_id[:64],
                        entry.action[:64],
                        None if entry.payload is None else json.dumps(entry.payload),
                        entry.error_code[:50],
                        entry.error_description[:255],
                        entry.answers,
                    )
                )


message_log = BatchedMessageLog()

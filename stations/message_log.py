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
import threading
import time
from collections import deque

from django.conf import settings
from django.db import close_old_connections, connection, transaction

from csms import metrics
from csms.conf import hot_settings
from csms.outage import DATABASE, is_connection_error
from ocpp_router.session import LogEntry
from stations.models import OcppMessage
from stations.redaction import redact

logger = logging.getLogger(__name__)

# While the database is down (or far too slow) frames wait in memory, up to
# CSMS_MESSAGE_LOG_BUFFER of them; beyond that new frames are dropped and counted, rather
# than exhausting memory. The writer tries again every RETRY_SECONDS.
RETRY_SECONDS = 1.0


# Station passwords leave by the rules every stored copy follows (stations.redaction).
REDACTED_ENVELOPE = "(envelope not kept: it holds a password; see the redacted payload)"


class BatchedMessageLog:
    """Frames are appended to a deque by the event loop and written by one thread in batches.

    The writer is not woken per frame: it sleeps for CSMS_MESSAGE_LOG_FLUSH_SECONDS between
    batches and is woken early only when a full batch is waiting. Waking a thread for every
    frame (a lock and a futex call on the event loop's thread) cost more than building the
    log entry itself.
    """

    def __init__(self) -> None:
        self._pending: deque[LogEntry] = deque()
        self._wake = threading.Event()
        self._busy = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._dropped = 0
        self._outage = False

    @property
    def enabled(self) -> bool:
        """False when CSMS_MESSAGE_LOG is off: the consumer then builds no entries at all."""
        return bool(hot_settings.CSMS_MESSAGE_LOG)

    def record(self, entry: LogEntry) -> None:
        if not hot_settings.CSMS_MESSAGE_LOG:
            return
        redacted = redact(entry.action, entry.payload)
        if redacted is not entry.payload and entry.soap:
            entry.soap = REDACTED_ENVELOPE  # the envelope holds the password in clear
        entry.payload = redacted
        pending = len(self._pending)
        if pending >= hot_settings.CSMS_MESSAGE_LOG_BUFFER:
            self._dropped += 1
            metrics.MESSAGE_LOG_DROPPED.inc()
            DATABASE.failed(
                "the message log buffer is full",
                f"{self._dropped} frames dropped so far (CSMS_MESSAGE_LOG_BUFFER="
                f"{hot_settings.CSMS_MESSAGE_LOG_BUFFER})",
            )
            return
        self._pending.append(entry)
        if self._thread is None or not self._thread.is_alive():
            self._ensure_thread()
        if pending + 1 == hot_settings.CSMS_MESSAGE_LOG_BATCH:
            self._wake.set()

    def backlog(self) -> int:
        """Frames waiting to be written (csms_message_log_backlog)."""
        return len(self._pending)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued frame is written. True if the queue drained in time."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while time.monotonic() < deadline:
            if not self._pending and not self._busy:
                return True
            time.sleep(0.01)
        return False

    def _ensure_thread(self) -> None:
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
            self._wake.wait(interval)
            self._wake.clear()
            while self._pending:
                # Busy before the first frame leaves the deque, so that flush() never sees
                # an empty deque while a batch is still being written.
                self._busy = True
                batch: list[LogEntry] = []
                while self._pending and len(batch) < batch_size:
                    batch.append(self._pending.popleft())
                try:
                    self._write(batch)
                except Exception as error:
                    if not is_connection_error(error):
                        logger.exception("Writing %d message log rows failed", len(batch))
                        continue
                    # The database is down: the batch goes back, in order, and waits.
                    self._pending.extendleft(reversed(batch))
                    self._outage = True
                    DATABASE.failed(
                        error, f"{len(self._pending)} message log frames kept in memory"
                    )
                    self._busy = False
                    time.sleep(RETRY_SECONDS)
                    continue
                if self._outage:
                    self._outage = False
                    DATABASE.recovered("the message log frames kept meanwhile are written")
            self._busy = False

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
            except Exception as error:
                if is_connection_error(error):
                    raise
                logger.warning(
                    "COPY of %d message log rows failed; inserting them with the ORM",
                    len(batch),
                    exc_info=True,
                )
        rows = [self._row(entry) for entry in batch]
        try:
            with transaction.atomic():
                OcppMessage.objects.bulk_create(rows)
        except Exception as error:
            if is_connection_error(error):
                raise
            # One bad row (e.g. its station was deleted meanwhile) must not lose the batch.
            for row in rows:
                try:
                    row.save(force_insert=True)
                except Exception as row_error:
                    if is_connection_error(row_error):
                        raise
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
            soap_xml=entry.soap,
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
                "soap_xml",
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
                        entry.soap,
                        entry.answers,
                    )
                )


message_log = BatchedMessageLog()

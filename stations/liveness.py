"""Last-seen and heartbeat times, written in batches.

A Heartbeat's only effect is a timestamp, and Heartbeats are a large share of a quiet
network's traffic: writing each one cost a thread hop and a database round trip. The newest
times per station are kept in memory and written every CSMS_LIVENESS_FLUSH_SECONDS by one
thread, in one transaction. A write never moves `last_seen` backwards (a disconnect recorded
meanwhile stays). If the process dies, at most that interval of times is lost; online state
does not depend on them (it is written at connect and disconnect).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connections, transaction

from csms.outage import DATABASE, is_connection_error
from stations import store

logger = logging.getLogger(__name__)

# The statements: `stations.store`.
_SEEN = store.SEEN
_HEARTBEAT = store.HEARTBEAT


class LivenessBuffer:
    def __init__(self) -> None:
        self._seen: dict[int, datetime] = {}
        self._heartbeats: dict[int, datetime] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def note(self, station_pk: int, at: datetime, *, heartbeat: bool = False) -> None:
        """Record that the station was seen (and sent a Heartbeat) at `at`. Never blocks on
        the database: safe on the event loop."""
        with self._lock:
            self._seen[station_pk] = at
            if heartbeat:
                self._heartbeats[station_pk] = at
        if self._thread is None:
            self._start()

    def flush(self) -> None:
        """Write what is pending now, in this thread. On failure the times stay pending
        (newer ones noted meanwhile win) and the error is raised."""
        with self._lock:
            seen, self._seen = self._seen, {}
            heartbeats, self._heartbeats = self._heartbeats, {}
        if not seen:
            return
        try:
            with transaction.atomic():
                _SEEN.execute_many([(at, pk, at) for pk, at in seen.items()])
                _HEARTBEAT.execute_many([(at, pk) for pk, at in heartbeats.items()])
        except Exception:
            with self._lock:
                for pk, at in seen.items():
                    self._seen.setdefault(pk, at)
                for pk, at in heartbeats.items():
                    self._heartbeats.setdefault(pk, at)
            raise

    def close(self) -> None:
        """Stop the background thread after a last flush."""
        self._stop.set()
        thread = self._thread
        if isinstance(thread, threading.Thread):
            thread.join(5)
        self.flush()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="station-liveness", daemon=True)
            self._thread.start()
        atexit.register(self.flush)

    def _run(self) -> None:
        interval = settings.CSMS_LIVENESS_FLUSH_SECONDS
        while not self._stop.wait(interval):
            if not self._seen:
                continue  # nothing to write: leave the database alone
            try:
                close_old_connections()
                self.flush()
            except Exception as error:
                if is_connection_error(error):
                    # Kept for the next round; the outage is logged once (csms.outage).
                    DATABASE.failed(error, "station last-seen times kept in memory")
                else:
                    logger.exception("Writing station last-seen and heartbeat times failed")
                # Reconnect on the next round (the database may have restarted).
                with contextlib.suppress(Exception):
                    connections.close_all()
        connections.close_all()


BUFFER = LivenessBuffer()

"""Outages of what the server depends on (the database, the channel layer), logged as outages.

While PostgreSQL or Redis is down every frame meets the failure: logging each one (with its
traceback) wrote 21.8 MB of log in a 54 s database outage and buried the one line that
mattered. An `Outage` logs when the failure starts, then at most once every
CSMS_OUTAGE_LOG_INTERVAL seconds while it lasts (how many failures meanwhile, and what the
caller says it keeps), and once when it ends. Thread-safe: handler threads, the message-log
writer and the event loop report to the same one.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError

logger = logging.getLogger("csms.outage")


def is_connection_error(error: BaseException) -> bool:
    """True for a database error that means the server could not be reached or the
    connection broke (rather than a statement that failed on a working connection)."""
    return isinstance(error, OperationalError | InterfaceError)


class Outage:
    def __init__(self, what: str) -> None:
        self.what = what
        self.down_since: float | None = None
        self._failures = 0
        self._last_logged = 0.0
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: BaseException | str, keeping: str = "") -> None:
        """Report one failure; logs only when the outage starts and then at intervals."""
        now = time.monotonic()
        with self._lock:
            self._failures += 1
            if self.down_since is None:
                self.down_since = now
                self._last_logged = now
                first = True
            elif now - self._last_logged >= settings.CSMS_OUTAGE_LOG_INTERVAL:
                self._last_logged = now
                first = False
            else:
                return
            failures, since = self._failures, now - self.down_since
        detail = f"; {keeping}" if keeping else ""
        if first:
            logger.error("%s is unreachable: %s%s", self.what, _reason(error), detail)
        else:
            logger.error(
                "%s still unreachable after %.0f s (%d failures): %s%s",
                self.what,
                since,
                failures,
                _reason(error),
                detail,
            )

    def recovered(self, detail: str = "") -> None:
        with self._lock:
            if self.down_since is None:
                return
            since, failures = time.monotonic() - self.down_since, self._failures
            self.down_since = None
            self._failures = 0
        logger.warning(
            "%s is reachable again after %.1f s (%d failures)%s",
            self.what,
            since,
            failures,
            f"; {detail}" if detail else "",
        )


def _reason(error: BaseException | str) -> str:
    if isinstance(error, str):
        return error
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


DATABASE = Outage("The database")
CHANNEL_LAYER = Outage("The channel layer (Redis)")

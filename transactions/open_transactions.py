"""Open transactions as this process last stored them, kept for the station's next message.

A MeterValues in a transaction (2.x: a TransactionEvent Updated) is the most frequent
message of a charging session: one a minute per charging station. It reads its transaction
without a lock and stores its event with the transaction's UPDATE in one statement, guarded
on the transaction's `updated` as read (see `statements.event_store`). The read can be
skipped where this process stored the transaction itself a moment ago: what it wrote is
what the read would return, and the guard still finds out if anyone has changed the row
since (another process, an operator in the admin, a concurrent message). Then nothing is
stored and the message is applied again to the transaction read under a lock, as when an
unlocked read went stale.

An entry is taken out while a message uses it, so two threads never share an instance, and
put back once the message is stored; an entry older than CSMS_TRANSACTION_CACHE_SECONDS is
read again. The tariff comes with the entry: a price changed by an operator reaches the
running cost of a session within that many seconds, and its final cost at once (the stop
reads the transaction and its tariff under a lock).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from csms.conf import hot_settings
from transactions.models import Transaction
from transactions.statements import Locked, loaded_values

Key = tuple[Any, ...]


class OpenTransactions:
    """A bounded map of transaction keys (the values a TX_BY_* query is run with) to the
    transaction instance last stored, its station's identity and when it was kept."""

    def __init__(self) -> None:
        self._entries: OrderedDict[Key, tuple[Transaction, str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def take(self, key: Key) -> Locked | None:
        """The transaction kept for `key`, removed from the map; None if there is none or it
        is older than CSMS_TRANSACTION_CACHE_SECONDS."""
        with self._lock:
            entry = self._entries.pop(key, None)
        max_age = hot_settings.CSMS_TRANSACTION_CACHE_SECONDS
        if entry is None or time.monotonic() - entry[2] > max_age:
            self.misses += 1
            return None
        self.hits += 1
        tx, identity, _ = entry
        return Locked(tx, identity, loaded_values(tx))

    def keep(self, key: Key, tx: Transaction, identity: str) -> None:
        """Keep `tx`, just stored, for the next message of its transaction (a stopped one is
        forgotten). `tx` must hold exactly what the database holds, its `updated` included."""
        size = hot_settings.CSMS_TRANSACTION_CACHE
        if not tx.is_active or not identity or size <= 0:
            self.forget(key)
            return
        with self._lock:
            self._entries[key] = (tx, identity, time.monotonic())
            self._entries.move_to_end(key)
            while len(self._entries) > size:
                self._entries.popitem(last=False)

    def forget(self, key: Key) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


open_transactions = OpenTransactions()

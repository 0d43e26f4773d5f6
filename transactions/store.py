"""Where the transaction path is hand-tuned: the only importer of its SQL (`statements`).

A transaction message is stored in one database transaction of a few statements, each
written once (`statements`): lock the transaction (with its station identity and tariff),
let a rule (`rules`) change it in memory, then INSERT its event, whose named unique
business key tells a first delivery from a repeat (ON CONFLICT (...) DO NOTHING: no
savepoint), its meter values, and UPDATE the transaction's changed fields. A transaction
seen for the first time is INSERTed with the message applied; its unique key tells whether
a concurrent delivery created it first, and then the message is applied to that one.

The most frequent messages (1.6 MeterValues, 2.x TransactionEvent Updated) skip the lock:
`apply` reads the transaction without one (or takes it from `open_transactions`, as this
process last stored it), stores the event with the UPDATE in one statement guarded on the
transaction's `updated` as read, and only if the row changed meanwhile applies the message
again to the transaction read under a lock. That is written once, here.

The store owns the `updated` bump: every write of a transaction sets it, and the guard
compares it. Its column list comes from the model's `_meta` (`SAVED_FIELDS`): a field added
to Transaction is saved by the store with no change here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from django.db import transaction

from ocpp_router.datetimes import utcnow
from transactions import statements
from transactions.models import MeterValue, Tariff, Transaction, TransactionEvent
from transactions.open_transactions import open_transactions
from transactions.statements import TokenRow

R = TypeVar("R")

# Set when a transaction is first inserted and never changed by a message.
INSERTED_ONLY = ("id", "station", "ocpp_version", "dedup_key", "reported_transaction_id", "created")
# What a message may change: every other concrete field of the model, in its order.
SAVED_FIELDS = tuple(
    field.name for field in Transaction._meta.concrete_fields if field.name not in INSERTED_ONLY
)


class Key(NamedTuple):
    """How a message finds its transaction: the values of Transaction `fields`, with the
    query reading them without a lock (`read`, for the guarded write), the one locking,
    and the unique constraint that keeps a second transaction with them out (`unique`)."""

    fields: tuple[str, ...]
    values: tuple[Any, ...]
    read: statements.Query
    lock: statements.Query
    unique: str


def by_id(station_pk: int, transaction_id: str) -> Key:
    """2.x: station + transactionId."""
    return Key(
        ("station", "transaction_id"),
        (station_pk, transaction_id),
        statements.TX_BY_ID_READ,
        statements.TX_BY_ID,
        statements.TX_ID_KEY,
    )


def by_id_16(station_pk: int, version: str, transaction_id: str) -> Key:
    """1.6: station + the integer id we gave (as text)."""
    return Key(
        ("station", "ocpp_version", "transaction_id"),
        (station_pk, version, transaction_id),
        statements.TX_BY_ID_16_READ,
        statements.TX_BY_ID_16,
        statements.TX_ID_KEY,
    )


def by_dedup_key(station_pk: int, dedup_key: str) -> Key:
    """1.6: station + the business key of the start (or of a stop with no transaction)."""
    return Key(
        ("station", "dedup_key"),
        (station_pk, dedup_key),
        statements.TX_BY_DEDUP_KEY,
        statements.TX_BY_DEDUP_KEY,
        statements.TX_DEDUP_KEY,
    )


Locked = statements.Locked


@dataclass
class Write:
    """What a message stores: its event and meter values, and whether the transaction's
    changes are saved with them (False: saved later with `save`, or nothing changed).
    `fields`: only these fields of a transaction just inserted are saved (None: what
    changed). `keep_as`: the key its next message finds it by, where not the message's."""

    event: TransactionEvent
    rows: list[MeterValue]
    save_transaction: bool = True
    fields: tuple[str, ...] | None = None
    keep_as: Key | None = None


@dataclass
class Stored:
    """A message stored (`duplicate`: its event's business key was stored before, and
    nothing was). `loaded`: the transaction's values as read (None: just inserted);
    `created`: the transaction was inserted with this message."""

    transaction: Transaction | None
    identity: str
    loaded: dict[str, Any] | None
    write: Write
    duplicate: bool
    created: bool = False


# --- reads ----------------------------------------------------------------------------------


def lock(key: Key) -> Locked | None:
    """The transaction `key` finds, locked, with its station's identity and tariff."""
    return statements.transaction_lock(key.lock, list(key.values))


def lock_existing(key: Key) -> Locked:
    """The transaction a conflicting INSERT found: a concurrent creator has committed it."""
    locked = lock(key)
    if locked is None:
        raise Transaction.DoesNotExist(f"No transaction {key.values!r}")
    return locked


def _read_unlocked(key: Key) -> Locked | None:
    """The transaction `key` finds: as this process last stored it where it is kept
    (`open_transactions`), else read without a lock."""
    return open_transactions.take(key.values) or statements.transaction_lock(
        key.read, list(key.values)
    )


def id_token_row(
    *, value: str, type: str, concurrent_check: bool, exclude_transaction_pk: int | None
) -> TokenRow | None:
    return statements.id_token_row(
        value=value,
        type=type,
        concurrent_check=concurrent_check,
        exclude_transaction_pk=exclude_transaction_pk,
    )


def tariff_for_station(station_pk: int) -> Tariff | None:
    """The station's own active tariff, else the active default one."""
    return statements.tariff_for_station(station_pk)


def tariff_for(station_pk: int, evse_id: int | None) -> Tariff | None:
    """The tariff a new transaction on the station's EVSE takes (`statements.tariff_for`)."""
    return statements.tariff_for(station_pk, evse_id)


def remote_start_16(
    *, station_pk: int, id_tag: str, evse_id: int | None, since: datetime
) -> int | None:
    """The latest open 1.6 remote start for `id_tag` (and the connector, if it named one)
    created since `since` and not yet used by a transaction, locked: its primary key."""
    row = statements.REMOTE_START_16.first(
        [station_pk, id_tag, *statements.REMOTE_START_OPEN, since, evse_id]
    )
    return row[0] if row is not None else None


def open_at_boot(identity: str) -> tuple[int, str, list[tuple[int, str, int | None]]] | None:
    """(station pk, its protocol, [(pk, transactionId, evse id)]) of the transactions the
    station `identity` left open before its last boot, or None when there are none."""
    rows = statements.OPEN_AT_BOOT.rows([identity])
    if not rows:
        return None
    return rows[0][0], rows[0][1], [(pk, tx_id, evse_id) for _s, _p, pk, tx_id, evse_id in rows]


def station_identity(station_pk: int) -> str:
    return statements.station_identity(station_pk)


# --- writes ---------------------------------------------------------------------------------


def _update(tx: Transaction, loaded: dict[str, Any] | None) -> tuple[statements.Statement, list]:
    """The UPDATE of the transaction and its values: the fields changed since `loaded` (its
    values as locked), or every field a message may change."""
    tx.updated = utcnow()
    fields = SAVED_FIELDS if loaded is None else statements.changed(tx, loaded, SAVED_FIELDS)
    statement = statements.transaction_update(fields)
    return statement, statements.update_values(tx, statement)


def save(tx: Transaction, loaded: dict[str, Any] | None) -> None:
    """Save what changed in `tx` since it was read as `loaded` (None: every field)."""
    statement, values = _update(tx, loaded)
    statement.execute(values)


def insert(tx: Transaction, key: Key) -> bool:
    """Insert `tx` (its primary key set); False if the unique constraint of `key` shows it
    was stored before."""
    return statements.INSERT_TRANSACTION.one(tx, key.unique)


def write(
    write: Write,
    tx: Transaction | None = None,
    loaded: dict[str, Any] | None = None,
    *,
    guarded: bool = False,
) -> bool | None:
    """Store a message's event and meter values and, with `tx` (and `write.save_transaction`),
    save the transaction (as `save`): all of it, or nothing and False if the event's business
    key shows the message was stored before. One statement on PostgreSQL.
    `guarded`: `tx` was read without a lock; None (nothing stored) if it changed since."""
    if tx is None or not write.save_transaction:
        return statements.event_store(write.event, write.rows)
    guard = (tx.pk, loaded["updated"]) if guarded and loaded is not None else None
    return statements.event_store(write.event, write.rows, *_update(tx, loaded), guard=guard)


def write_links(write: Write, tx: Transaction, fields: Sequence[str]) -> bool:
    """Store an event with `fields` of `tx`, just inserted (a 1.6 StartTransaction: its id
    and the links found after the INSERT); False if the event was stored before."""
    statement = statements.transaction_update(tuple(fields))
    return statements.event_store(
        write.event, write.rows, statement, statements.update_values(tx, statement)
    )


def keep(key: tuple[Any, ...], tx: Transaction, identity: str) -> None:
    """Keep `tx`, as just stored, for its next message (`open_transactions`), once stored
    for good: at once outside a database transaction, else when it commits."""
    transaction.on_commit(lambda: open_transactions.keep(key, tx, identity))


def forget(key: Key) -> None:
    open_transactions.forget(key.values)


# --- the message path ---------------------------------------------------------------------


def apply(
    key: Key | None,
    change: Callable[[Transaction | None, bool], Write],
    then: Callable[[Stored], R],
    *,
    identity: str = "",
    guarded_first: bool = False,
    create: Callable[[], Transaction] | None = None,
    create_first: bool = False,
    create_key: Key | None = None,
    insert_first: bool = False,
) -> R:
    """Apply a message to the transaction `key` finds, exactly once, and store it.

    `change(tx, created)` applies the message in memory (`tx` None: no transaction found,
    `created`: `tx` is new) and returns what to store; `then(stored)` runs once it is
    stored, in the same database transaction, and its result is returned. A stored
    transaction is kept for its next message (see `keep`).

    - `guarded_first`: the transaction is read without a lock and the message stored
      guarded on its `updated`; if it changed meanwhile, or (with `create`) it was not
      found, the message is applied again under a lock, as below.
    - Under a lock: the transaction `key` finds (`create_first`: none is looked for);
      if there is none and `create` is given, `create()` is inserted, its business key
      that of `create_key` (default `key`), with the message applied (`insert_first`:
      inserted first, then the message applied to it, when the message needs its primary
      key); if a concurrent delivery inserted it first, the message is applied to that one.
    - `key` None, or no transaction and no `create`: the message is stored on its own.
    """
    if key is None:
        return _then(key, change(None, False), None, None, identity, then)
    if guarded_first:
        read = _read_unlocked(key)
        if read is not None:
            tx = read.transaction
            name = identity or read.identity
            applied = change(tx, False)
            stored = write(applied, tx, read.loaded, guarded=True)
            if stored is not None:
                return _finish(key, applied, tx, read.loaded, name, stored, then)
        elif create is None:
            return _then(key, change(None, False), None, None, identity, then)
    create_key = create_key or key
    with transaction.atomic():
        locked = None if create_first else lock(key)
        if locked is None and create is not None:
            tx = create()
            if insert_first:
                if insert(tx, create_key):
                    applied = change(tx, True)
                    if applied.fields is None:
                        stored = write(applied, tx)
                    else:
                        stored = write_links(applied, tx, applied.fields)
                    assert stored is not None  # not guarded
                    return _finish(key, applied, tx, None, identity, stored, then, created=True)
            else:
                applied = change(tx, True)
                if insert(tx, create_key):
                    # Inserted with the message applied: only the event is left to store.
                    applied.save_transaction = False
                    stored = write(applied)
                    assert stored is not None  # not guarded
                    return _finish(key, applied, tx, None, identity, stored, then, created=True)
            # Stored already (events before this one, or a concurrent delivery).
            locked = lock_existing(create_key)
        if locked is None:
            return _then(key, change(None, False), None, None, identity, then)
        tx, name = locked.transaction, identity or locked.identity
        applied = change(tx, False)
        stored = write(applied, tx, locked.loaded)
        assert stored is not None  # not guarded
        return _finish(key, applied, tx, locked.loaded, name, stored, then)


def _then(
    key: Key | None,
    applied: Write,
    tx: None,
    loaded: None,
    identity: str,
    then: Callable[[Stored], R],
) -> R:
    """A message with no transaction, stored on its own."""
    stored = write(applied)
    assert stored is not None  # not guarded
    return _finish(key, applied, tx, loaded, identity, stored, then)


def _finish(
    key: Key | None,
    applied: Write,
    tx: Transaction | None,
    loaded: dict[str, Any] | None,
    identity: str,
    stored: bool,
    then: Callable[[Stored], R],
    *,
    created: bool = False,
) -> R:
    result = then(Stored(tx, identity, loaded, applied, duplicate=not stored, created=created))
    kept_as = applied.keep_as or key
    if stored and tx is not None and kept_as is not None:
        keep(kept_as.values, tx, identity)
    return result

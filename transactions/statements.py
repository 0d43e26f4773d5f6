"""Statements of the transaction path, written once per database vendor from model metadata.

Every charging session runs a dozen transaction messages, each a handful of statements: the
ORM compiled each of them anew per message (a locking SELECT with two joins cost about
2 ms of Python, its INSERTs and the 37-column UPDATE about 1 ms each), many times what the
database spends running them. As `csms.sql` does for the stations block, the statements
here are built once from the models' `_meta`, their parameters prepared by their model
fields (`get_db_prep_value`, values stored exactly as the ORM stores them) and their
result columns converted by the same converters the ORM applies, so instances loaded here
equal those a queryset would give.

Two things the ORM cannot say in one statement are said here:
- INSERT ... ON CONFLICT (<the business key's columns>) DO NOTHING RETURNING the primary
  key: a message's business key (a unique constraint, named: `conflict_target`) decides in
  one round trip whether it is new, with no savepoint; a delivery racing ours waits for it
  on the unique index and then finds the conflict. A row breaking any other constraint is
  an error, as with the ORM.
- one SELECT ... FOR UPDATE that brings the transaction with its station identity and
  tariff, so applying a message reads nothing else.

Both PostgreSQL and SQLite (3.35+) support the statements as written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from csms.sql import Names, Statement, converters_of, hot_cursor
from stations.models import ChargingStation
from transactions.choices import RequestStatus
from transactions.models import (
    IdToken,
    MeterValue,
    RemoteStart,
    StationTariff,
    Tariff,
    Transaction,
    TransactionEvent,
)

M = TypeVar("M", bound=models.Model)
Column = tuple[type[models.Model], str] | None
Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


class Sql(Names):
    """Names, and the clauses that differ between database vendors."""

    def __init__(self, connection: BaseDatabaseWrapper):
        super().__init__(connection)
        self.features = connection.features

    def qcol(self, model: type[models.Model], field: str, alias: str = "") -> str:
        """A column qualified by its table (or by `alias`)."""
        return f"{alias or self.table(model)}.{self.col(model, field)}"

    def columns(self, model: type[models.Model], alias: str = "") -> str:
        """Every concrete column of `model`, qualified, in `_meta.concrete_fields` order."""
        return ", ".join(
            self.qcol(model, field.name, alias) for field in model._meta.concrete_fields
        )

    def for_update(self, model: type[models.Model]) -> str:
        """` FOR UPDATE OF <model's table>`, or nothing where the database has no row locks
        (SQLite: its write transactions are exclusive, see `transaction_mode`)."""
        if not self.features.has_select_for_update:
            return ""
        if self.features.has_select_for_update_of:
            return f" FOR UPDATE OF {self.table(model)}"
        return " FOR UPDATE"


def conflict_target(
    model: type[models.Model], constraint_name: str, connection: BaseDatabaseWrapper
) -> str:
    """`ON CONFLICT (<columns>) [WHERE <condition>]` naming `model`'s unique constraint
    `constraint_name` (a partial index is named by its condition, as PostgreSQL and SQLite
    require), built from `Meta.constraints`."""
    constraint = next(c for c in model._meta.constraints if c.name == constraint_name)
    assert isinstance(constraint, models.UniqueConstraint) and constraint.fields
    names = Names(connection)
    clause = f"ON CONFLICT ({', '.join(names.col(model, f) for f in constraint.fields)})"
    if constraint.condition is not None:
        condition = constraint._get_condition_sql(model, connection.schema_editor())
        clause += f" WHERE {condition}"
    return clause


def model_columns(model: type[models.Model]) -> list[Column]:
    return [(model, field.name) for field in model._meta.concrete_fields]


class Query(Statement):
    """A statement built with `Sql`; `rows()` returns its result rows, each column given as
    (model, field) converted from the database value as the ORM converts it (None: as is)."""

    def __init__(
        self,
        build: Callable[[Sql], str],
        params: Sequence[tuple[type[models.Model], str]],
        columns: Sequence[Column] = (),
    ):
        super().__init__(build, params)  # type: ignore[arg-type]
        self.columns = list(columns)
        self._converters: dict[str, list[tuple[int, Any, list[Converter]]]] = {}

    def sql(self, connection: BaseDatabaseWrapper) -> str:
        sql = self._sql.get(connection.vendor)
        if sql is None:
            sql = self._sql[connection.vendor] = self.build(Sql(connection))
        return sql

    def converters(self, connection: BaseDatabaseWrapper) -> list[tuple[int, Any, list[Converter]]]:
        """(column index, its expression, converters) of the columns that need converting."""
        converters = self._converters.get(connection.vendor)
        if converters is None:
            converters = []
            for index, column in enumerate(self.columns):
                if column is None:
                    continue
                col, chain = converters_of(*column, connection)
                if chain:
                    converters.append((index, col, chain))
            self._converters[connection.vendor] = converters
        return converters

    def rows(self, values: Sequence[Any], using: str = DEFAULT_DB_ALIAS) -> list[list[Any]]:
        connection = connections[using]
        prepared = self._prepare(values, connection)
        with hot_cursor(connection) as cursor:
            cursor.execute(self.sql(connection), prepared)
            rows = [list(row) for row in cursor.fetchall()]
        converters = self.converters(connection)
        for row in rows:
            for index, col, chain in converters:
                value = row[index]
                for converter in chain:
                    value = converter(value, col, connection)
                row[index] = value
        return rows

    def first(self, values: Sequence[Any], using: str = DEFAULT_DB_ALIAS) -> list[Any] | None:
        rows = self.rows(values, using)
        return rows[0] if rows else None


def load(model: type[M], values: Sequence[Any], using: str = DEFAULT_DB_ALIAS) -> M:
    """A `model` instance from the values of its concrete fields, as a queryset loads it."""
    return model.from_db(using, None, values)  # type: ignore[arg-type]


# --- INSERT -----------------------------------------------------------------------------------


class Insert:
    """INSERT of `model` instances: every concrete field but an auto primary key, values
    prepared as `Model.save()` prepares them (`pre_save` fills auto_now fields). With a
    `conflict` (the name of one of `model`'s unique constraints), a row that would break
    that constraint is not inserted."""

    def __init__(self, model: type[models.Model]):
        self.model = model
        meta = model._meta
        self.fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
        self.foreign_keys = [f for f in self.fields if isinstance(f, models.ForeignKey)]
        self._reads = [
            (f, f.attname, type(f).pre_save is not models.Field.pre_save) for f in self.fields
        ]
        self._sql: dict[tuple[str, int, bool, str], str] = {}

    def sql(
        self, connection: BaseDatabaseWrapper, rows: int, returning: bool, conflict: str = ""
    ) -> str:
        key = (connection.vendor, rows, returning, conflict)
        sql = self._sql.get(key)
        if sql is None:
            names = Names(connection)
            row = f"({', '.join(['%s'] * len(self.fields))})"
            sql = (
                f"INSERT INTO {names.table(self.model)} "
                f"({', '.join(names.col(self.model, f.name) for f in self.fields)}) "
                f"VALUES {', '.join([row] * rows)}"
            )
            if conflict:
                sql += f" {conflict_target(self.model, conflict, connection)} DO NOTHING"
            if returning:
                sql += f" RETURNING {names.col(self.model, self.model._meta.pk.name)}"
            self._sql[key] = sql
        return sql

    def _values(self, obj: models.Model, connection: BaseDatabaseWrapper) -> list[Any]:
        for fk in self.foreign_keys:
            # A related instance assigned before it was saved: take its primary key now.
            if getattr(obj, fk.attname) is None and fk.is_cached(obj):
                related = fk.get_cached_value(obj)
                if related is not None:
                    setattr(obj, fk.attname, related.pk)
        values = []
        for field, attname, fills in self._reads:
            # pre_save where the field has its own (auto_now); None needs no preparing.
            value = field.pre_save(obj, True) if fills else getattr(obj, attname)
            values.append(None if value is None else field.get_db_prep_save(value, connection))
        return values

    def one(self, obj: models.Model, conflict: str = "", using: str = DEFAULT_DB_ALIAS) -> bool:
        """Insert `obj` and set its primary key; False if the unique constraint named
        `conflict` kept it out."""
        connection = connections[using]
        with hot_cursor(connection) as cursor:
            sql = self.sql(connection, 1, True, conflict)
            cursor.execute(sql, self._values(obj, connection))
            row = cursor.fetchone()
        if row is None:
            return False
        obj.pk = row[0]
        obj._state.adding = False
        obj._state.db = using
        return True

    def many(self, objs: Iterable[models.Model], using: str = DEFAULT_DB_ALIAS) -> None:
        """Insert rows whose primary keys nobody reads (meter values), in a few statements."""
        objs = list(objs)
        if not objs:
            return
        connection = connections[using]
        # Stay within the database's limit of parameters per statement.
        batch = max(1, min(connection.ops.bulk_batch_size(self.fields, objs), 500))
        with hot_cursor(connection) as cursor:
            for start in range(0, len(objs), batch):
                chunk = objs[start : start + batch]
                params: list[Any] = []
                for obj in chunk:
                    params += self._values(obj, connection)
                    obj._state.adding = False
                    obj._state.db = using
                cursor.execute(self.sql(connection, len(chunk), False), params)


# --- transactions -------------------------------------------------------------------------------

_TX_COLUMNS = model_columns(Transaction)
_TARIFF_COLUMNS = model_columns(Tariff)


def _transaction_lock(key: Sequence[str], *, lock: bool = True) -> Query:
    """The transaction with the `key` fields' values, locked (the row only; `lock` False:
    only read), with its station's identity and its tariff."""
    return Query(
        lambda q: (
            f"SELECT {q.columns(Transaction)}, {q.qcol(ChargingStation, 'identity')}, "
            f"{q.columns(Tariff)} "
            f"FROM {q.table(Transaction)} "
            f"INNER JOIN {q.table(ChargingStation)} ON "
            f"{q.qcol(ChargingStation, 'id')} = {q.qcol(Transaction, 'station')} "
            f"LEFT OUTER JOIN {q.table(Tariff)} ON "
            f"{q.qcol(Tariff, 'id')} = {q.qcol(Transaction, 'tariff')} "
            f"WHERE {' AND '.join(f'{q.qcol(Transaction, field)} = %s' for field in key)}"
            f"{q.for_update(Transaction) if lock else ''}"
        ),
        [(Transaction, field) for field in key],
        [*_TX_COLUMNS, (ChargingStation, "identity"), *_TARIFF_COLUMNS],
    )


TX_BY_ID = _transaction_lock(["station", "transaction_id"])
TX_BY_ID_16 = _transaction_lock(["station", "ocpp_version", "transaction_id"])
TX_BY_DEDUP_KEY = _transaction_lock(["station", "dedup_key"])
# Read only: what `event_store` stores with a guard (see there).
TX_BY_ID_READ = _transaction_lock(["station", "transaction_id"], lock=False)
TX_BY_ID_16_READ = _transaction_lock(["station", "ocpp_version", "transaction_id"], lock=False)

# The transaction as it was read (its `updated`), locked: `event_store`'s guard.
TX_UNCHANGED = Query(
    lambda q: (
        f"SELECT 1 FROM {q.table(Transaction)} WHERE {q.col(Transaction, 'id')} = %s "
        f"AND {q.col(Transaction, 'updated')} = %s{q.for_update(Transaction)}"
    ),
    [(Transaction, "id"), (Transaction, "updated")],
    [None],
)

_TARIFF_FIELD = Transaction._meta.get_field("tariff")
assert isinstance(_TARIFF_FIELD, models.ForeignKey)


class Locked(NamedTuple):
    transaction: Transaction
    identity: str
    # The transaction's field values as read (see `changed`).
    loaded: dict[str, Any]


def transaction_lock(query: Query, values: Sequence[Any]) -> Locked | None:
    """Run one of the TX_BY_* queries: the locked transaction (its tariff loaded) and its
    station's identity, or None."""
    row = query.first(values)
    if row is None:
        return None
    size = len(_TX_COLUMNS)
    tx = load(Transaction, row[:size])
    tariff_values = row[size + 1 :]
    tariff = load(Tariff, tariff_values) if tariff_values[0] is not None else None
    _TARIFF_FIELD.set_cached_value(tx, tariff)
    return Locked(tx, row[size], loaded_values(tx))


_TX_ATTNAMES = [field.attname for field in Transaction._meta.concrete_fields]


def loaded_values(tx: Transaction) -> dict[str, Any]:
    """`tx`'s field values now (lists copied), for `changed` to compare with later."""
    values = tx.__dict__
    return {
        attname: list(value) if isinstance(value := values[attname], list) else value
        for attname in _TX_ATTNAMES
    }


def changed(tx: Transaction, loaded: dict[str, Any], fields: Sequence[str]) -> tuple[str, ...]:
    """Those of `fields` whose value differs from the one read. The row was locked since, so
    the others still hold these values."""
    meta = Transaction._meta
    return tuple(
        name
        for name in fields
        if getattr(tx, attname := meta.get_field(name).attname) != loaded[attname]  # type: ignore[union-attr]
    )


@lru_cache(maxsize=256)
def transaction_update(fields: tuple[str, ...]) -> Statement:
    """UPDATE of the transaction `fields` by primary key (the last parameter); one per
    set of fields that messages change (a MeterValues changes a handful of the 38)."""
    return Statement(
        lambda n: (
            f"UPDATE {n.table(Transaction)} SET {n.assign(Transaction, fields)} "
            f"WHERE {n.col(Transaction, 'id')} = %s"
        ),
        [*((Transaction, field) for field in fields), (Transaction, "id")],
    )


def update_values(obj: models.Model, statement: Statement) -> list[Any]:
    """The values of `statement`'s parameters read from `obj` (the primary key last)."""
    return [getattr(obj, field.attname) for field in statement.fields()]


INSERT_TRANSACTION = Insert(Transaction)
INSERT_EVENT = Insert(TransactionEvent)
INSERT_METER_VALUES = Insert(MeterValue)

# The business keys a transaction or an event is told new or repeated by.
TX_ID_KEY = "unique_transaction_id_per_station"  # 2.x: station + transactionId
TX_DEDUP_KEY = "unique_transaction_dedup_key_per_station"  # 1.6: station + dedup_key
EVENT_SEQ_KEY = "unique_seq_no_per_transaction"  # 2.x: transaction + seqNo
EVENT_DEDUP_KEY = "unique_event_dedup_key_per_station"  # 1.6, 2.x MeterValues: dedup_key


def event_key(event: TransactionEvent) -> str:
    """The business key `event` is deduplicated on: 2.x events by their seqNo, the others
    by their dedup_key (a 1.6 StartTransaction's event: its transaction's)."""
    return EVENT_SEQ_KEY if event.seq_no is not None else EVENT_DEDUP_KEY


def _cast_type(field: models.Field[Any, Any], connection: BaseDatabaseWrapper) -> str:
    """The type a value of `field` is cast to in a VALUES list (whose columns have no type
    of their own): the column's type without its length or precision, so that the INSERT
    still refuses a too-long text and rounds a number as a plain INSERT does (a cast to
    varchar(n) would cut the text short)."""
    db_type = field.db_type(connection) or ""
    return db_type.split("(")[0].strip()


# Up to this many meter values a message is stored in one statement; a longer list (a 1.6
# StopTransaction's transactionData may hold a whole session) in a few.
ONE_STATEMENT_ROWS = 100

_EVENT_STORE_SQL: dict[tuple[int, tuple[str, ...] | None, bool, str], str] = {}
# A meter value's event column: the statement takes it from the event it inserts.
_EVENT_COLUMN = next(i for i, f in enumerate(INSERT_METER_VALUES.fields) if f.name == "event")


def _event_store_sql(
    connection: BaseDatabaseWrapper,
    rows: int,
    fields: tuple[str, ...] | None,
    guarded: bool,
    conflict: str,
) -> str:
    """The PostgreSQL statement of `event_store`, one per shape (the number of meter values,
    the transaction fields it updates, with a guard or not, the event's business key)."""
    key = (rows, fields, guarded, conflict)
    sql = _EVENT_STORE_SQL.get(key)
    if sql is None:
        sql = _EVENT_STORE_SQL[key] = _build_event_store(
            Names(connection), connection, rows, fields, guarded, conflict
        )
    return sql


def _build_event_store(
    names: Names,
    connection: BaseDatabaseWrapper,
    rows: int,
    fields: tuple[str, ...] | None,
    guarded: bool,
    conflict: str,
) -> str:
    clauses = []
    event_fields = INSERT_EVENT.fields
    event_columns = ", ".join(names.col(TransactionEvent, f.name) for f in event_fields)
    if guarded:
        # The event (and so the rest) only if the transaction is as read, and then locked;
        # a concurrent writer's change is seen here once it commits.
        clauses.append(
            f"g AS (SELECT 1 FROM {names.table(Transaction)} "
            f"WHERE {names.col(Transaction, 'id')} = %s "
            f"AND {names.col(Transaction, 'updated')} = %s FOR UPDATE)"
        )
        values = ", ".join(f"%s::{_cast_type(f, connection)}" for f in event_fields)
        source = f"SELECT {values} FROM g"
    else:
        source = f"VALUES ({', '.join(['%s'] * len(event_fields))})"
    clauses.append(
        f"e AS (INSERT INTO {names.table(TransactionEvent)} ({event_columns}) {source} "
        f"{conflict_target(TransactionEvent, conflict, connection)} DO NOTHING "
        f"RETURNING {names.col(TransactionEvent, 'id')})"
    )
    if rows:
        # Each meter value joined to the event inserted (none if it was a repeat).
        value_fields = INSERT_METER_VALUES.fields
        selected = [
            f"e.{names.col(TransactionEvent, 'id')}" if f.name == "event" else f"v.c{i}"
            for i, f in enumerate(value_fields)
        ]
        row = ", ".join(
            f"%s::{_cast_type(f, connection)}" for f in value_fields if f.name != "event"
        )
        aliases = ", ".join(f"c{i}" for i, f in enumerate(value_fields) if f.name != "event")
        clauses.append(
            f"m AS (INSERT INTO {names.table(MeterValue)} "
            f"({', '.join(names.col(MeterValue, f.name) for f in value_fields)}) "
            f"SELECT {', '.join(selected)} FROM e CROSS JOIN "
            f"(VALUES {', '.join([f'({row})'] * rows)}) AS v({aliases}))"
        )
    if fields is not None:
        clauses.append(
            f"u AS (UPDATE {names.table(Transaction)} SET {names.assign(Transaction, fields)} "
            f"WHERE {names.col(Transaction, 'id')} = %s AND EXISTS (SELECT 1 FROM e))"
        )
    found = "EXISTS (SELECT 1 FROM g)" if guarded else "TRUE"
    return (
        f"WITH {', '.join(clauses)} "
        f"SELECT (SELECT {names.col(TransactionEvent, 'id')} FROM e), {found}"
    )


def event_store(
    event: TransactionEvent,
    rows: Sequence[MeterValue],
    update: Statement | None = None,
    update_values: Sequence[Any] = (),
    *,
    guard: tuple[int, Any] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> bool | None:
    """Store a message's event and its meter values, and run `update` (a
    `transaction_update`) with `update_values`: all of it (True), or nothing and False when
    the event's business key shows the message was stored before.

    With `guard`, the primary key of a transaction and its `updated` as read without a
    lock, all of it only if the transaction is still as read, and None (nothing stored)
    if it changed meanwhile: the caller then reads it again, locked, and applies the
    message to what it finds.

    On PostgreSQL this is one statement (data-modifying WITH clauses) for up to
    ONE_STATEMENT_ROWS values: a MeterValues in a transaction was an INSERT of its event,
    one of its values and an UPDATE of the transaction, three round trips, each with its
    share of the server's and the database's CPU, and with the guard it needs no BEGIN,
    lock and COMMIT either. Elsewhere (SQLite, in process) the statements run in a
    savepoint.
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or len(rows) > ONE_STATEMENT_ROWS:
        with transaction.atomic(using=using):
            if guard is not None and TX_UNCHANGED.first(list(guard), using) is None:
                return None
            if not INSERT_EVENT.one(event, event_key(event), using):
                return False
            for row in rows:
                row.event = event
            INSERT_METER_VALUES.many(rows, using)
            if update is not None:
                update.execute(update_values, using)
        return True
    fields = None
    if update is not None:
        fields = tuple(field.name for field in update.fields()[:-1])
    sql = _event_store_sql(connection, len(rows), fields, guard is not None, event_key(event))
    params = TX_UNCHANGED._prepare(guard, connection) if guard is not None else []
    params += INSERT_EVENT._values(event, connection)
    for row in rows:
        values = INSERT_METER_VALUES._values(row, connection)
        del values[_EVENT_COLUMN]
        params += values
    if update is not None:
        params += update._prepare(update_values, connection)
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, params)
        stored, found = cursor.fetchone()
    if not found:
        return None
    if stored is None:
        return False
    event.pk = stored
    event._state.adding = False
    event._state.db = using
    for meter_value in rows:
        meter_value.event = event
        meter_value._state.adding = False
        meter_value._state.db = using
    return True


# --- id tokens, tariffs, remote starts -----------------------------------------------------------


class TokenRow(NamedTuple):
    """What authorizing an id token reads: the token's IdTokenInfo fields, its group's
    value and type, and whether it is in an active transaction (the one being applied
    excluded)."""

    pk: int
    status: str
    expiry_date: Any
    language1: str
    language2: str
    personal_message: str
    personal_message_format: str
    charging_priority: int | None
    group_value: str | None
    group_type: str | None
    in_active_transaction: bool


_TOKEN_FIELDS = [
    "id",
    "status",
    "expiry_date",
    "language1",
    "language2",
    "personal_message",
    "personal_message_format",
    "charging_priority",
]


def _token_query(*, typed: bool, concurrent: bool) -> Query:
    """The token for a value (`typed`: and a type; else the oldest with that value)."""

    def build(q: Sql) -> str:
        token, group = q.quote("token"), q.quote("token_group")
        active = "FALSE"
        if concurrent:
            active = (
                f"EXISTS (SELECT 1 FROM {q.table(Transaction)} WHERE "
                f"{q.qcol(Transaction, 'id_token_value')} = {q.qcol(IdToken, 'value', token)} "
                f"AND {q.qcol(Transaction, 'is_active')} "
                # Only a transaction the CSMS authorized holds the token (a refused start
                # that the station did not stop never blocks it).
                f"AND {q.qcol(Transaction, 'auth_status')} = 'Accepted' "
                f"AND {q.qcol(Transaction, 'id')} <> %s)"
            )
        where = f"{q.qcol(IdToken, 'value', token)} = %s"
        if typed:
            where += f" AND {q.qcol(IdToken, 'type', token)} = %s"
        return (
            f"SELECT {', '.join(q.qcol(IdToken, f, token) for f in _TOKEN_FIELDS)}, "
            f"{q.qcol(IdToken, 'value', group)}, {q.qcol(IdToken, 'type', group)}, {active} "
            f"FROM {q.table(IdToken)} {token} "
            f"LEFT OUTER JOIN {q.table(IdToken)} {group} ON "
            f"{q.qcol(IdToken, 'id', group)} = {q.qcol(IdToken, 'group_id_token', token)} "
            f"WHERE {where} ORDER BY {q.qcol(IdToken, 'id', token)} LIMIT 1"
        )

    params: list[tuple[type[models.Model], str]] = [(Transaction, "id")] if concurrent else []
    params.append((IdToken, "value"))
    if typed:
        params.append((IdToken, "type"))
    return Query(
        build,
        params,
        [*((IdToken, f) for f in _TOKEN_FIELDS), (IdToken, "value"), (IdToken, "type"), None],
    )


_TOKEN_QUERIES = {
    (typed, concurrent): _token_query(typed=typed, concurrent=concurrent)
    for typed in (False, True)
    for concurrent in (False, True)
}


def id_token_row(
    *, value: str, type: str, concurrent_check: bool, exclude_transaction_pk: int | None
) -> TokenRow | None:
    """The token for a 2.x (value, type) or a 1.6 idTag (`type` empty: the oldest token
    with that value: 1.6 idTags match whatever the type), with its group, in one statement."""
    query = _TOKEN_QUERIES[(bool(type), concurrent_check)]
    values: list[Any] = [exclude_transaction_pk or 0] if concurrent_check else []
    values.append(value)
    if type:
        values.append(type)
    row = query.first(values)
    if row is None:
        return None
    row[-1] = bool(row[-1])
    return TokenRow(*row)


TARIFF_FOR = Query(
    lambda q: (
        f"SELECT {q.columns(Tariff)} FROM {q.table(Tariff)} "
        f"LEFT JOIN {q.table(StationTariff)} ON {q.qcol(StationTariff, 'priced')} = "
        f"{q.qcol(Tariff, 'id')} AND {q.qcol(StationTariff, 'station')} = %s "
        f"AND {q.qcol(StationTariff, 'transaction_id')} = '' "
        f"AND {q.qcol(StationTariff, 'status')} = 'Accepted' "
        f"AND {q.qcol(StationTariff, 'evse_id')} IN (%s, 0) "
        f"WHERE {q.qcol(StationTariff, 'id')} IS NOT NULL OR ({q.qcol(Tariff, 'active')} "
        f"AND ({q.qcol(Tariff, 'station')} = %s OR {q.qcol(Tariff, 'station')} IS NULL) "
        f"AND ({q.qcol(Tariff, 'evse_id')} = %s OR {q.qcol(Tariff, 'evse_id')} IS NULL)) "
        # What the station holds for the EVSE, for all its EVSEs; then the CSMS's tariff of
        # the EVSE, of the station, the default one.
        f"ORDER BY {q.qcol(StationTariff, 'id')} IS NULL, {q.qcol(StationTariff, 'evse_id')} = 0, "
        f"{q.qcol(Tariff, 'station')} IS NULL, {q.qcol(Tariff, 'evse_id')} IS NULL LIMIT 1"
    ),
    [
        (StationTariff, "station"),
        (StationTariff, "evse_id"),
        (Tariff, "station"),
        (Tariff, "evse_id"),
    ],
    _TARIFF_COLUMNS,
)


def tariff_for(station_pk: int, evse_id: int | None = None) -> Tariff | None:
    """The tariff a new transaction on the station's EVSE (1.6: connector; None: unknown)
    takes: the default tariff the station holds for the EVSE (OCPP 2.1 SetDefaultTariff),
    else for all its EVSEs; else the CSMS's active tariff of the EVSE, of the station, the
    default one."""
    evse = evse_id if evse_id else -1  # 0 / unknown: no EVSE of its own
    row = TARIFF_FOR.first([station_pk, evse, station_pk, evse])
    return load(Tariff, row) if row is not None else None


def tariff_for_station(station_pk: int) -> Tariff | None:
    """The station's own active tariff, else the active default one."""
    return tariff_for(station_pk)


# 1.6 carries no remote start id: see remote.remote_start_link_16.
REMOTE_START_16 = Query(
    lambda q: (
        f"SELECT {q.qcol(RemoteStart, 'id')} FROM {q.table(RemoteStart)} "
        f"WHERE {q.qcol(RemoteStart, 'station')} = %s "
        f"AND {q.qcol(RemoteStart, 'id_token_value')} = %s "
        f"AND {q.qcol(RemoteStart, 'status')} IN (%s, %s) "
        f"AND {q.qcol(RemoteStart, 'created')} >= %s "
        f"AND ({q.qcol(RemoteStart, 'evse_id')} IS NULL OR {q.qcol(RemoteStart, 'evse_id')} = 0 "
        f"OR {q.qcol(RemoteStart, 'evse_id')} = %s) "
        f"AND NOT EXISTS (SELECT 1 FROM {q.table(Transaction)} WHERE "
        f"{q.qcol(Transaction, 'remote_start_request')} = {q.qcol(RemoteStart, 'id')}) "
        f"ORDER BY {q.qcol(RemoteStart, 'created')} DESC LIMIT 1"
        f"{q.for_update(RemoteStart)}"
    ),
    [
        (RemoteStart, "station"),
        (RemoteStart, "id_token_value"),
        (RemoteStart, "status"),
        (RemoteStart, "status"),
        (RemoteStart, "created"),
        (RemoteStart, "evse_id"),
    ],
    [None],
)

REMOTE_START_OPEN = (RequestStatus.PENDING, RequestStatus.ACCEPTED)

# After an Accepted boot: the transactions its station still has open from before that boot
# (the (station, is_active) index; no rows for a station with none, the usual case).
OPEN_AT_BOOT = Query(
    lambda q: (
        f"SELECT {q.qcol(ChargingStation, 'id')}, {q.qcol(ChargingStation, 'protocol')}, "
        f"{q.qcol(Transaction, 'id')}, {q.qcol(Transaction, 'transaction_id')}, "
        f"{q.qcol(Transaction, 'evse_id')} "
        f"FROM {q.table(ChargingStation)} JOIN {q.table(Transaction)} "
        f"ON {q.qcol(Transaction, 'station')} = {q.qcol(ChargingStation, 'id')} "
        f"WHERE {q.qcol(ChargingStation, 'identity')} = %s "
        f"AND {q.qcol(Transaction, 'is_active')} "
        f"AND {q.qcol(Transaction, 'created')} < {q.qcol(ChargingStation, 'last_boot_at')}"
    ),
    [(ChargingStation, "identity")],
    [None, None, None, None, None],
)


STATION_IDENTITY = Query(
    lambda q: (
        f"SELECT {q.col(ChargingStation, 'identity')} FROM {q.table(ChargingStation)} "
        f"WHERE {q.col(ChargingStation, 'id')} = %s"
    ),
    [(ChargingStation, "id")],
    [None],
)


def station_identity(station_pk: int) -> str:
    row = STATION_IDENTITY.first([station_pk])
    return row[0] if row else ""

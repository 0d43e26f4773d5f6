"""Hot-path statements written once from model metadata.

Django compiles a queryset anew on every call: a filtered `update()` costs about a millisecond
of Python, several times what the database spends running it. The few statements that run
for nearly every station message (heartbeat, connector status, connect and disconnect) are
written here once per database vendor from the models' `_meta`, so that table and column
names follow the models, and run on the connection's cursor. Every parameter still goes
through its model field's `get_db_prep_value`, so values are stored exactly as the ORM
stores them (datetimes in UTC on SQLite, JSON adapted, foreign keys as their target's type).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper


@contextmanager
def hot_cursor(connection: BaseDatabaseWrapper) -> Iterator[Any]:
    """A cursor for a statement that runs for nearly every message.

    On PostgreSQL, psycopg's own cursor: it binds parameters on the server and prepares a
    statement once it has run `prepare_threshold` times on a connection (5; see
    DATABASE_URL in the README). Django's cursor binds them on the client, and composing
    the statement text with every value quoted into it cost more Python than the rest of
    the statement, and PostgreSQL parsed and planned every statement anew: with a
    transaction mix the database's CPU, on the same cores, was the limit. Errors are
    Django's, as with `connection.cursor()`.
    Where queries are recorded (DEBUG, assertNumQueries) Django's cursor runs them, so that
    they show in `connection.queries`.
    Like Django's own cursor it runs the connection's health check (CONN_HEALTH_CHECKS) once
    per check round (`close_old_connections`): a connection that died with a database restart
    is reopened here instead of failing the statement.
    """
    if connection.vendor != "postgresql" or connection.queries_logged:
        with connection.cursor() as cursor:
            yield cursor
        return
    import psycopg

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def converters_of(
    model: type[models.Model], name: str, connection: BaseDatabaseWrapper
) -> tuple[Any, list[Callable[[Any, Any, BaseDatabaseWrapper], Any]]]:
    """The column expression of `model.name` and the ORM's converters for values read from
    it (the backend's, then the field's), as a queryset applies them."""
    meta = model._meta
    col = meta.get_field(name).get_col(meta.db_table)  # type: ignore[union-attr]
    return col, [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)]


class Names:
    """Quoted table and column names of models, for one database connection."""

    def __init__(self, connection: BaseDatabaseWrapper):
        self.quote = connection.ops.quote_name

    def table(self, model: type[models.Model]) -> str:
        return self.quote(model._meta.db_table)

    def col(self, model: type[models.Model], field: str) -> str:
        return self.quote(model._meta.get_field(field).column)  # type: ignore[union-attr]

    def assign(self, model: type[models.Model], fields: Sequence[str]) -> str:
        """`"a" = %s, "b" = %s` for an UPDATE's SET clause."""
        return ", ".join(f"{self.col(model, field)} = %s" for field in fields)


class Statement:
    """One SQL statement, built by `build(names)` on first use per database vendor.

    `params` names the model field of each `%s`, in order; `execute` prepares each value
    with that field and returns the number of rows the statement touched.
    """

    def __init__(
        self,
        build: Callable[[Names], str],
        params: Sequence[tuple[type[models.Model], str]],
    ):
        self.build = build
        self.params = params
        self._sql: dict[str, str] = {}
        self._fields: list[models.Field[Any, Any]] | None = None

    def sql(self, connection: BaseDatabaseWrapper) -> str:
        sql = self._sql.get(connection.vendor)
        if sql is None:
            sql = self._sql[connection.vendor] = self.build(Names(connection))
        return sql

    def fields(self) -> list[models.Field[Any, Any]]:
        if self._fields is None:
            self._fields = [model._meta.get_field(name) for model, name in self.params]  # type: ignore[misc]
        return self._fields

    def _prepare(self, values: Sequence[Any], connection: BaseDatabaseWrapper) -> list[Any]:
        fields = self.fields()
        if len(values) != len(fields):
            raise ValueError(f"{len(fields)} values expected, got {len(values)}")
        return [
            None if value is None else field.get_db_prep_value(value, connection, prepared=False)
            for field, value in zip(fields, values, strict=True)
        ]

    def execute(self, values: Sequence[Any], using: str = DEFAULT_DB_ALIAS) -> int:
        connection = connections[using]
        prepared = self._prepare(values, connection)
        with hot_cursor(connection) as cursor:
            cursor.execute(self.sql(connection), prepared)
            return int(cursor.rowcount)

    def execute_many(self, rows: Sequence[Sequence[Any]], using: str = DEFAULT_DB_ALIAS) -> None:
        """Run the statement once per row of values (pipelined by psycopg)."""
        if not rows:
            return
        connection = connections[using]
        prepared = [self._prepare(values, connection) for values in rows]
        with hot_cursor(connection) as cursor:
            cursor.executemany(self.sql(connection), prepared)


class Lookup:
    """`model` instances by the value of a unique field, loading only `fields` (the rest are
    deferred, loaded on access), with the ORM's value conversions but no query compilation."""

    def __init__(self, model: type[models.Model], by: str, fields: Sequence[str]):
        self.model = model
        self.by = by
        self.fields = fields
        self._prepared: dict[str, tuple[str, list[Any]]] = {}

    def _prepare(self, connection: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
        prepared = self._prepared.get(connection.vendor)
        if prepared is None:
            names = Names(connection)
            columns = ", ".join(names.col(self.model, field) for field in self.fields)
            sql = (
                f"SELECT {columns} FROM {names.table(self.model)} "
                f"WHERE {names.col(self.model, self.by)} = %s"
            )
            converters = []
            for field_name in self.fields:
                col, functions = converters_of(self.model, field_name, connection)
                converters.append((functions, col))
            prepared = self._prepared[connection.vendor] = (sql, converters)
        return prepared

    def get(self, value: Any, using: str = DEFAULT_DB_ALIAS) -> Any:
        """The instance whose `by` field is `value`, or None."""
        connection = connections[using]
        sql, converters = self._prepare(connection)
        field = self.model._meta.get_field(self.by)
        with hot_cursor(connection) as cursor:
            cursor.execute(sql, [field.get_db_prep_value(value, connection, prepared=False)])  # type: ignore[union-attr]
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for index, (functions, col) in enumerate(converters):
            for convert in functions:
                values[index] = convert(values[index], col, connection)
        attnames = [self.model._meta.get_field(f).attname for f in self.fields]  # type: ignore[union-attr]
        return self.model.from_db(using, attnames, values)

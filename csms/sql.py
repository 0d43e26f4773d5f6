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

from collections.abc import Callable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper


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

    def execute(self, values: Sequence[Any], using: str = DEFAULT_DB_ALIAS) -> int:
        fields = self.fields()
        if len(values) != len(fields):
            raise ValueError(f"{len(fields)} values expected, got {len(values)}")
        connection = connections[using]
        prepared = [
            None if value is None else field.get_db_prep_value(value, connection, prepared=False)
            for field, value in zip(fields, values, strict=True)
        ]
        with connection.cursor() as cursor:
            cursor.execute(self.sql(connection), prepared)
            return int(cursor.rowcount)

"""csms.sql: hot-path statements store and load values exactly as the ORM does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csms.sql import Lookup, Statement
from stations.models import ChargingStation

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 25, 10, 30, 15, 123456, tzinfo=UTC)

SEEN = Statement(
    lambda n: (
        f"UPDATE {n.table(ChargingStation)} SET {n.assign(ChargingStation, ['last_seen'])} "
        f"WHERE {n.col(ChargingStation, 'id')} = %s"
    ),
    [(ChargingStation, "last_seen"), (ChargingStation, "id")],
)
BY_IDENTITY = Lookup(ChargingStation, "identity", ["id", "identity", "enabled", "last_seen"])


def test_statement_stores_what_the_orm_reads_back_and_counts_rows():
    station = ChargingStation.objects.create(identity="SQL-1")
    assert SEEN.execute([AT, station.pk]) == 1
    assert SEEN.execute([AT, station.pk + 1000]) == 0
    station.refresh_from_db()
    assert station.last_seen == AT
    # The ORM finds it by the same value: stored in the ORM's own format.
    assert ChargingStation.objects.filter(last_seen=AT).count() == 1


def test_statement_refuses_a_wrong_number_of_values():
    with pytest.raises(ValueError):
        SEEN.execute([AT])


def test_lookup_converts_values_and_defers_the_rest():
    ChargingStation.objects.create(
        identity="SQL 2", enabled=False, last_seen=AT, vendor="Acme", model="AC-22"
    )
    station = BY_IDENTITY.get("SQL 2")
    assert station.identity == "SQL 2"
    assert station.enabled is False
    assert station.last_seen == AT
    assert station.get_deferred_fields() >= {"vendor", "model"}
    assert station.vendor == "Acme"  # loaded on access
    assert BY_IDENTITY.get("SQL-unknown") is None


def test_an_sqlite_too_old_for_the_transaction_statements_is_refused():
    from csms.checks import sqlite_problems

    sqlite = {"default": {"ENGINE": "django.db.backends.sqlite3"}}
    postgres = {"default": {"ENGINE": "django.db.backends.postgresql"}}
    assert [e.id for e in sqlite_problems(sqlite, (3, 31, 1))] == ["csms.E002"]
    assert sqlite_problems(sqlite, (3, 40, 1)) == []
    assert sqlite_problems(postgres, (3, 31, 1)) == []


def test_hot_statements_bind_on_the_server_on_postgresql_and_fail_with_django_errors():
    from django.db import IntegrityError, connection, transaction
    from django.test.utils import CaptureQueriesContext

    from csms.sql import hot_cursor

    with hot_cursor(connection) as cursor:
        kind = type(cursor).__name__
    if connection.vendor == "postgresql":
        assert kind == "Cursor"  # psycopg's server-binding cursor, not Django's ClientCursor
    station = ChargingStation.objects.create(identity="SQL-HOT")
    for _ in range(6):
        assert SEEN.execute([AT, station.pk]) == 1
    station.refresh_from_db()
    assert station.last_seen == AT
    if connection.vendor == "postgresql" and connection.connection.prepare_threshold is not None:
        # Past the threshold (DATABASE_URL, 5), PostgreSQL holds it prepared.
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            assert any("UPDATE" in row[0] for row in cursor.fetchall())

    table = ChargingStation._meta.db_table
    duplicate = Statement(
        lambda n: f"UPDATE {n.quote(table)} SET {n.assign(ChargingStation, ['identity'])}",
        [(ChargingStation, "identity")],
    )
    ChargingStation.objects.create(identity="SQL-HOT-2")
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.execute(["SAME"])

    # Where queries are recorded, they show.
    with CaptureQueriesContext(connection) as queries:
        SEEN.execute([AT, station.pk])
    assert len(queries) == 1 and "UPDATE" in queries[0]["sql"]


@pytest.mark.parametrize(
    ("query", "threshold"),
    [
        ("", 5),
        ("?prepare_threshold=0", 0),
        ("?prepare_threshold=none", None),
        ("?sslmode=require", 5),
    ],
)
def test_database_url_sets_how_soon_hot_statements_are_prepared(query, threshold):
    from csms.settings import database_from_url

    options = database_from_url(f"postgres://u:p@db:5432/csms{query}")["OPTIONS"]
    assert options["prepare_threshold"] == threshold
    if "sslmode" in query:
        assert options["sslmode"] == "require"


@pytest.mark.django_db(False)
def test_database_url_refuses_a_prepare_threshold_that_is_not_a_number():
    from csms.settings import database_from_url

    with pytest.raises(ValueError, match="prepare_threshold"):
        database_from_url("postgres://db/csms?prepare_threshold=soon")

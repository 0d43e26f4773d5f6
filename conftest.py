"""Project-wide test setup.

Tests that talk to the live server use transactional databases, and Django empties the
database after each with one TRUNCATE of every table: on PostgreSQL that costs a second or
more per test (every table's files are replaced). Deleting the rows of these small tables
costs milliseconds, so the teardown does that instead. Content types, permissions and groups
(kept current by post_migrate) stay, as a flush followed by post_migrate would leave them.
"""

import pytest
from django.db import connections, transaction
from django.test import TransactionTestCase

from tests.conftest import csms, live_csms  # noqa: F401  (fixtures for every app's tests)
from transactions import ending
from transactions.open_transactions import open_transactions

KEPT_TABLES = frozenset(
    {
        "django_migrations",
        "django_content_type",
        "auth_permission",
        "auth_group",
        "auth_group_permissions",
    }
)


def _empty_database(alias: str) -> None:
    connection = connections[alias]
    tables = [
        table
        for table in connection.introspection.django_table_names(
            only_existing=True, include_views=False
        )
        if table not in KEPT_TABLES
    ]
    quote = connection.ops.quote_name
    # Foreign keys are deferred on PostgreSQL and SQLite: the order of deletion is free.
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {quote(table)}")


def _fixture_teardown(self: TransactionTestCase) -> None:
    for alias in self._databases_names(include_mirrors=False):
        _empty_database(alias)


TransactionTestCase._fixture_teardown = _fixture_teardown


@pytest.fixture(autouse=True)
def _forget_open_transactions() -> None:
    """Primary keys come back after a test's rollback: no test finds another's transactions."""
    open_transactions.clear()


@pytest.fixture(autouse=True)
def _cancel_boot_checks():
    """A reboot's transaction check outlives the test that rebooted the station: cancelled."""
    yield
    ending.checks_cancel()

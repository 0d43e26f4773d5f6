"""Project-wide test setup.

Tests that talk to the live server use transactional databases, and Django empties the
database after each with one TRUNCATE of every table: on PostgreSQL that costs a second or
more per test (every table's files are replaced). Deleting the rows of these small tables
costs milliseconds, so the teardown does that instead. Content types, permissions and groups
(kept current by post_migrate) stay, as a flush followed by post_migrate would leave them.
"""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connections, transaction
from django.test import Client, TransactionTestCase
from rest_framework.test import APIClient

from stations.models import ChargingStation
from tests import factories
from tests.api_helpers import make_user
from tests.conftest import csms, live_csms  # noqa: F401  (fixtures for every app's tests)
from tests.faults import fault_postgres, fault_redis, postgres_cluster  # noqa: F401
from tests.live import LiveServer
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
def _outbound_to_test_receivers(settings) -> None:
    """The tests' webhook, callback and OCSP receivers listen on loopback, which the outbound
    allowlist refuses by default (csms.egress); the tests of the allowlist set it back."""
    settings.CSMS_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture(autouse=True)
def _forget_failed_authentications() -> Iterator[None]:
    """Failed-authentication counts (csms.auth_limits) outlive a test: each starts with none.
    (Cleared before, not after: a test may refuse network connections until its end.)"""
    auth_limits_clear()
    yield


def auth_limits_clear() -> None:
    from django.conf import settings
    from django.core.cache import caches

    store = caches["auth-limits"]
    if "redis" not in settings.CACHES["auth-limits"]["BACKEND"].lower():
        store.clear()
        return
    # Not clear(): on Redis that empties the whole database, the channel layer's too.
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        prefix = settings.CACHES["auth-limits"]["KEY_PREFIX"]
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _cancel_boot_checks():
    """A reboot's transaction check outlives the test that rebooted the station: cancelled."""
    yield
    ending.checks_cancel()


# --- the shared fixtures (tests.factories) --------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "station(**fields): the fields of the `station` fixture's row"
    )


@pytest.fixture
def station(request: pytest.FixtureRequest, db: None) -> ChargingStation:
    """A charging station row: UNIT-1 on OCPP 2.0.1, or what the test's or module's
    `@pytest.mark.station(identity=..., protocol=...)` says."""
    marker = request.node.get_closest_marker("station")
    fields: dict[str, Any] = dict(marker.kwargs) if marker else {}
    return factories.station_create(**fields)


@pytest.fixture
def staff_client(client: Client, db: None) -> Client:
    """Django's test client logged in to the admin as the superuser "operator"."""
    client.force_login(factories.staff_user_create())
    return client


@pytest.fixture
def viewer_api(db: None) -> APIClient:
    """The data API as "viewer", a member of Viewers (token authentication)."""
    return factories.api_client_create("viewer", "viewer")


@pytest.fixture
def operator_api(db: None) -> APIClient:
    """The data API as "operator", a member of Operators (token authentication)."""
    return factories.api_client_create("operator", "operator")


@pytest.fixture
async def api(csms: LiveServer) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    """HTTP to the live server as "operator" (Operators, token authentication)."""
    _, token = await sync_to_async(make_user)("operator", "operator")
    async with httpx.AsyncClient(
        base_url=csms.http_url, headers={"Authorization": f"Token {token}"}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def operator_http(csms: LiveServer) -> Iterator[httpx.Client]:  # noqa: F811
    """`api` for synchronous tests: HTTP to the live server as "operator"."""
    _, token = make_user("operator", "operator")
    with httpx.Client(
        base_url=csms.http_url, headers={"Authorization": f"Token {token}"}, timeout=30
    ) as client:
        yield client

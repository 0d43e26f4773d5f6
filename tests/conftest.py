from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import LiveServer, start_server

_server: LiveServer | None = None


@pytest.fixture(scope="session")
def live_csms(django_db_setup, django_db_blocker) -> Iterator[LiveServer]:
    """One real Daphne/Channels server for the whole session (Twisted's reactor runs once)."""
    global _server
    if _server is None:
        _server, _ = start_server()
    yield _server
    with django_db_blocker.unblock():
        _close_server_connections()


def _close_server_connections() -> None:
    """The server's worker threads keep their database connections open; end them so the
    test database can be dropped at the end of the session."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def csms(live_csms, transactional_db):
    """The live server, with a clean database for this test; the message log is flushed
    before the database is emptied so no row outlives its test."""
    from stations.liveness import BUFFER
    from stations.message_log import message_log

    yield live_csms
    message_log.flush()
    BUFFER.flush()

from __future__ import annotations

import pytest

from tests.live import LiveServer, start_server

_server: LiveServer | None = None


@pytest.fixture(scope="session")
def live_csms(django_db_setup, django_db_blocker) -> LiveServer:
    """One real Daphne/Channels server for the whole session (Twisted's reactor runs once)."""
    global _server
    if _server is None:
        _server, _ = start_server()
    return _server


@pytest.fixture
def csms(live_csms, transactional_db):
    """The live server, with a clean database for this test; the message log is flushed
    before the database is emptied so no row outlives its test."""
    from stations.message_log import message_log

    yield live_csms
    message_log.flush()

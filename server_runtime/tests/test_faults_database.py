"""Fault catalogue, database layer: `manage.py serve` (CSMS_DEBUG=false) on a PostgreSQL
cluster of the test's own (tests.faults), restarted and stopped under `ocpp` stations.

One test per case; each failed before its fix (see the README's security and operations
section for what each protects).
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from ocpp.v16 import call as call16

from tests.faults import (
    FaultCluster,
    Serve,
    connect_status,
    needs_postgres,
    serve_env,
    station,
)

# The first fault test of a session also makes the cluster (initdb, migrate).
pytestmark = [needs_postgres, pytest.mark.timeout(300)]


@pytest.fixture
def serve_on(fault_postgres: tuple[FaultCluster, str]):
    """Start `serve` on the test's database with `settings`; stopped at the end."""
    cluster, name = fault_postgres
    servers: list[Serve] = []

    def start(**settings: str) -> Serve:
        server = Serve(serve_env(cluster.url(name), **settings))
        servers.append(server)
        server.wait_listening()
        return server

    yield start
    for server in servers:
        server.stop()


async def test_postgres_restart_idle_server_admits_every_station(fault_postgres, serve_on):
    """After PostgreSQL restarts, every handler thread's connection is dead: each one is
    checked (and reopened) before it serves a station, instead of failing its first
    admission with HTTP 500."""
    cluster, _ = fault_postgres
    server = serve_on(CSMS_MESSAGE_LOG="false")
    identities = [f"PGR-{n}" for n in range(12)]
    # Every handler thread opens its connection.
    first = await asyncio.gather(*(connect_status(server.port, i) for i in identities))
    assert first == [101] * 12
    await asyncio.to_thread(cluster.restart)
    after = await asyncio.gather(*(connect_status(server.port, i) for i in identities))
    assert after == [101] * 12, f"upgrade statuses after the restart: {after}"


def _rows(cluster: FaultCluster, name: str) -> int:
    with cluster.connect(name) as db:
        row = db.execute("SELECT count(*) FROM stations_ocppmessage").fetchone()
        assert row is not None
        return int(row[0])


async def test_postgres_outage_keeps_message_log_and_logs_once(fault_postgres, serve_on):
    """Frames that arrive while PostgreSQL is down are kept (CSMS_MESSAGE_LOG_BUFFER) and
    written once it is back; the outage is logged once and then at intervals, not per frame."""
    cluster, name = fault_postgres
    server = serve_on(CSMS_MESSAGE_LOG="true", CSMS_OUTAGE_LOG_INTERVAL="30")
    stations = 8
    sent = 0
    outage = asyncio.Event()
    done = asyncio.Event()

    async def beat(identity: str) -> None:
        nonlocal sent
        async with station(server.port, identity) as (cp, _):
            while not done.is_set():
                await cp.call(call16.Heartbeat())
                if outage.is_set():
                    sent += 1
                await asyncio.sleep(0.05)

    tasks = [asyncio.create_task(beat(f"PGO-{n}")) for n in range(stations)]
    await asyncio.sleep(2)
    log_before = server.log_size()
    await asyncio.to_thread(cluster.stop)
    outage.set()
    await asyncio.sleep(8)
    outage.clear()
    log_during = server.log_size() - log_before
    await asyncio.to_thread(cluster.start)
    await asyncio.sleep(1)
    done.set()
    await asyncio.gather(*tasks)
    assert sent > 500
    # Every Heartbeat and its answer are in the log once the database is back.
    deadline = time.monotonic() + 20
    expected = stations * 2  # the boots
    while time.monotonic() < deadline:
        rows = _rows(cluster, name)
        if rows >= 2 * sent + expected:
            break
        await asyncio.sleep(0.5)
    log = server.log()
    assert rows >= 2 * sent + expected, f"{rows} rows, {2 * sent + expected} frames or more"
    assert log_during < 20_000, f"{log_during} bytes of log in an 8 s outage"
    assert len(re.findall("Traceback", log)) <= 3

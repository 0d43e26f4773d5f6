"""Fault catalogue, connections: `manage.py serve` processes on a PostgreSQL cluster and a
Redis server of the test's own (tests.faults), met by many connections at once.

One test per case; each failed before its fix (see the README's security and operations
section for what each protects).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from typing import Any

import httpx
import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16

from tests.faults import (
    FaultCluster,
    RedisServer,
    Serve,
    api_token,
    connect_status,
    needs_postgres,
    needs_redis,
    serve_env,
)

# The first fault test of a session also makes the cluster (initdb, migrate).
pytestmark = [pytest.mark.timeout(300)]


class Labelled(ChargePoint16):
    """A station that says which of several sockets it is."""

    label = ""

    @on("GetConfiguration")
    def get_configuration(self, **_: Any) -> Any:
        return result16.GetConfiguration(
            configuration_key=[{"key": "Socket", "readonly": True, "value": self.label}]
        )


async def _open(port: int, identity: str, label: str) -> tuple[Any, Any] | int:
    """A connected socket and the task reading it, or the HTTP status of its refusal."""
    try:
        ws = await websockets.connect(
            f"ws://127.0.0.1:{port}/ocpp/{identity}",
            subprotocols=[websockets.Subprotocol("ocpp1.6")],
            open_timeout=20,
        )
    except websockets.InvalidStatus as refused:
        return int(refused.response.status_code)
    cp = Labelled(identity, ws, response_timeout=10)
    cp.label = label
    return ws, asyncio.create_task(cp.start())


def _station(cluster: FaultCluster, name: str, identity: str) -> tuple[bool, str, int]:
    with cluster.connect(name) as db:
        row = db.execute(
            # Repeats of one kind for one id are counted in one row (SecurityEvent.count).
            "SELECT s.is_online, s.channel_name, (SELECT coalesce(sum(e.count), 0) FROM"
            " stations_securityevent e WHERE e.station_id = s.id"
            " AND e.type = 'DuplicateConnection') FROM stations_chargingstation s"
            " WHERE s.identity = %s",
            [identity],
        ).fetchone()
    assert row is not None
    return bool(row[0]), str(row[1]), int(row[2])


@needs_postgres
@needs_redis
async def test_simultaneous_connections_with_one_id_admit_exactly_one(
    fault_postgres: tuple[FaultCluster, str], fault_redis: RedisServer
):
    """Six sockets with one station id at once, three to each of two serving processes:
    exactly one is admitted, the others are refused or closed with a DuplicateConnection
    security event each (repeats counted in one row), and closing them leaves the station
    online on the winner, which commands reach."""
    cluster, name = fault_postgres
    identity = "DUP-1"
    servers = [
        Serve(serve_env(cluster.url(name), fault_redis.url, CSMS_MESSAGE_LOG="false"))
        for _ in range(2)
    ]
    opened: list[tuple[Any, Any]] = []
    try:
        for server in servers:
            await asyncio.to_thread(server.wait_listening)
        # The station is known (its first connection registers it), then gone.
        first = await _open(servers[0].port, identity, "first")
        assert not isinstance(first, int)
        await first[0].close()
        first[1].cancel()
        await asyncio.sleep(0.5)

        results = await asyncio.gather(
            *(_open(servers[n % 2].port, identity, f"socket-{n}") for n in range(6))
        )
        opened = [r for r in results if not isinstance(r, int)]
        await asyncio.sleep(3)  # losers that were admitted are closed meanwhile
        still_open = [(ws, task) for ws, task in opened if ws.close_code is None]
        refused = [r for r in results if isinstance(r, int)]
        assert len(still_open) == 1, (
            f"{len(still_open)} sockets open, refused with {refused}, "
            f"closed: {[ws.close_code for ws, _ in opened if ws.close_code is not None]}"
        )
        online, channel, events = _station(cluster, name, identity)
        assert online and channel
        # Each one refused is recorded (on a loaded machine one may instead have been
        # admitted and closed, when its rival's process was slow to answer the probe).
        assert refused and events == len(refused)

        token = api_token(cluster, name)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{servers[1].port}",
            headers={"Authorization": f"Token {token}"},
            timeout=30,
        ) as api:
            response = await api.post(
                f"/api/stations/{identity}/commands/GetConfiguration?timeout=5", json={}
            )
        assert response.status_code == 200, response.text
        assert response.json()["response"]["configurationKey"][0]["value"] != "first"
        winner, _ = still_open[0]
        await winner.close()
        await asyncio.sleep(1)
        assert not _station(cluster, name, identity)[0]
    finally:
        for ws, task in opened:
            with contextlib.suppress(Exception):
                await ws.close()
            task.cancel()
        for server in servers:
            server.stop()


async def _slow_request(port: int, closed: list[float], start: float) -> None:
    """A slowloris client: a request line, then one header line a second, never the end."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.3", 0))

    async def drip() -> None:
        writer.write(b"GET /ocpp/SLOW HTTP/1.1\r\nHost: csms\r\n")
        for n in range(60):
            await asyncio.sleep(1)
            writer.write(f"X-Slow-{n}: 1\r\n".encode())

    dripping = asyncio.create_task(drip())
    try:
        with contextlib.suppress(ConnectionError):
            while await reader.read(1024):
                pass
        closed.append(asyncio.get_running_loop().time() - start)
    finally:
        dripping.cancel()
        writer.close()


@needs_postgres
async def test_slowloris_handshakes_are_closed_and_bounded_per_source(
    fault_postgres: tuple[FaultCluster, str],
):
    """Connections that send one header line a second are closed once
    CSMS_HANDSHAKE_TIMEOUT has passed, one source holds at most
    CSMS_HANDSHAKE_MAX_PER_SOURCE of them, and stations still connect meanwhile."""
    cluster, name = fault_postgres
    server = Serve(
        serve_env(
            cluster.url(name),
            CSMS_MESSAGE_LOG="false",
            CSMS_HANDSHAKE_TIMEOUT="3",
            CSMS_HANDSHAKE_MAX_PER_SOURCE="20",
        )
    )
    slow = 60
    closed: list[float] = []
    clients: list[asyncio.Task[None]] = []
    try:
        await asyncio.to_thread(server.wait_listening)
        start = asyncio.get_running_loop().time()
        clients = [
            asyncio.create_task(_slow_request(server.port, closed, start)) for _ in range(slow)
        ]
        await asyncio.sleep(1)
        at_once = len(closed)
        assert await connect_status(server.port, "SLOW-STATION") == 101
        await asyncio.wait(clients, timeout=8)
        assert at_once >= slow - 20, f"{at_once} of {slow} closed at once"
        assert len(closed) == slow, f"{len(closed)} of {slow} slow connections closed in 8 s"
        assert max(closed) < 6
    finally:
        for client in clients:
            client.cancel()
        server.stop()


async def test_connection_churn_leaves_no_cyclic_garbage(csms):
    """Dropped station connections are freed by reference counting: none of their objects
    waits for the cyclic collector (serve freezes long-lived objects out of its sight, so
    such garbage piled up: 118 -> 317 MB over 12,000 dropped connections)."""
    from server_runtime.server import CsmsWebSocketProtocol

    async def churn(n: int) -> None:
        ws = await websockets.connect(
            f"{csms.ws_url}/ocpp/CHURN-{n}", subprotocols=[websockets.Subprotocol("ocpp1.6")]
        )
        await ws.send('[2, "1", "Heartbeat", {}]')
        await ws.recv()
        ws.transport.abort()  # dropped, as a station losing its network

    gc.collect()
    for batch in range(4):
        await asyncio.gather(*(churn(batch * 25 + n) for n in range(25)))
    await asyncio.sleep(2.5)  # Daphne reaps finished connections within a second or two
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        left = [o for o in gc.garbage if type(o) is CsmsWebSocketProtocol]
        kinds = {type(o).__name__ for o in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == [], f"{len(left)} closed connections wait for the collector: {kinds}"

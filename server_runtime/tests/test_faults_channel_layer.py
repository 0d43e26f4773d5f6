"""Fault catalogue, channel layer: `manage.py serve` on a Redis server (and a PostgreSQL
cluster) of the test's own (tests.faults); Redis is killed and started again under `ocpp`
stations.

One test per case; each failed before its fix (see the README's security and operations
section for what each protects).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
from ocpp.v16 import call as call16

from tests.faults import (
    FaultCluster,
    RedisServer,
    Serve,
    api_token,
    needs_postgres,
    needs_redis,
    serve_env,
    station,
)

# The first fault test of a session also makes the cluster (initdb, migrate).
pytestmark = [needs_postgres, needs_redis, pytest.mark.timeout(300)]


async def _command(api: httpx.AsyncClient, identity: str) -> tuple[int, dict[str, Any]]:
    response = await api.post(
        f"/api/stations/{identity}/commands/GetConfiguration?timeout=5", json={}
    )
    return response.status_code, response.json() if response.content else {}


def _online(cluster: FaultCluster, name: str) -> dict[str, tuple[bool, str]]:
    with cluster.connect(name) as db:
        rows = db.execute(
            "SELECT identity, is_online, channel_name FROM stations_chargingstation"
        ).fetchall()
    return {identity: (online, channel) for identity, online, channel in rows}


async def test_redis_outage_keeps_stations_connected_and_served(
    fault_postgres: tuple[FaultCluster, str], fault_redis: RedisServer
):
    """While Redis is down stations stay connected and their calls are answered; commands to
    them fail with a clear error (503 ChannelLayerUnavailable); once Redis is back, without
    a restart of the server, every command reaches its station."""
    cluster, name = fault_postgres
    server = Serve(serve_env(cluster.url(name), fault_redis.url, CSMS_MESSAGE_LOG="false"))
    identities = [f"RDS-{n}" for n in range(3)]
    try:
        await asyncio.to_thread(server.wait_listening)
        token = api_token(cluster, name)
        async with (
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{server.port}",
                headers={"Authorization": f"Token {token}"},
                timeout=30,
            ) as api,
            contextlib.AsyncExitStack() as stack,
        ):
            stations = [
                await stack.enter_async_context(station(server.port, i)) for i in identities
            ]
            for identity in identities:
                assert (await _command(api, identity))[0] == 200

            log_from = server.log_size()
            fault_redis.stop()
            await asyncio.sleep(1)
            answered = 0
            for _ in range(3):
                for cp, _ws in stations:
                    await asyncio.wait_for(cp.call(call16.Heartbeat()), 10)
                    answered += 1
                await asyncio.sleep(1)
            during = [await _command(api, i) for i in identities]
            assert all(ws.close_code is None for _, ws in stations), "a station was dropped"
            assert answered == 9
            assert [status for status, _ in during] == [503] * 3, during
            assert all(body["error"]["code"] == "ChannelLayerUnavailable" for _, body in during), (
                during
            )
            new_status = None
            with contextlib.suppress(Exception):
                async with station(server.port, "RDS-NEW"):
                    new_status = 101
            assert new_status == 101, "a station could not connect during the outage"

            await asyncio.to_thread(fault_redis.start)
            await asyncio.sleep(3)
            after = [await _command(api, i) for _ in range(20) for i in identities]
            statuses = [status for status, _ in after]
            assert statuses == [200] * 60, f"{statuses.count(200)} of 60 commands answered"
            assert all(ws.close_code is None for _, ws in stations), "a station was dropped"
            # The outage is logged once and when it ends, not per message.
            outage_log = server.log()[log_from:]
            assert "Traceback" not in outage_log, outage_log[-3000:]
            online = _online(cluster, name)
            assert all(online[i][0] for i in identities), online
    finally:
        server.stop()

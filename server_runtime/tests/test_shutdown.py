"""Stopping `serve` by signal (server_runtime.shutdown): a real server process, `ocpp` package
stations, and what they and the database see."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import connection
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16

from server_runtime.tests.test_scale_out import (
    ServerProcess,
    listening_sockets,
    ocpp_call,
    server_env,
)
from stations.models import ChargingStation, OcppMessage

pytestmark = pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
    reason="needs REDIS_URL and DATABASE_URL: the server process shares PostgreSQL and Redis",
)


class SlowStation(ChargePoint16):
    """Answers GetConfiguration after a while: a call in flight when the server is stopped."""

    asked: asyncio.Event

    @on("GetConfiguration")
    async def get_configuration(self, **_: Any):
        self.asked.set()
        await asyncio.sleep(1.5)
        return result16.GetConfiguration(
            configuration_key=[{"key": "AnsweredLate", "readonly": True, "value": "yes"}]
        )


@contextlib.asynccontextmanager
async def station(port: int, identity: str):
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ocpp/{identity}", subprotocols=["ocpp1.6"], ping_interval=None
    )
    cp = SlowStation(identity, ws, response_timeout=15)
    cp.asked = asyncio.Event()
    task = asyncio.create_task(cp.start())
    try:
        boot = await cp.call(
            call16.BootNotification(charge_point_vendor="Acme", charge_point_model="AC-22")
        )
        assert boot.status == "Accepted"
        yield cp, ws
    finally:
        await ws.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@sync_to_async
def stored(identity: str) -> tuple[bool, int]:
    try:
        station = ChargingStation.objects.get(identity=identity)
        return station.is_online, OcppMessage.objects.filter(station=station).count()
    finally:
        connection.close()


async def exit_code(server: ServerProcess, timeout: float = 20) -> int:
    for _ in range(int(timeout * 10)):
        if (code := server.proc.poll()) is not None:
            return code
        await asyncio.sleep(0.1)
    raise AssertionError("the server did not exit")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_fast_shutdown_closes_every_station_with_1001_and_marks_it_offline(
    transactional_db, signum
):
    env = {**server_env("shutdown-fast"), "CSMS_MESSAGE_LOG": "true"}
    server = ServerProcess(env)
    try:
        await asyncio.to_thread(server.wait_listening)
        async with (
            station(server.port, "STOP-A") as (_, ws_a),
            station(server.port, "STOP-B") as (_, ws_b),
        ):
            assert (await stored("STOP-A"))[0]
            server.proc.send_signal(signum)
            await asyncio.wait_for(ws_a.wait_closed(), 10)
            await asyncio.wait_for(ws_b.wait_closed(), 10)
            # A close frame, not a dropped connection: stations reconnect at once.
            assert ws_a.close_code == 1001 and ws_b.close_code == 1001
            assert await exit_code(server) == 0
        for identity in ("STOP-A", "STOP-B"):
            online, messages = await stored(identity)
            assert not online
            # The message log was flushed before exit: the boot and its answer.
            assert messages >= 2
    finally:
        server.stop()


async def test_graceful_shutdown_lets_a_call_in_flight_finish_then_closes(transactional_db):
    env = server_env("shutdown-graceful")
    server = ServerProcess(env)
    try:
        await asyncio.to_thread(server.wait_listening)
        async with station(server.port, "QUIT-1") as (cp, ws):
            call = asyncio.create_task(ocpp_call(env, "QUIT-1"))
            await asyncio.wait_for(cp.asked.wait(), 30)
            server.proc.send_signal(signal.SIGQUIT)
            code, outcome = await call
            # The station's late answer reached the caller: the call was let finish.
            assert code == 0, outcome
            assert outcome["response"]["configurationKey"][0]["key"] == "AnsweredLate"
            await asyncio.wait_for(ws.wait_closed(), 10)
            assert ws.close_code == 1001
            assert await exit_code(server) == 0
        assert not (await stored("QUIT-1"))[0]
    finally:
        server.stop()


async def _until(check, timeout: float) -> None:
    for _ in range(int(timeout * 10)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_workers_hup_reloads_winch_parks_and_the_supervisor_stays(transactional_db):
    server = ServerProcess(server_env("reload"), "--workers", "2")
    try:
        await asyncio.to_thread(server.wait_listening)
        await _until(lambda: listening_sockets(server.port) == 2, 60)
        before = server.children()
        async with station(server.port, "HUP-1") as (_, ws):
            server.proc.send_signal(signal.SIGHUP)
            # New workers listen first; then the old ones close their stations: 1001.
            await asyncio.wait_for(ws.wait_closed(), 90)
            assert ws.close_code == 1001
        await _until(lambda: len(server.children()) == 2, 30)
        after = server.children()
        assert not after & before
        async with station(server.port, "HUP-1"):
            pass  # the station is served again, by a new worker
        # WINCH: the workers stop gracefully, the supervisor stays; HUP starts them again.
        server.proc.send_signal(signal.SIGWINCH)
        await _until(lambda: not server.children(), 60)
        assert server.proc.poll() is None
        server.proc.send_signal(signal.SIGHUP)
        await _until(lambda: listening_sockets(server.port) == 2, 60)
        async with station(server.port, "HUP-2"):
            pass
    finally:
        server.stop_supervisor()

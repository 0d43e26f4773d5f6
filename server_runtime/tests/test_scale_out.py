"""Several server processes serve one fleet over Redis and PostgreSQL (server_runtime.nodes).

Two `manage.py serve` subprocesses share the test database and a Redis channel layer: a call
sent by a third process (`manage.py ocpp_call`) reaches the station on whichever process holds
its websocket and the answer comes back; when a process is killed, a survivor marks its
stations offline and they reconnect to the survivor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16

from benchmarks.run import process_tree
from stations.models import ChargingStation
from tests.live import eventually

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
    reason="needs REDIS_URL and DATABASE_URL: several processes share PostgreSQL and Redis",
)


class Station(ChargePoint16):
    @on("GetConfiguration")
    def get_configuration(self, **_: Any):
        return result16.GetConfiguration(
            configuration_key=[{"key": "ServedBy", "readonly": True, "value": self.id}]
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(prefix: str) -> dict[str, str]:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    env = dict(os.environ)
    env.update(
        {
            # The test database pytest-django created, which this test's transactional_db
            # empties afterwards.
            "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}",
            "CSMS_CHANNEL_PREFIX": prefix,
            "CSMS_NODE_HEARTBEAT": "0.5",
            "CSMS_NODE_TTL": "2",
            "CSMS_LOG_LEVEL": "WARNING",
            "CSMS_MESSAGE_LOG": "false",
            # The tests' webhook and callback receivers listen on loopback.
            "CSMS_OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",
        }
    )
    return env


class ServerProcess:
    def __init__(self, env: dict[str, str], *options: str, port: int | None = None):
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "serve",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                *options,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_listening(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()[-2000:]}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            time.sleep(0.1)
        raise RuntimeError("server did not listen")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.proc.stderr.close()

    def stop_supervisor(self) -> None:
        """SIGTERM, as an init system stops it: the supervisor stops its workers."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(40)
        finally:
            self.stop()

    def children(self) -> set[int]:
        """The pids of its child processes (the workers of `serve --workers`)."""
        return set(process_tree(self.proc.pid)) - {self.proc.pid}


@contextlib.asynccontextmanager
async def station_on(port: int, identity: str):
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ocpp/{identity}", subprotocols=["ocpp1.6"], ping_interval=None
    )
    cp = Station(identity, ws, response_timeout=15)
    task = asyncio.create_task(cp.start())
    try:
        boot = await cp.call(
            call16.BootNotification(charge_point_vendor="Acme", charge_point_model="AC-22")
        )
        assert boot.status == "Accepted"
        yield cp, task
    finally:
        await ws.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def ocpp_call(env: dict[str, str], identity: str) -> tuple[int, dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "ocpp_call",
        identity,
        "GetConfiguration",
        "{}",
        "--timeout",
        "10",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode().strip()
    return proc.returncode, json.loads(text) if text else {"stderr": err.decode()}


@sync_to_async
def online_state(identity: str) -> tuple[bool, str]:
    try:
        station = ChargingStation.objects.get(identity=identity)
    finally:
        # Leave no session on the test database behind this thread.
        connection.close()
    return station.is_online, station.channel_name


async def test_call_crosses_processes_and_a_dead_process_loses_its_stations(transactional_db):
    # The servers share this process's channel layer prefix, so the test can call through it.
    env = server_env(os.environ.get("CSMS_CHANNEL_PREFIX", "csms"))
    server_a, server_b = ServerProcess(env), ServerProcess(env)
    try:
        await asyncio.gather(
            sync_to_async(server_a.wait_listening)(), sync_to_async(server_b.wait_listening)()
        )
        async with station_on(server_b.port, "SCALE-1") as (_, reader):
            online, channel_on_b = await online_state("SCALE-1")
            assert online

            # A command from another process reaches the station held by process B...
            code, answer = await ocpp_call(env, "SCALE-1")
            assert code == 0, answer
            assert answer["status"] == "completed"
            assert answer["response"]["configurationKey"][0]["value"] == "SCALE-1"

            # ... and when B dies without closing anything, A marks the station offline.
            server_b.proc.kill()
            await asyncio.wait({reader}, timeout=10)
            assert reader.done()
            await eventually(lambda: _offline("SCALE-1"), timeout=20, interval=0.2)

        # The station reconnects to the survivor and is reachable again.
        async with station_on(server_a.port, "SCALE-1"):
            online, channel_on_a = await online_state("SCALE-1")
            assert online and channel_on_a != channel_on_b
            # Several sweep rounds later it is still online: its process is alive.
            await asyncio.sleep(1.5)
            assert (await online_state("SCALE-1"))[0]
            # A command from a third process reaches it there. (Not from this test process:
            # with Redis, one event loop per process reads the process-local reply channels,
            # and the in-process test server's loop may hold that reader.)
            code, answer = await ocpp_call(env, "SCALE-1")
            assert code == 0, answer
            assert answer["status"] == "completed"
            assert answer["response"]["configurationKey"][0]["value"] == "SCALE-1"
    finally:
        server_a.stop()
        server_b.stop()


async def test_workers_share_one_port_and_a_dead_worker_is_replaced(transactional_db):
    env = server_env(os.environ.get("CSMS_CHANNEL_PREFIX", "csms"))
    server = ServerProcess(env, "--workers", "2")
    try:
        await sync_to_async(server.wait_listening)()
        # Both workers listen (the first to bind already answers).
        await eventually(lambda: listening_sockets(server.port) == 2, timeout=30, interval=0.1)
        identities = [f"WORKER-{n}" for n in range(12)]
        async with contextlib.AsyncExitStack() as stack:
            readers = {}
            for identity in identities:
                _, readers[identity] = await stack.enter_async_context(
                    station_on(server.port, identity)
                )
            channels = {i: (await online_state(i))[1] for i in identities}
            # The kernel spread the stations over both workers: two node ids.
            nodes = {name.split("!")[0] for name in channels.values()}
            assert len(nodes) == 2, channels

            # A command from another process reaches a station on each worker.
            for node in nodes:
                identity = next(i for i, name in channels.items() if name.startswith(node))
                code, answer = await ocpp_call(env, identity)
                assert code == 0, answer
                assert answer["response"]["configurationKey"][0]["value"] == identity

            # One worker dies: its stations lose their sockets and are marked offline by
            # the other; the supervisor starts a new worker in its place.
            workers = server.children()
            assert len(workers) == 2
            victim = min(workers)
            os.kill(victim, signal.SIGKILL)
            await asyncio.wait(readers.values(), timeout=10, return_when=asyncio.FIRST_COMPLETED)
            await asyncio.sleep(1)  # the rest of its sockets close with the first
            lost = [i for i, reader in readers.items() if reader.done()]
            kept = [i for i in identities if i not in lost]
            assert lost and kept
            for identity in lost:
                await eventually(lambda i=identity: _offline(i), timeout=20, interval=0.2)
            assert all([(await online_state(i))[0] for i in kept])
            await eventually(
                lambda: len(server.children() - {victim}) == 2, timeout=20, interval=0.2
            )

        # The lost stations connect again, through the same port.
        async with station_on(server.port, lost[0]):
            assert (await online_state(lost[0]))[0]
    finally:
        server.stop_supervisor()


def listening_sockets(port: int) -> int:
    """How many sockets listen on 127.0.0.1:`port` (several with SO_REUSEPORT)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
            count += 1
    return count


async def _offline(identity: str) -> bool:
    online, channel = await online_state(identity)
    return not online and channel == ""

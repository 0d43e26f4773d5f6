"""A PostgreSQL cluster and a Redis server of the test's own, to break on purpose.

The fault catalogues (`*/tests/test_faults_*.py`) stop, restart and kill the database and
the channel layer under a running `manage.py serve`: never the shared servers other tests
and people use. The cluster (tests.pg_cluster) is made once per session (initdb, then
`migrate` into a template database); each test gets a fresh database copied from the
template, and may stop and start the whole cluster. Redis likewise runs on a port of its
own, one per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16

from tests.pg_cluster import PostgresCluster, _bin_dir

ROOT = Path(__file__).resolve().parents[1]
REDIS_SERVER = shutil.which("redis-server") or ""

needs_postgres = pytest.mark.skipif(
    _bin_dir() is None,
    reason="PostgreSQL server binaries (initdb, pg_ctl) are not installed",
)
needs_redis = pytest.mark.skipif(not REDIS_SERVER, reason="redis-server is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FaultCluster(PostgresCluster):
    """tests.pg_cluster's cluster, made once per session, with a migrated template database
    that each test copies."""

    template = "csms_fault_template"

    def __init__(self) -> None:
        super().__init__(Path(tempfile.mkdtemp(prefix="csms-pg-")))
        self._databases = 0
        self.init()
        self.start()

    def restart(self) -> None:
        self.stop()
        self.start()

    def connect(self, name: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(self.url(name), autocommit=True)

    def migrate_template(self) -> None:
        with self.connect() as db:
            db.execute(f'CREATE DATABASE "{self.template}"')
        env = {**os.environ, "DATABASE_URL": self.url(self.template)}
        env.pop("REDIS_URL", None)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=300,
        )

    def new_database(self) -> str:
        """A fresh, migrated database (a copy of the template): its name."""
        self._databases += 1
        name = f"csms_fault_{self._databases}"
        with self.connect() as db:
            db.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            if self.running():
                self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    """A redis-server on a free port, no persistence; stop() and start() it at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not listen")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[FaultCluster]:
    """The session's own PostgreSQL cluster, with a migrated template database."""
    cluster = FaultCluster()
    try:
        cluster.migrate_template()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def fault_postgres(postgres_cluster: FaultCluster) -> Iterator[tuple[FaultCluster, str]]:
    """The cluster (running) and the name of a fresh database for this test."""
    if not postgres_cluster.running():
        postgres_cluster.start()  # a test failed while it was stopped
    yield postgres_cluster, postgres_cluster.new_database()
    if not postgres_cluster.running():
        postgres_cluster.start()


@pytest.fixture
def fault_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


def serve_env(database_url: str, redis_url: str = "", **settings: str) -> dict[str, str]:
    """The environment of a production-like `serve`: DEBUG off, its own database and Redis."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CSMS_") and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "CSMS_DEBUG": "false",
            "CSMS_SECRET_KEY": "fault-catalogue-" + "k" * 40,
            "CSMS_LOG_LEVEL": "INFO",
            "CSMS_SCHEDULER": "false",
            "CSMS_NODE_HEARTBEAT": "0.5",
            "CSMS_NODE_TTL": "2",
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(settings)
    return env


class Serve:
    """`manage.py serve` as a subprocess, its output kept in a file."""

    def __init__(self, env: dict[str, str], *options: str) -> None:
        self.port = free_port()
        self.log_path = Path(tempfile.mkstemp(prefix="csms-serve-", suffix=".log")[1])
        self._log = open(self.log_path, "wb")  # closed in stop()
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
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_listening(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log()[-3000:]}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            time.sleep(0.1)
        raise RuntimeError("serve did not listen")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._log.close()
        self.log_path.unlink(missing_ok=True)


class Station(ChargePoint16):
    """An `ocpp` package 1.6 station that answers GetConfiguration."""

    @on("GetConfiguration")
    def get_configuration(self, **_: Any) -> Any:
        return result16.GetConfiguration(
            configuration_key=[{"key": "Station", "readonly": True, "value": self.id}]
        )


@contextlib.asynccontextmanager
async def station(port: int, identity: str, **connect: Any) -> AsyncIterator[tuple[Station, Any]]:
    """A connected station whose BootNotification was accepted."""
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ocpp/{identity}",
        subprotocols=[websockets.Subprotocol("ocpp1.6")],
        open_timeout=20,
        **connect,
    )
    cp = Station(identity, ws, response_timeout=20)
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


async def connect_status(port: int, identity: str) -> int:
    """The HTTP status the websocket upgrade of `identity` gets (101 when accepted); a
    station that gets 101 boots and disconnects."""
    try:
        async with station(port, identity):
            return 101
    except websockets.InvalidStatus as refused:
        return int(refused.response.status_code)


def api_token(cluster: FaultCluster, name: str) -> str:
    """The API token of a new superuser in database `name` (no password: no slow hashing)."""
    key = os.urandom(20).hex()
    with cluster.connect(name) as db:
        row = db.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,"
            " email, is_staff, is_active, date_joined)"
            " VALUES ('!', true, %s, '', '', '', true, true, now()) RETURNING id",
            [f"fault-{key[:8]}"],
        ).fetchone()
        assert row is not None
        db.execute(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, now(), %s)",
            [key, row[0]],
        )
    return key

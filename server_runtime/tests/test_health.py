import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import httpx
import pytest
from django.test import Client

from server_runtime.tests.test_scale_out import ROOT, ServerProcess
from tests.pg_cluster import PostgresCluster


def test_health_answers_without_io() -> None:
    response = Client().get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_when_database_migrated_and_channel_layer_up() -> None:
    response = Client().get("/ready")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_names_the_fix_when_migrations_missing() -> None:
    with mock.patch(
        "django.db.migrations.executor.MigrationExecutor.migration_plan",
        return_value=[("x", False)],
    ):
        response = Client().get("/ready")
    assert response.status_code == 503
    assert "manage.py migrate" in response.json()["problems"]["migrations"]


@pytest.mark.django_db
def test_ready_names_the_fix_when_channel_layer_down() -> None:
    with mock.patch("server_runtime.health._channel_round_trip", side_effect=OSError("down")):
        response = Client().get("/ready")
    assert response.status_code == 503
    assert "REDIS_URL" in response.json()["problems"]["channel_layer"]


# --- a real server on a PostgreSQL cluster of the test's own -------------------------------


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    # Not under pytest's tmp_path: its folders are private to root, and PostgreSQL runs as
    # its own user when the tests run as root.
    root = Path(tempfile.mkdtemp(prefix="csms-pg-"))
    pg = PostgresCluster(root)
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        if pg.running():
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )


def _ready(port: int) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=15)


def _until_ready(port: int, timeout: float = 20) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = _ready(port)
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_ready_fails_naming_the_database_while_postgresql_is_stopped_or_unmigrated(
    cluster: PostgresCluster,
) -> None:
    cluster.create_database("csms_ready")
    env = {
        **os.environ,
        "DATABASE_URL": cluster.url("csms_ready"),
        "CSMS_SCHEDULER": "false",
        "CSMS_LOG_LEVEL": "ERROR",
    }
    env.pop("REDIS_URL", None)
    _manage(env, "migrate", "--noinput", "-v0")
    server = ServerProcess(env)
    try:
        server.wait_listening()
        assert _ready(server.port).json() == {"status": "ok"}

        cluster.stop()
        down = _ready(server.port)
        assert down.status_code == 503
        problems = down.json()["problems"]
        assert "database unreachable" in problems["database"]
        assert "DATABASE_URL" in problems["database"]
        # Liveness does not depend on the database: an orchestrator keeps the process.
        assert httpx.get(f"http://127.0.0.1:{server.port}/health").status_code == 200

        cluster.start()
        assert _until_ready(server.port).status_code == 200

        # A migration rolled back under the running server (as a deploy that forgot
        # `migrate` looks): not ready, and the answer names the command.
        _manage(env, "migrate", "server_runtime", "zero", "--noinput", "-v0")
        unmigrated = _ready(server.port)
        assert unmigrated.status_code == 503
        assert set(unmigrated.json()["problems"]) == {"migrations"}
        assert "1 migration(s) not applied" in unmigrated.json()["problems"]["migrations"]
        assert "manage.py migrate" in unmigrated.json()["problems"]["migrations"]

        _manage(env, "migrate", "--noinput", "-v0")
        assert _ready(server.port).json() == {"status": "ok"}
    finally:
        server.stop()

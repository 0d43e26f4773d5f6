"""SIGHUP to `serve` without workers (server_runtime.reload): the environment file is read
again, what can change while running takes effect without a restart, and the log names what
needs one. A real server process, `ocpp` package stations."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from pathlib import Path

import pytest
import websockets
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16

from server_runtime.tests.test_scale_out import ServerProcess, server_env
from tests.live import eventually

pytestmark = pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
    reason="needs REDIS_URL and DATABASE_URL: the server process shares PostgreSQL and Redis",
)


class Output:
    """The server's log lines, read as they come."""

    def __init__(self, server: ServerProcess) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(server,), daemon=True)
        self.thread.start()

    def _read(self, server: ServerProcess) -> None:
        for line in server.proc.stderr:
            self.lines.append(line.decode(errors="replace").rstrip())

    def having(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]


@contextlib.asynccontextmanager
async def booted(port: int, identity: str):
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ocpp/{identity}", subprotocols=["ocpp1.6"], ping_interval=None
    )
    cp = ChargePoint16(identity, ws, response_timeout=15)
    task = asyncio.create_task(cp.start())
    try:
        boot = await cp.call(
            call16.BootNotification(charge_point_vendor="Acme", charge_point_model="AC-22")
        )
        yield boot, ws
    finally:
        await ws.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def write(path: Path, **values: str) -> None:
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))


async def test_hup_without_workers_applies_log_level_and_boot_settings_names_restart_ones(
    transactional_db, tmp_path
):
    env_file = tmp_path / "csms.env"
    write(env_file, CSMS_LOG_LEVEL="WARNING", CSMS_HEARTBEAT_INTERVAL="300")
    env = {**server_env("reload-hup"), "CSMS_ENV_FILE": str(env_file)}
    # What the file sets must not come from the test's own environment (it would win).
    for name in (
        "CSMS_LOG_LEVEL",
        "CSMS_HEARTBEAT_INTERVAL",
        "CSMS_BOOT_STATUS",
        "CSMS_BOOT_RETRY_INTERVAL",
        "CSMS_WS_PING_INTERVAL",
    ):
        env.pop(name, None)
    server = ServerProcess(env)
    output = Output(server)
    try:
        await asyncio.to_thread(server.wait_listening)
        async with booted(server.port, "HUP-1") as (boot, first):
            assert boot.status == "Accepted" and boot.interval == 300
            # At WARNING, a connection is not logged.
            assert not output.having("Station HUP-1 connected")

            write(
                env_file,
                CSMS_LOG_LEVEL="INFO",
                CSMS_HEARTBEAT_INTERVAL="77",
                CSMS_BOOT_STATUS="Pending",
                CSMS_BOOT_RETRY_INTERVAL="42",
                CSMS_WS_PING_INTERVAL="5",
            )
            pid = server.proc.pid
            server.proc.send_signal(signal.SIGHUP)
            await eventually(lambda: output.having("needs a restart"), timeout=10)

            applied = output.having("HUP: re-read")[0]
            for name in (
                "CSMS_LOG_LEVEL",
                "CSMS_HEARTBEAT_INTERVAL",
                "CSMS_BOOT_STATUS",
                "CSMS_BOOT_RETRY_INTERVAL",
            ):
                assert name in applied
            restart = output.having("needs a restart")[0]
            assert "CSMS_WS_PING_INTERVAL" in restart
            assert "CSMS_HEARTBEAT_INTERVAL" not in restart

            # Same process, the first station still connected, the new settings in force.
            assert server.proc.poll() is None and server.proc.pid == pid
            assert first.state is websockets.protocol.State.OPEN
            async with booted(server.port, "HUP-2") as (second, _):
                assert second.status == "Pending"
                assert second.interval == 42
            await eventually(lambda: output.having("Station HUP-2 connected"), timeout=5)

            # An invalid value applies nothing and says so.
            write(env_file, CSMS_LOG_LEVEL="INFO", CSMS_HEARTBEAT_INTERVAL="often")
            server.proc.send_signal(signal.SIGHUP)
            await eventually(lambda: output.having("was not applied"), timeout=10)
            assert "CSMS_HEARTBEAT_INTERVAL" in output.having("was not applied")[0]
    finally:
        server.stop()

"""Background work that survives a restart (issue 20): event webhooks and command callbacks
queued towards a receiver that is down are stored, the `serve` process is killed (SIGKILL),
started again with the receiver up, and every delivery arrives exactly once by its
X-CSMS-Delivery id; a command the killed process was awaiting is reported failed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import connection
from ocpp.v16 import call as call16

from commands.models import Command
from integrations.models import EventDelivery, EventSubscription
from server_runtime.tests.test_scale_out import ServerProcess, Station, free_port, server_env
from tests.api_helpers import generic_station_class, make_user
from tests.live import eventually

pytestmark = pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
    reason="needs REDIS_URL and DATABASE_URL: the server process shares PostgreSQL and Redis",
)

SilentStation = generic_station_class("1.6", silent=True)


class Receiver:
    """A real HTTP receiver on a chosen port: counts every delivery id it is posted."""

    def __init__(self, port: int) -> None:
        self.ids: Counter[str] = Counter()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.ids[self.headers["X-CSMS-Delivery"]] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def db_call(func):
    @sync_to_async
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        finally:
            connection.close()

    return run


@db_call
def setup(url: str) -> str:
    EventSubscription.objects.create(
        name="ops",
        url=url,
        secret="hush",
        events=["station.connected", "station.booted"],
        max_attempts=50,
    )
    return make_user("ops", "operator")[1]


@db_call
def state() -> dict[str, Any]:
    return {
        "webhooks": list(EventDelivery.objects.values_list("id", "status", "attempts")),
        "commands": list(
            Command.objects.filter(origin="api").values(
                "pk", "status", "error", "callback_status", "callback_attempts"
            )
        ),
    }


@contextlib.asynccontextmanager
async def stations(port: int):
    connections = []
    try:
        for identity, cls in (("DUR-1", Station), ("DUR-2", SilentStation)):
            ws = await websockets.connect(
                f"ws://127.0.0.1:{port}/ocpp/{identity}",
                subprotocols=["ocpp1.6"],
                ping_interval=None,
            )
            cp = cls(identity, ws, response_timeout=15)
            task = asyncio.create_task(cp.start())
            connections.append((ws, task))
            await cp.call(
                call16.BootNotification(charge_point_vendor="Acme", charge_point_model="AC-22")
            )
        yield
    finally:
        for ws, task in connections:
            task.cancel()
            with contextlib.suppress(BaseException):
                await ws.close()


async def test_webhooks_and_callbacks_queued_when_serve_is_killed_arrive_once_after_restart(
    transactional_db,
):
    receiver_port = free_port()  # nothing listens there yet: the receiver is down
    base = f"http://127.0.0.1:{receiver_port}"
    token = await setup(f"{base}/hook")
    env = {
        **server_env("durable"),
        "CSMS_WEBHOOK_RETRY_BASE": "0.3",
        "CSMS_WEBHOOK_RETRY_MAX": "1",
        "CSMS_CALLBACK_ATTEMPTS": "50",
        "CSMS_CALLBACK_BACKOFF": "0.3",
        "CSMS_CALLBACK_BACKOFF_MAX": "1",
        "CSMS_DELIVERY_LEASE": "1",
        "CSMS_JOB_DELIVERIES_INTERVAL": "1",
    }
    server = ServerProcess(env)
    try:
        await asyncio.to_thread(server.wait_listening)
        async with stations(server.port):
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{server.port}",
                headers={"Authorization": f"Token {token}"},
            ) as api:
                for identity in ("DUR-1", "DUR-2"):
                    answer = await api.post(
                        f"/api/stations/{identity}/commands/GetConfiguration",
                        params={"callback_url": f"{base}/callback", "timeout": "120"},
                        json={},
                    )
                    assert answer.status_code == 202, answer.text

            async def queued() -> bool:
                now = await state()
                commands = {c["status"]: c for c in now["commands"]}
                return (
                    len(now["webhooks"]) == 4
                    and all(attempts >= 1 for _, _, attempts in now["webhooks"])
                    and commands.get("completed", {}).get("callback_attempts", 0) >= 1
                    and "pending" in commands
                )

            await eventually(queued, timeout=20, interval=0.2)
            server.proc.kill()
            server.proc.wait(10)
        before = await state()
        assert all(status == "pending" for _, status, _ in before["webhooks"])

        receiver = Receiver(receiver_port)
        server = ServerProcess(env)
        try:
            await asyncio.to_thread(server.wait_listening)

            async def delivered() -> bool:
                now = await state()
                return all(s == "delivered" for _, s, _ in now["webhooks"]) and all(
                    c["callback_status"] == "delivered" for c in now["commands"]
                )

            await eventually(delivered, timeout=30, interval=0.2)
            await asyncio.sleep(2)  # any duplicate would arrive by now
            after = await state()
        finally:
            receiver.close()
    finally:
        server.stop()

    expected = {str(pk) for pk, _, _ in after["webhooks"]} | {
        f"command-{c['pk']}" for c in after["commands"]
    }
    assert set(receiver.ids) == expected
    assert all(count == 1 for count in receiver.ids.values()), receiver.ids
    # The command the killed process was awaiting is reported failed, not left pending.
    failed = [c for c in after["commands"] if c["status"] == "error"]
    assert len(failed) == 1 and failed[0]["error"]["code"] == "ServerStopped"

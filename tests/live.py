"""A real Daphne server (our CsmsServer) in a background thread, and stations to connect to it.

The server speaks over real sockets on 127.0.0.1 and uses the test database; stations are
the `ocpp` package's ChargePoint classes over the `websockets` client.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import websockets
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v201 import ChargePoint as ChargePoint201

T = TypeVar("T")

CHARGE_POINTS = {"1.6": ChargePoint16, "2.0.1": ChargePoint201, "2.1": ChargePoint21}


@dataclass
class LiveServer:
    host: str
    port: int
    loop: asyncio.AbstractEventLoop

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def station_url(self, identity: str, prefix: str = "/ocpp/") -> str:
        from urllib.parse import quote

        return f"{self.ws_url}{prefix}{quote(identity, safe='')}"

    async def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run `coro` on the server's event loop (where its channel layer lives)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    async def call(
        self, identity: str, action: str, payload: dict[str, Any], timeout: float | None = None
    ):
        """A CSMS-initiated call through the same service the API and admin use."""
        from commands.services import command_send_async

        return await self.run(
            command_send_async(
                identity=identity, action=action, payload=payload, origin="test", timeout=timeout
            )
        )


def start_server() -> tuple[LiveServer, Any]:
    from channels.routing import get_default_application
    from django.conf import settings
    from twisted.internet import reactor

    # Browsers load the admin's and the dashboard's JavaScript and CSS as an operator's
    # does: WhiteNoise serves them from the apps' folders, no collectstatic needed.
    settings.WHITENOISE_USE_FINDERS = True

    from server_runtime.server import CsmsServer

    server = CsmsServer(
        application=get_default_application(),
        endpoints=["tcp:port=0:interface=127.0.0.1"],
        signal_handlers=False,
        # Short, so that the test of a station that stops answering pings stays short.
        ping_interval=1,
        ping_timeout=2,
    )
    thread = threading.Thread(target=server.run, name="daphne", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.listening_addresses:
        if time.monotonic() > deadline:
            raise RuntimeError("Daphne did not start listening")
        time.sleep(0.02)
    host, port = server.listening_addresses[0]
    return LiveServer(host, port, reactor._asyncioEventloop), reactor


class Station:
    """An `ocpp` package ChargePoint connected to the live server, its reader running."""

    def __init__(self, charge_point: Any, websocket: Any, task: asyncio.Task):
        self.cp = charge_point
        self.ws = websocket
        self.task = task

    async def close(self) -> None:
        await self.ws.close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


@contextlib.asynccontextmanager
async def connect(
    server: LiveServer,
    identity: str,
    version: str = "2.0.1",
    charge_point_class: type | None = None,
    **connect_kwargs: Any,
) -> AsyncIterator[Any]:
    """Connect a ChargePoint (or `charge_point_class`, a subclass with handlers) as `identity`."""
    ws = await websockets.connect(
        server.station_url(identity), subprotocols=[f"ocpp{version}"], **connect_kwargs
    )
    cls = charge_point_class or CHARGE_POINTS[version]
    cp = cls(identity, ws, response_timeout=15)
    task = asyncio.create_task(cp.start())
    station = Station(cp, ws, task)
    try:
        yield cp
    finally:
        await station.close()


async def raw_connect(server: LiveServer, identity: str, version: str = "2.0.1", **kwargs: Any):
    """A bare websocket for tests of the framing itself."""
    return await websockets.connect(
        server.station_url(identity), subprotocols=[f"ocpp{version}"], **kwargs
    )


async def eventually(check, timeout: float = 5.0, interval: float = 0.05):
    """Await until `check()` (sync or async) returns truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)

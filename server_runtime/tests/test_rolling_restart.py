"""A rolling restart of two replicas (two `serve` processes on one PostgreSQL and Redis) while
`ocpp` package stations charge and the API sends them commands: each replica in turn is
stopped gracefully (QUIT) and started again, its stations reconnect to the other one, and no
transaction message and no command is lost or doubled."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import connection
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16

from commands.models import Command
from server_runtime.tests.test_scale_out import ServerProcess, server_env
from tests.api_helpers import make_user
from transactions.choices import AuthorizationStatus, IdTokenType
from transactions.models import IdToken, MeterValue, Transaction

pytestmark = pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
    reason="needs REDIS_URL and DATABASE_URL: the replicas share PostgreSQL and Redis",
)

STATIONS = 6
METER_VALUES_PER_SESSION = 3
ENERGY = "Energy.Active.Import.Register"


class Station(ChargePoint16):
    @on("GetConfiguration")
    async def get_configuration(self, **_: Any):
        return result16.GetConfiguration(
            configuration_key=[{"key": "Identity", "readonly": True, "value": self.id}]
        )


class Driver:
    """One station that charges session after session, as real stations do across a CSMS
    restart: on a closed connection it reconnects (to the other replica: the load balancer's
    job) and sends the unanswered transaction message again, until it is answered."""

    def __init__(self, identity: str, ports: list[int]) -> None:
        self.identity = identity
        self.ports = ports
        self.target = 0
        self.cp: Station | None = None
        self.reader: asyncio.Task[None] | None = None
        self.ws: Any = None
        self.sent = 0
        self.answered = 0
        self.reconnects = 0
        self.close_codes: list[int | None] = []
        self.sessions: list[dict[str, Any]] = []
        self.readings: list[int] = []
        self.clock = datetime(2026, 12, 1, tzinfo=UTC)

    async def connect(self) -> None:
        while True:
            port = self.ports[self.target % len(self.ports)]
            try:
                self.ws = await websockets.connect(
                    f"ws://127.0.0.1:{port}/ocpp/{self.identity}",
                    subprotocols=["ocpp1.6"],
                    ping_interval=None,
                    open_timeout=5,
                )
            except (OSError, websockets.InvalidHandshake, TimeoutError):
                self.target += 1
                await asyncio.sleep(0.1)
                continue
            self.cp = Station(self.identity, self.ws, response_timeout=30)
            self.reader = asyncio.create_task(self.cp.start())
            return

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader

    async def send(self, request: Any) -> Any:
        """`request` until answered; a lost connection means reconnecting and sending again."""
        self.sent += 1
        while True:
            assert self.cp is not None and self.reader is not None
            call = asyncio.create_task(self.cp.call(request, suppress=False))
            await asyncio.wait({call, self.reader}, return_when=asyncio.FIRST_COMPLETED)
            if call.done() and call.exception() is None:
                self.answered += 1
                return call.result()
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await call
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader
            self.close_codes.append(self.ws.close_code)
            self.reconnects += 1
            self.target += 1  # the other replica
            await self.connect()

    def tick(self) -> str:
        self.clock += timedelta(seconds=1)
        return self.clock.isoformat()

    async def run(self, stop: asyncio.Event) -> None:
        await self.connect()
        boot = await self.send(
            call16.BootNotification(charge_point_vendor="Acme", charge_point_model="AC-22")
        )
        assert boot.status == "Accepted"
        meter = 1000
        while not stop.is_set():
            start = await self.send(
                call16.StartTransaction(
                    connector_id=1, id_tag=self.identity, meter_start=meter, timestamp=self.tick()
                )
            )
            assert start.id_tag_info["status"] == "Accepted", start
            session = {"id": start.transaction_id, "start": meter}
            for _ in range(METER_VALUES_PER_SESSION):
                meter += 100
                await self.send(
                    call16.MeterValues(
                        connector_id=1,
                        transaction_id=start.transaction_id,
                        meter_value=[
                            {
                                "timestamp": self.tick(),
                                "sampledValue": [
                                    {
                                        "value": str(meter),
                                        "measurand": "Energy.Active.Import.Register",
                                    }
                                ],
                            }
                        ],
                    )
                )
                self.readings.append(meter)
                await asyncio.sleep(0.05)
            meter += 100
            await self.send(
                call16.StopTransaction(
                    transaction_id=start.transaction_id, meter_stop=meter, timestamp=self.tick()
                )
            )
            session["stop"] = meter
            self.sessions.append(session)


@sync_to_async
def prepare(identities: list[str]) -> str:
    try:
        IdToken.objects.bulk_create(
            [
                IdToken(value=i, type=IdTokenType.ISO14443, status=AuthorizationStatus.ACCEPTED)
                for i in identities
            ]
        )
        return make_user("rolling", "operator")[1]
    finally:
        connection.close()


@sync_to_async
def recorded() -> tuple[list[Transaction], list[tuple[str, int]], list[Command]]:
    try:
        transactions = list(Transaction.objects.select_related("station"))
        readings = sorted(
            (identity, int(value))
            for identity, value in MeterValue.objects.filter(
                measurand=ENERGY, context__in=["", "Sample.Periodic"]
            ).values_list("station__identity", "value")
        )
        commands = list(Command.objects.all())
        return transactions, readings, commands
    finally:
        connection.close()


async def commands_loop(ports: list[int], token: str, identities: list[str], stop, results):
    """The API, asked over and over for a station's configuration, on whichever replica is
    up (an API client behind the load balancer retries on a refused connection)."""
    n = 0
    async with httpx.AsyncClient(headers={"Authorization": f"Token {token}"}, timeout=60) as api:
        while not stop.is_set():
            identity = identities[n % len(identities)]
            port = ports[n % len(ports)]
            n += 1
            try:
                response = await api.post(
                    f"http://127.0.0.1:{port}/api/stations/{identity}/commands/GetConfiguration",
                    json={},
                )
            except httpx.TransportError:
                await asyncio.sleep(0.1)
                continue  # not accepted: nothing was stored
            results.append((identity, response.status_code, response.json()))
            await asyncio.sleep(0.05)


async def wait_ready(server: ServerProcess) -> None:
    await asyncio.to_thread(server.wait_listening)
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"http://127.0.0.1:{server.port}/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError("replica not ready")


@pytest.mark.timeout(300)
async def test_rolling_restart_of_two_replicas_loses_no_transaction_message_and_no_command(
    transactional_db,
):
    env = {
        **server_env(os.environ.get("CSMS_CHANNEL_PREFIX", "csms")),
        "CSMS_SCHEDULER": "false",
        "CSMS_SHUTDOWN_GRACE": "10",
    }
    identities = [f"ROLL-{n}" for n in range(STATIONS)]
    token = await prepare(identities)
    replicas = [ServerProcess(env), ServerProcess(env)]
    ports = [replica.port for replica in replicas]
    drivers = [Driver(identity, ports) for identity in identities]
    for n, driver in enumerate(drivers):
        driver.target = n  # spread over both replicas
    stop = asyncio.Event()
    results: list[tuple[str, int, dict[str, Any]]] = []
    try:
        await asyncio.gather(*(wait_ready(replica) for replica in replicas))
        charging = [asyncio.create_task(driver.run(stop)) for driver in drivers]
        commanding = asyncio.create_task(commands_loop(ports, token, identities, stop, results))
        await asyncio.sleep(2)
        for index in (0, 1):
            old = replicas[index]
            old.proc.send_signal(signal.SIGQUIT)
            assert await asyncio.to_thread(old.proc.wait, 30) == 0
            old.stop()
            await asyncio.sleep(1)  # the other replica carries every station meanwhile
            # The restarted replica comes back on its port (the load balancer's address).
            new = ServerProcess(env, port=old.port)
            replicas[index] = new
            await wait_ready(new)
            await asyncio.sleep(2)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*charging), 60)
        await asyncio.wait_for(commanding, 60)
    finally:
        stop.set()
        for driver in drivers:
            await driver.close()
        for replica in replicas:
            replica.stop()

    # Every station lost its connection to a restarted replica at least once, by a close
    # frame (1001 going away), and every message it sent was answered in the end.
    assert all(driver.reconnects >= 1 for driver in drivers)
    assert {code for driver in drivers for code in driver.close_codes} <= {1001}
    assert all(driver.answered == driver.sent for driver in drivers)

    transactions, readings, commands = await recorded()
    sessions = [session for driver in drivers for session in driver.sessions]
    assert sessions
    by_id = {t.transaction_id: t for t in transactions}
    # Nothing doubled, nothing lost: one transaction per session, each stopped with its
    # reading, and every meter reading sent stored once.
    finished = [t for t in transactions if not t.is_active]
    assert len(finished) == len(sessions)
    for session in sessions:
        transaction = by_id[str(session["id"])]
        assert transaction.meter_start == Decimal(session["start"])
        assert transaction.meter_stop == Decimal(session["stop"])
    # At most the session each station was in when the test ended is still open.
    assert len(transactions) - len(finished) <= len(drivers)
    sent = sorted((driver.identity, value) for driver in drivers for value in driver.readings)
    assert readings == sent

    # Every command the API stored ended and is recorded so, once; none is left pending.
    # Each one answered to its caller is recorded as answered. A reply a stopping replica's
    # socket cut in flight (the client saw a transport error) reached no caller, but its
    # command ended all the same: at most one per restart.
    answered = {body["id"]: body for _, _, body in results if "id" in body}
    assert set(answered) <= {c.pk for c in commands}
    assert len(commands) - len(answered) <= 2
    for command in commands:
        assert command.status != "pending"
        if command.pk in answered:
            assert command.status == answered[command.pk]["status"]
    answered_200 = [body for _, code, body in results if code == 200]
    # Completed; on a loaded machine a call may outlast its timeout while its station
    # reconnects (reported as such), but none ends in an error.
    assert all(body["status"] in ("completed", "timeout") for body in answered_200)
    assert [body for body in answered_200 if body["status"] == "completed"]
    for identity, code, body in results:
        if code == 200 and body["status"] == "completed":
            assert body["response"]["configurationKey"][0]["value"] == identity
        elif "id" in body:
            # The station was between replicas: told to the caller, not lost.
            assert body["error"]["code"] == "StationOffline", body

"""The floor: a minimal OCPP 1.6/2.0.1 server built with the `ocpp` package, no database.

It answers BootNotification, Heartbeat, StatusNotification, MeterValues, Authorize and the
transaction messages (1.6 StartTransaction/StopTransaction, 2.0.1 TransactionEvent) from
memory: every idTag is Accepted and transaction ids come from a counter. A websocket at
`/_control` takes one JSON command, `{"action": "GetConfiguration", "payload": {}}`, sends it
to every connected station at once and answers with the timings: the same fan-out the CSMS
does with `station_call`.

python benchmarks/floor_server.py --port 9100      (listens on 127.0.0.1 only)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import resource
import time
from datetime import UTC, datetime
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

CONNECTED: dict[str, Any] = {}
TRANSACTION_IDS = itertools.count(1)
ACCEPTED = {"status": "Accepted"}


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Floor16(ChargePoint16):
    @on("BootNotification")
    def boot(self, **_: Any):
        return result16.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("Heartbeat")
    def heartbeat(self, **_: Any):
        return result16.Heartbeat(current_time=now())

    @on("StatusNotification")
    def status(self, **_: Any):
        return result16.StatusNotification()

    @on("MeterValues")
    def meter_values(self, **_: Any):
        return result16.MeterValues()

    @on("Authorize")
    def authorize(self, **_: Any):
        return result16.Authorize(id_tag_info=ACCEPTED)

    @on("StartTransaction")
    def start_transaction(self, **_: Any):
        return result16.StartTransaction(transaction_id=next(TRANSACTION_IDS), id_tag_info=ACCEPTED)

    @on("StopTransaction")
    def stop_transaction(self, **_: Any):
        return result16.StopTransaction(id_tag_info=ACCEPTED)


class Floor201(ChargePoint201):
    @on("BootNotification")
    def boot(self, **_: Any):
        return result201.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("Heartbeat")
    def heartbeat(self, **_: Any):
        return result201.Heartbeat(current_time=now())

    @on("StatusNotification")
    def status(self, **_: Any):
        return result201.StatusNotification()

    @on("MeterValues")
    def meter_values(self, **_: Any):
        return result201.MeterValues()

    @on("Authorize")
    def authorize(self, **_: Any):
        return result201.Authorize(id_token_info=ACCEPTED)

    @on("TransactionEvent")
    def transaction_event(self, id_token: dict | None = None, **_: Any):
        # OCPP 2.0.1 E01/E03: an event carrying an idToken is answered with its idTokenInfo.
        return result201.TransactionEvent(id_token_info=ACCEPTED if id_token else None)


async def fan_out(ws: Any) -> None:
    request = json.loads(await ws.recv())
    action = request["action"]
    stations = list(CONNECTED.values())
    latencies: list[float] = []
    failures = 0

    async def one(cp: Any) -> None:
        nonlocal failures
        module = call16 if isinstance(cp, ChargePoint16) else call201
        message = getattr(module, action)(**request.get("payload", {}))
        started = time.perf_counter()
        try:
            await cp.call(message)
        except Exception:
            failures += 1
            return
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(cp) for cp in stations))
    elapsed = time.perf_counter() - started
    await ws.send(
        json.dumps(
            {
                "stations": len(stations),
                "completed": len(latencies),
                "failed": failures,
                "elapsed": elapsed,
                "latencies": latencies,
            }
        )
    )


async def serve_station(ws: Any) -> None:
    path = ws.request.path
    if path == "/_control":
        await fan_out(ws)
        return
    identity = path.rstrip("/").rsplit("/", 1)[-1]
    cls = Floor201 if ws.subprotocol == "ocpp2.0.1" else Floor16
    cp = cls(identity, ws, response_timeout=30)
    CONNECTED[identity] = cp
    try:
        await cp.start()
    except websockets.ConnectionClosed:
        pass
    finally:
        if CONNECTED.get(identity) is cp:
            del CONNECTED[identity]


async def main(port: int) -> None:
    async with websockets.serve(
        serve_station,
        "127.0.0.1",
        port,
        subprotocols=["ocpp2.0.1", "ocpp1.6"],
        ping_interval=20,
        ping_timeout=30,
        open_timeout=30,
        backlog=4096,
        compression=None,
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(args.port))

"""Load generator: simulated charging stations over raw OCPP-J frames (asyncio + websockets).

Every scenario is bounded in station count and in time, and connects to 127.0.0.1 only.
Used by `benchmarks/run.py`; each scenario returns a dict of figures.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import connect

MAX_STATIONS = 20_000
MAX_SECONDS = 900

SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if not (host.startswith("127.") or host in {"localhost", "::1"}):
        raise SystemExit(f"The load generator only targets the loopback interface, not {host!r}")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def latency_summary(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2) if latencies else float("nan"),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else float("nan"),
    }


class LoopLag:
    """How late the generator's own event loop runs (a saturated generator shows here)."""

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.lags: list[float] = []
        self.task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.lags.append(time.perf_counter() - started - self.interval)

    def __enter__(self) -> LoopLag:
        self.task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.task:
            self.task.cancel()

    def summary(self) -> dict[str, float]:
        return {
            "generator_loop_lag_p50_ms": round(percentile(self.lags, 50) * 1000, 1),
            "generator_loop_lag_max_ms": round(max(self.lags, default=0) * 1000, 1),
        }


def payload(version: str, action: str, seq: int) -> dict[str, Any]:
    """A valid request payload of `action` for `version`."""
    connector = 1 + seq % 2
    if version == "1.6":
        if action == "BootNotification":
            return {"chargePointVendor": "Bench", "chargePointModel": "Load-1"}
        if action == "Heartbeat":
            return {}
        if action == "StatusNotification":
            return {
                "connectorId": connector,
                "errorCode": "NoError",
                "status": random.choice(["Available", "Preparing", "Charging"]),
                "timestamp": now(),
            }
        if action == "MeterValues":
            return {
                "connectorId": connector,
                "meterValue": [
                    {
                        "timestamp": now(),
                        "sampledValue": [
                            {"value": str(seq * 10), "measurand": "Energy.Active.Import.Register"},
                            {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
                        ],
                    }
                ],
            }
    else:
        if action == "BootNotification":
            return {
                "reason": "PowerUp",
                "chargingStation": {"vendorName": "Bench", "model": "Load-2"},
            }
        if action == "Heartbeat":
            return {}
        if action == "StatusNotification":
            return {
                "timestamp": now(),
                "connectorStatus": random.choice(["Available", "Occupied"]),
                "evseId": connector,
                "connectorId": 1,
            }
        if action == "MeterValues":
            return {
                "evseId": connector,
                "meterValue": [
                    {
                        "timestamp": now(),
                        "sampledValue": [
                            {"value": seq * 10.0, "measurand": "Energy.Active.Import.Register"}
                        ],
                    }
                ],
            }
    raise ValueError(f"No payload for {version} {action}")


# Answers a simulated station gives to CSMS-initiated calls.
ANSWERS: dict[str, dict[str, Any]] = {
    "GetConfiguration": {"configurationKey": []},
    "TriggerMessage": {"status": "Accepted"},
    "ChangeAvailability": {"status": "Accepted"},
    "Reset": {"status": "Accepted"},
    "GetVariables": {"getVariableResult": []},
}


@dataclass
class Station:
    identity: str
    url: str
    version: str
    ws: Any = None
    reader: asyncio.Task | None = None
    pending: dict[str, asyncio.Future] = field(default_factory=dict)
    ids: Any = field(default_factory=lambda: itertools.count(1))
    calls_answered: int = 0
    closed: bool = False

    async def connect(self, timeout: float = 30) -> None:
        self.ws = await connect(
            f"{self.url}/ocpp/{self.identity}",
            subprotocols=[SUBPROTOCOL[self.version]],
            open_timeout=timeout,
            ping_interval=None,
            compression=None,
            close_timeout=2,
            max_queue=4,
        )
        self.closed = False
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                kind = frame[0]
                if kind == 2:
                    answer = ANSWERS.get(frame[2], {})
                    await self.ws.send(json.dumps([3, frame[1], answer]))
                    self.calls_answered += 1
                    continue
                future = self.pending.pop(frame[1], None)
                if future is not None and not future.done():
                    future.set_result(frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed"))
            self.pending.clear()

    async def call(self, action: str, body: dict[str, Any], timeout: float = 30) -> list[Any]:
        message_id = str(next(self.ids))
        future = asyncio.get_running_loop().create_future()
        self.pending[message_id] = future
        await self.ws.send(json.dumps([2, message_id, action, body]))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.pending.pop(message_id, None)

    async def boot(self, timeout: float = 30) -> bool:
        answer = await self.call(
            "BootNotification", payload(self.version, "BootNotification", 0), timeout
        )
        return answer[0] == 3 and answer[2].get("status") == "Accepted"

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 3)
            except Exception:
                self.ws.transport.abort()
        if self.reader is not None:
            self.reader.cancel()


def identities(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(count)]


def make_stations(url: str, count: int, version: str, prefix: str) -> list[Station]:
    check_loopback(url)
    if count > MAX_STATIONS:
        raise SystemExit(f"At most {MAX_STATIONS} stations")
    return [Station(identity, url, version) for identity in identities(prefix, count)]


async def connect_all(
    stations: list[Station], concurrency: int, boot: bool, deadline_s: float = 300
) -> dict[str, Any]:
    """Connect (and boot) every station, `concurrency` at a time, retrying until the deadline."""
    semaphore = asyncio.Semaphore(concurrency)
    deadline = time.monotonic() + min(deadline_s, MAX_SECONDS)
    started = time.perf_counter()
    done_at: list[float] = []
    retries = Counter()
    lost: list[str] = []

    async def one(station: Station) -> None:
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            try:
                async with semaphore:
                    await station.connect(timeout=max(1.0, deadline - time.monotonic()))
                    if boot and not await station.boot(
                        timeout=max(1.0, deadline - time.monotonic())
                    ):
                        raise ConnectionError("boot not accepted")
                done_at.append(time.perf_counter() - started)
                return
            except Exception as exc:
                retries[type(exc).__name__] += 1
                if station.ws is not None:
                    await station.close()
                # A station backs off before it reconnects (with jitter, as real ones do).
                await asyncio.sleep(min(30, 1 + random.random() * 2 ** min(attempt, 4)))
        lost.append(station.identity)

    await asyncio.gather(*(one(s) for s in stations))
    elapsed = time.perf_counter() - started
    return {
        "stations": len(stations),
        "ready": len(done_at),
        "lost_for_good": len(lost),
        "retries": sum(retries.values()),
        "retry_causes": dict(retries),
        "seconds_all_ready": round(elapsed, 2),
        "p50_ready_s": round(percentile(done_at, 50), 2),
        "p99_ready_s": round(percentile(done_at, 99), 2),
    }


async def close_all(stations: list[Station]) -> None:
    for chunk in range(0, len(stations), 500):
        await asyncio.gather(*(s.close() for s in stations[chunk : chunk + 500]))


async def storm(url: str, count: int, version: str, prefix: str) -> dict[str, Any]:
    """(a) Every station connects and boots at once; time until all are Accepted."""
    stations = make_stations(url, count, version, prefix)
    result = await connect_all(stations, concurrency=count, boot=True, deadline_s=120)
    await close_all(stations)
    return result


async def idle(
    url: str,
    count: int,
    version: str,
    prefix: str,
    hold: float,
    rss: Callable[[], int],
    realistic: float = 0,
    heartbeat_interval: float = 300,
    meter_interval: float = 60,
) -> dict[str, Any]:
    """(b) Hold `count` idle stations for `hold` s and measure the server's memory per
    connection; then, if `realistic` > 0, run the realistic rate on them for that long."""
    stations = make_stations(url, count, version, prefix)
    before = rss()
    connected = await connect_all(stations, concurrency=200, boot=True)
    # The generator's own full collections over 10,000 stations' objects stall its loop for
    # hundreds of milliseconds, which would count as the server's latency.
    gc.collect()
    gc.freeze()
    await asyncio.sleep(min(hold, MAX_SECONDS))
    after = rss()
    still_open = sum(1 for s in stations if s.ws is not None and not s.closed)
    result: dict[str, Any] = {
        "connect": connected,
        "held_s": hold,
        "still_open": still_open,
        "rss_before_mib": round(before / 2**20, 1),
        "rss_after_mib": round(after / 2**20, 1),
        "kib_per_connection": round((after - before) / 1024 / max(1, connected["ready"]), 1),
    }
    if realistic > 0:
        rates = {"Heartbeat": 1 / heartbeat_interval, "MeterValues": 1 / meter_interval}
        live = [s for s in stations if s.ws is not None and not s.closed]
        result["realistic"] = await per_station_rate(live, rates, realistic)
        result["realistic"]["still_open"] = sum(1 for s in live if not s.closed)
    await close_all(stations)
    return result


async def per_station_rate(
    stations: list[Station], rates: dict[str, float], seconds: float
) -> dict[str, Any]:
    """Each station sends each action at its own rate (random phase); latency per message."""
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    end = time.monotonic() + min(seconds, MAX_SECONDS)

    async def loop(station: Station, action: str, rate: float) -> None:
        await asyncio.sleep(random.random() / rate)
        seq = 0
        while time.monotonic() < end and not station.closed:
            seq += 1
            started = time.perf_counter()
            try:
                answer = await station.call(action, payload(station.version, action, seq))
            except Exception as exc:
                outcomes[f"{action}:{type(exc).__name__}"] += 1
            else:
                latencies.append(time.perf_counter() - started)
                outcomes[f"{action}:{'ok' if answer[0] == 3 else answer[2]}"] += 1
            await asyncio.sleep(1 / rate)

    # No garbage collection while measuring (as timeit does): a full collection over 10,000
    # stations' objects stalls the generator's loop, and the stall would count as latency.
    gc.disable()
    with LoopLag() as lag:
        tasks = [
            asyncio.create_task(loop(station, action, rate))
            for station in stations
            for action, rate in rates.items()
        ]
        await asyncio.sleep(min(seconds, MAX_SECONDS))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    gc.enable()
    return {
        **lag.summary(),
        "seconds": seconds,
        "target_msg_per_s": round(len(stations) * sum(rates.values()), 1),
        "answered": len(latencies),
        "msg_per_s": round(len(latencies) / seconds, 1),
        "outcomes": dict(outcomes),
        **latency_summary(latencies),
    }


async def throughput(
    url: str,
    count: int,
    version: str,
    prefix: str,
    seconds: float,
    mix: dict[str, int],
    rate: float = 0,
) -> dict[str, Any]:
    """(c) A sustained mix from `count` stations: as fast as answers come (rate 0, each
    station sends its next message when the last is answered) or at `rate` msg/s in all."""
    stations = make_stations(url, count, version, prefix)
    connected = await connect_all(stations, concurrency=200, boot=True)
    live = [s for s in stations if not s.closed and s.ws is not None]
    actions = [action for action, weight in mix.items() for _ in range(weight)]
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    seconds = min(seconds, MAX_SECONDS)
    # Warm up (schema compilation, connection pools) before the clock starts.
    for station in live[:5]:
        for action in mix:
            await station.call(action, payload(version, action, 0))
    end = time.monotonic() + seconds
    per_station_interval = len(live) / rate if rate else 0

    async def loop(station: Station) -> None:
        seq = 0
        if per_station_interval:
            await asyncio.sleep(random.random() * per_station_interval)
        while time.monotonic() < end and not station.closed:
            seq += 1
            action = actions[seq % len(actions)]
            started = time.perf_counter()
            try:
                answer = await station.call(action, payload(version, action, seq))
            except Exception as exc:
                outcomes[f"{action}:{type(exc).__name__}"] += 1
                continue
            latencies.append(time.perf_counter() - started)
            outcomes[f"{action}:{'ok' if answer[0] == 3 else answer[2]}"] += 1
            if per_station_interval:
                await asyncio.sleep(max(0, per_station_interval - (time.perf_counter() - started)))

    started = time.perf_counter()
    with LoopLag() as lag:
        await asyncio.gather(*(loop(s) for s in live))
    elapsed = time.perf_counter() - started
    await close_all(stations)
    return {
        **lag.summary(),
        "stations": len(live),
        "connect": connected,
        "mix": mix,
        "target_msg_per_s": rate or "max",
        "seconds": round(elapsed, 2),
        "answered": len(latencies),
        "msg_per_s": round(len(latencies) / elapsed, 1),
        "outcomes": dict(outcomes),
        **latency_summary(latencies),
    }


# --- (c) with charging sessions: `mix-tx` ---------------------------------------------------

TX_MIX = "Authorize=1,StatusNotification=3,MeterValues=3,Heartbeat=1"
TX_MIX_KEYS = ("Authorize", "StatusNotification", "MeterValues", "Heartbeat")


def id_tag(identity: str) -> str:
    """The idTag a simulated station charges with (1.6 idTag: at most 20 characters)."""
    return identity[-20:]


def session_plan(mix: dict[str, int]) -> list[str]:
    """The messages of one charging session, in order, from per-session counts.

    Authorize x a; StatusNotification Preparing; StartTransaction; the other
    StatusNotifications (Charging), then MeterValues and Heartbeats spread evenly;
    StopTransaction; StatusNotification Available. One StatusNotification is the Available
    after the stop, a second the Preparing before the start, more are Charging.
    """
    unknown = set(mix) - set(TX_MIX_KEYS)
    if unknown:
        raise SystemExit(f"mix-tx counts: {', '.join(TX_MIX_KEYS)}; not {', '.join(unknown)}")
    statuses = mix.get("StatusNotification", 0)
    meters, heartbeats = mix.get("MeterValues", 0), mix.get("Heartbeat", 0)
    spread = sorted(
        [((i + 1) / (meters + 1), 0, "MeterValues") for i in range(meters)]
        + [((i + 1) / (heartbeats + 1), 1, "Heartbeat") for i in range(heartbeats)]
    )
    return [
        *["Authorize"] * mix.get("Authorize", 0),
        *["Status:Preparing"] * (statuses >= 2),
        "StartTransaction",
        *["Status:Charging"] * max(0, statuses - 2),
        *[step for _, _, step in spread],
        "StopTransaction",
        *["Status:Available"] * (statuses >= 1),
    ]


STATUS_201 = {"Preparing": "Occupied", "Charging": "Occupied", "Available": "Available"}


@dataclass
class ChargingSession:
    """What a station remembers across the messages of its charging sessions."""

    version: str
    tag: str
    register_wh: int = field(default_factory=lambda: random.randrange(1_000_000))
    transaction_id: int | str | None = None
    seq_no: int = 0
    deauthorized: bool = False

    def energy(self, context: str) -> dict[str, Any]:
        if self.version == "1.6":
            return {
                "value": str(self.register_wh),
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            }
        return {
            "value": self.register_wh,
            "context": context,
            "measurand": "Energy.Active.Import.Register",
            "unitOfMeasure": {"unit": "Wh"},
        }

    def power(self) -> dict[str, Any]:
        if self.version == "1.6":
            return {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"}
        return {"value": 7200, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}}

    def event(
        self, kind: str, trigger: str, info: dict[str, Any], values: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """A 2.0.1 TransactionEventRequest of this session (seqNo from 0 per transaction)."""
        body = {
            "eventType": kind,
            "timestamp": now(),
            "triggerReason": trigger,
            "seqNo": self.seq_no,
            "transactionInfo": {"transactionId": self.transaction_id, **info},
            "meterValue": [{"timestamp": now(), "sampledValue": values}],
        }
        self.seq_no += 1
        return body

    def message(self, step: str) -> tuple[str, str, dict[str, Any]]:
        """(label in the outcome counts, OCPP action, payload) for a step of the plan."""
        v16 = self.version == "1.6"
        token = {"idToken": self.tag, "type": "ISO14443"}
        if step == "Heartbeat":
            return step, step, {}
        if step == "Authorize":
            return step, step, {"idTag": self.tag} if v16 else {"idToken": token}
        if step.startswith("Status:"):
            status = step.split(":", 1)[1]
            if v16:
                body = {"connectorId": 1, "errorCode": "NoError", "status": status}
            else:
                body = {"connectorStatus": STATUS_201[status], "evseId": 1, "connectorId": 1}
            return "StatusNotification", "StatusNotification", {**body, "timestamp": now()}
        if step == "StartTransaction":
            if v16:
                body = {
                    "connectorId": 1,
                    "idTag": self.tag,
                    "meterStart": self.register_wh,
                    "timestamp": now(),
                }
                return step, step, body
            self.transaction_id, self.seq_no = str(uuid.uuid4()), 0
            body = self.event(
                "Started",
                "Authorized",
                {"chargingState": "Charging"},
                [self.energy("Transaction.Begin")],
            )
            body.update(idToken=token, evse={"id": 1, "connectorId": 1})
            return "TransactionEvent.Started", "TransactionEvent", body
        if step == "MeterValues":
            self.register_wh += 500
            values = [self.energy("Sample.Periodic"), self.power()]
            if v16:
                body = {
                    "connectorId": 1,
                    "transactionId": self.transaction_id,
                    "meterValue": [{"timestamp": now(), "sampledValue": values}],
                }
                return step, step, body
            charging = {"chargingState": "Charging"}
            body = self.event("Updated", "MeterValuePeriodic", charging, values)
            return "TransactionEvent.Updated", "TransactionEvent", body
        if step == "StopTransaction":
            self.register_wh += 250
            reason = "DeAuthorized" if self.deauthorized else "EVDisconnected"
            if v16:
                body = {
                    "transactionId": self.transaction_id,
                    "meterStop": self.register_wh,
                    "timestamp": now(),
                    "reason": reason,
                }
                return step, step, body
            body = self.event(
                "Ended",
                "Deauthorized" if self.deauthorized else "EVCommunicationLost",
                {"chargingState": "Idle", "stoppedReason": reason},
                [self.energy("Transaction.End")],
            )
            return "TransactionEvent.Ended", "TransactionEvent", body
        raise ValueError(f"No step {step!r}")


def token_status(version: str, answer: dict[str, Any]) -> str | None:
    info = answer.get("idTagInfo" if version == "1.6" else "idTokenInfo")
    return info.get("status") if isinstance(info, dict) else None


async def transactions_mix(
    url: str,
    count: int,
    version: str,
    prefix: str,
    seconds: float,
    mix: dict[str, int],
    rate: float = 0,
) -> dict[str, Any]:
    """(c) with transactions: `count` stations each run charging sessions back to back
    (`session_plan`), as fast as answers come (rate 0) or at `rate` msg/s in all.

    1.6: Authorize, StartTransaction, MeterValues with the transactionId the server gave,
    StopTransaction; 2.0.1: Authorize, TransactionEvent Started / Updated (the meter values) /
    Ended with a fresh transactionId and seqNo. A session whose start is not Accepted is
    stopped at once (DeAuthorized). Sessions open at the end are stopped, outside the figures.
    """
    plan = session_plan(mix)
    stations = make_stations(url, count, version, prefix)
    connected = await connect_all(stations, concurrency=200, boot=True)
    live = [s for s in stations if not s.closed and s.ws is not None]
    sessions = {s.identity: ChargingSession(version, id_tag(s.identity)) for s in live}
    latencies: list[float] = []
    by_label: dict[str, list[float]] = {}
    outcomes: Counter[str] = Counter()
    completed = 0
    seconds = min(seconds, MAX_SECONDS)
    per_station_interval = len(live) / rate if rate else 0
    end = float("inf")

    async def send(station: Station, step: str, counted: bool) -> dict[str, Any] | None:
        session = sessions[station.identity]
        label, action, body = session.message(step)
        started = time.perf_counter()
        try:
            answer = await station.call(action, body)
        except Exception as exc:
            if counted:
                outcomes[f"{label}:{type(exc).__name__}"] += 1
            return None
        if counted:
            elapsed = time.perf_counter() - started
            latencies.append(elapsed)
            by_label.setdefault(label, []).append(elapsed)
            outcomes[f"{label}:{'ok' if answer[0] == 3 else answer[2]}"] += 1
        if answer[0] != 3:
            return None
        result: dict[str, Any] = answer[2]
        status = token_status(version, result)
        if counted and status and step in ("Authorize", "StartTransaction"):
            outcomes[f"{label}:{status}"] += 1
        return result

    async def run_session(station: Station, counted: bool) -> bool:
        """One session; False if the clock ran out first (its transaction stopped anyway)."""
        nonlocal completed
        session = sessions[station.identity]
        session.transaction_id, session.deauthorized = None, False
        for step in plan:
            if station.closed:
                return False
            if counted and time.monotonic() >= end:
                if session.transaction_id is not None:
                    await send(station, "StopTransaction", counted=False)
                return False
            if session.transaction_id is None and step in ("MeterValues", "StopTransaction"):
                continue  # 1.6: no transaction (the start failed)
            if session.deauthorized and step == "MeterValues":
                continue
            started = time.perf_counter()
            answer = await send(station, step, counted)
            if step == "StopTransaction":
                if counted and answer is not None:
                    completed += 1
                session.transaction_id = None
            elif step == "StartTransaction" and answer is not None:
                if version == "1.6":
                    session.transaction_id = answer.get("transactionId")
                session.deauthorized = token_status(version, answer) != "Accepted"
            if counted and per_station_interval:
                await asyncio.sleep(max(0, per_station_interval - (time.perf_counter() - started)))
        return True

    async def loop(station: Station) -> None:
        if per_station_interval:
            await asyncio.sleep(random.random() * per_station_interval)
        while await run_session(station, counted=True):
            pass

    # Warm up (schema compilation, connection pools) with one session on five stations.
    for station in live[:5]:
        await run_session(station, counted=False)
    end = time.monotonic() + seconds
    started = time.perf_counter()
    with LoopLag() as lag:
        await asyncio.gather(*(loop(s) for s in live))
    elapsed = time.perf_counter() - started
    await close_all(stations)
    return {
        **lag.summary(),
        "stations": len(live),
        "connect": connected,
        "session_plan": plan,
        "target_msg_per_s": rate or "max",
        "seconds": round(elapsed, 2),
        "answered": len(latencies),
        "msg_per_s": round(len(latencies) / elapsed, 1),
        "sessions_completed": completed,
        "outcomes": dict(sorted(outcomes.items())),
        **latency_summary(latencies),
        "latency_by_message": {
            label: {
                "p50_ms": round(percentile(values, 50) * 1000, 2),
                "p99_ms": round(percentile(values, 99) * 1000, 2),
            }
            for label, values in sorted(by_label.items())
        },
    }


async def commands(
    url: str,
    count: int,
    version: str,
    prefix: str,
    trigger: Callable[[list[str]], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """(d) `count` connected stations; `trigger` sends a CSMS-initiated call to each and
    reports its timings; the stations answer from the ANSWERS table."""
    stations = make_stations(url, count, version, prefix)
    connected = await connect_all(stations, concurrency=200, boot=True)
    result = await trigger([s.identity for s in stations if not s.closed])
    result["answered_by_stations"] = sum(s.calls_answered for s in stations)
    result["connect"] = connected
    await close_all(stations)
    return result

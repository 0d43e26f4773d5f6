"""Emulated charging stations (OCPP 1.6, 2.0.1, 2.1) built on the `ocpp` package's ChargePoint.

Each `EmulatedStation` behaves like a real one: it boots (obeying Pending/Rejected and the
interval it is given), sends heartbeats and status changes, plugs in and charges with meter
values, reconnects with back-off, and answers the CSMS's calls by changing its own state
(availability, configuration, charging profiles, transactions), not with canned replies.
`run_stations` runs many of them for a bounded time; `python manage.py emulate` drives it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import websockets
from ocpp.charge_point import snake_to_camel_case
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call as call21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from emulator.answers import Answers, install

logger = logging.getLogger(__name__)

VERSIONS = ("1.6", "2.0.1", "2.1")
# Nominal line voltage and phases, to turn an ampere limit into watts.
VOLTS = 230
PHASES = 3


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class StationConfig:
    """One emulated station; the keys of a JSON station file are these field names."""

    identity: str
    version: str = "2.0.1"
    url: str = "ws://127.0.0.1:8000/ocpp"
    password: str = ""
    account: str = ""
    vendor: str = "CSMS Emulator"
    model: str = "EMU-22"
    serial_number: str = ""
    firmware_version: str = "1.0.0"
    connectors: int = 1
    # The card this station charges with; empty: its own, TAG-<identity> (see default_tag).
    id_tag: str = ""
    meter_interval: float = 10.0
    plug_in_after: float = 5.0
    charge_seconds: float = 60.0
    idle_seconds: float = 30.0
    power_w: float = 11_000.0
    reconnect_max: float = 30.0
    # OCPP 2.1: open a periodic event stream of the charging power at boot (N11), its values
    # sent with every meter value (NotifyPeriodicEventStream).
    event_stream: bool = True

    def __post_init__(self) -> None:
        if self.version not in VERSIONS:
            raise ValueError(f"{self.identity}: version must be one of {VERSIONS}")
        if self.connectors < 1:
            raise ValueError(f"{self.identity}: a station needs at least one connector")
        if not self.id_tag:
            self.id_tag = default_tag(self.identity)

    @classmethod
    def from_dict(cls, data: dict[str, Any], **defaults: Any) -> StationConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown station settings: {', '.join(unknown)}")
        return cls(**{**defaults, **data})


def default_tag(identity: str) -> str:
    """A station's own id tag: each emulated station charges with its own card, as drivers
    do, so that the CSMS's one-session-per-token rules (ConcurrentTx) let all of them charge.
    At most 20 characters (1.6 idTag CiString20)."""
    tag = f"TAG-{identity}"
    if len(tag) <= 20:
        return tag
    return "TAG-" + hashlib.sha256(identity.encode()).hexdigest()[:16].upper()


def load_folder(folder: Path, **defaults: Any) -> list[StationConfig]:
    """Station configurations from every `*.json` file of `folder` (an object or a list)."""
    configs = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for item in data if isinstance(data, list) else [data]:
            configs.append(StationConfig.from_dict(item, **defaults))
    if not configs:
        raise ValueError(f"No station configuration (*.json) in {folder}")
    return configs


@dataclass
class Stats:
    """Counters shared by every emulated station, for the live summary."""

    stations: int = 0
    connected: int = 0
    accepted: int = 0
    sessions: int = 0
    charging: int = 0
    messages: int = 0
    # CALLERRORs either way, timeouts and failed connections.
    errors: int = 0
    # Authorize or start answered other than Accepted (the CSMS does not know the tag...).
    refused: int = 0
    refused_tags: set[str] = field(default_factory=set)
    reconnects: int = 0

    def line(self, elapsed: float) -> str:
        return (
            f"[{elapsed:6.1f}s] connected {self.connected}/{self.stations}  "
            f"accepted {self.accepted}  sessions {self.sessions} ({self.charging} charging)  "
            f"refused {self.refused}  messages {self.messages}  errors {self.errors}  "
            f"reconnects {self.reconnects}"
        )

    def refuse(self, tag: str) -> None:
        self.refused += 1
        self.refused_tags.add(tag)


class _CountingConnection:
    """The websocket, counting frames both ways."""

    def __init__(self, ws: Any, stats: Stats) -> None:
        self.ws = ws
        self.stats = stats

    async def send(self, message: str) -> None:
        self.stats.messages += 1
        if message.startswith("[4"):
            self.stats.errors += 1
        await self.ws.send(message)

    async def recv(self) -> str:
        message = await self.ws.recv()
        self.stats.messages += 1
        if isinstance(message, str) and message.startswith("[4"):
            self.stats.errors += 1
        return message


@dataclass
class Connector:
    """One connector (1.6 connectorId; 2.x EVSE n with connector 1)."""

    number: int
    operative: bool = True
    pending_operative: bool | None = None  # availability change scheduled after the session
    plugged: bool = False
    transaction_id: Any = None
    id_tag: str = ""
    energy_wh: float = 0.0
    seq_no: int = 0
    remote_start_id: int | None = None
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    busy: bool = False
    reserved: bool = False

    def status(self, version: str) -> str:
        if not self.operative:
            return "Unavailable"
        if self.reserved and not self.plugged and self.transaction_id is None:
            return "Reserved"
        if version == "1.6":
            if self.transaction_id is not None:
                return "Charging"
            return "Preparing" if self.plugged else "Available"
        return "Occupied" if self.plugged else "Available"


class EmulatedStation:
    """A charging station's behaviour, independent of the OCPP version it speaks."""

    def __init__(self, config: StationConfig, stats: Stats | None = None) -> None:
        self.config = config
        self.version = config.version
        self.stats = stats or Stats()
        self.connectors = {n: Connector(n) for n in range(1, config.connectors + 1)}
        self.heartbeat_interval = 300.0
        self.meter_interval = config.meter_interval
        self.registration = ""
        self.boot_reason = "PowerUp"
        self.profiles: dict[int, dict[str, Any]] = {}
        # OCPP 2.1 state the CSMS sets: default tariffs per EVSE (0: all), tariffs of
        # transactions, DER controls by id, periodic event streams by id.
        self.tariffs: dict[int, dict[str, Any]] = {}
        self.transaction_tariffs: dict[str, dict[str, Any]] = {}
        # Per transaction, the tariffs it had before a ChangeTransactionTariff: each with
        # when it stopped applying and the energy (Wh) so far, pricing its part (I11).
        self.tariff_changes: dict[str, list[tuple[dict[str, Any], datetime, float]]] = {}
        self.der_controls: dict[str, dict[str, Any]] = {}
        self.streams: dict[int, dict[str, Any]] = {}
        self.priority: set[str] = set()
        self._started_at: dict[str, datetime] = {}
        self._send_ids = itertools.count(1)
        self.cp: Any = None
        self._reconnect_now = asyncio.Event()
        self._next_transaction = itertools.count(int(time.time()) % 1_000_000)
        self.boots = 0
        # 1.6 configuration keys (read-only ones marked) / 2.x variables by component.
        self.configuration: dict[str, tuple[str, bool]] = {}
        self.variables: dict[tuple[str, str], tuple[str, bool]] = {}
        self._init_settings()
        # Reservations, local list, certificates, display messages: kept across reconnects.
        self.answers = Answers(self)

    # --- settings -----------------------------------------------------------------------
    def _init_settings(self) -> None:
        self.configuration = {
            "HeartbeatInterval": (str(int(self.heartbeat_interval)), False),
            "MeterValueSampleInterval": (str(int(self.meter_interval)), False),
            "NumberOfConnectors": (str(len(self.connectors)), True),
            "AuthorizeRemoteTxRequests": ("false", False),
            "ChargeProfileMaxStackLevel": ("10", True),
        }
        self.variables = {
            ("OCPPCommCtrlr", "HeartbeatInterval"): (str(int(self.heartbeat_interval)), False),
            ("SampledDataCtrlr", "TxUpdatedInterval"): (str(int(self.meter_interval)), False),
            ("AuthCtrlr", "AuthorizeRemoteStart"): ("false", False),
            ("ChargingStation", "Model"): (self.config.model, True),
            ("ChargingStation", "VendorName"): (self.config.vendor, True),
        }

    def _apply_setting(self, name: str, value: str) -> None:
        if name == "HeartbeatInterval":
            self.heartbeat_interval = float(value)
        elif name in ("MeterValueSampleInterval", "TxUpdatedInterval"):
            self.meter_interval = float(value)

    # --- lifecycle ----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Connect, boot and operate until `stop` is set, reconnecting with back-off."""
        failures = 0
        while not stop.is_set():
            try:
                await self._connection(stop)
                failures = 0
            except (TimeoutError, OSError, websockets.WebSocketException) as exc:
                self.stats.errors += 1
                failures += 1
                logger.info("%s: connection failed: %s", self.config.identity, exc)
            if stop.is_set():
                break
            if self._reconnect_now.is_set():
                self._reconnect_now.clear()
                continue
            self.stats.reconnects += 1
            delay = min(self.config.reconnect_max, 2 ** min(failures, 10)) * random.uniform(
                0.5, 1.0
            )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    def _url(self) -> str:
        url = f"{self.config.url.rstrip('/')}/{quote(self.config.identity, safe='')}"
        return f"{url}/{quote(self.config.account, safe='')}" if self.config.account else url

    async def _connection(self, stop: asyncio.Event) -> None:
        headers = {}
        if self.config.password:
            token = f"{self.config.identity}:{self.config.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        async with websockets.connect(
            self._url(),
            subprotocols=[f"ocpp{self.version}"],
            additional_headers=headers,
            open_timeout=10,
        ) as ws:
            self.stats.connected += 1
            self.cp = CHARGE_POINTS[self.version](self, _CountingConnection(ws, self.stats))
            install(self.cp, self.answers, RESULTS[self.version])
            reader = asyncio.create_task(self.cp.start())
            tasks = [reader, asyncio.create_task(self._operate(stop))]
            stopper = asyncio.create_task(stop.wait())
            reconnect = asyncio.create_task(self._reconnect_now.wait())
            try:
                await asyncio.wait(
                    [*tasks, stopper, reconnect], return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for task in [*tasks, stopper, reconnect]:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                self.stats.connected -= 1
                if self.registration == "Accepted":
                    self.stats.accepted -= 1
                self.registration = ""
                self.cp = None

    async def _operate(self, stop: asyncio.Event) -> None:
        await self._boot(stop)
        if self.version == "2.1" and self.config.event_stream and 1 not in self.streams:
            stream = {"id": 1, "variable_monitoring_id": 1, "params": {"interval": 0}}
            answer = await self.call("OpenPeriodicEventStream", {"constant_stream_data": stream})
            if answer is not None and answer.status == "Accepted":
                self.streams[1] = stream
        for connector in self.connectors.values():
            await self.send_status(connector)
        await self.send_status_station()
        await asyncio.gather(self._heartbeats(), self._sessions(stop))

    async def _boot(self, stop: asyncio.Event) -> None:
        # OCPP 2.0.1 B01-B03 / 1.6 4.2: boot until Accepted; while Pending or Rejected wait the
        # interval the CSMS gave (or a default) before trying again.
        while not stop.is_set():
            answer = await self.call("BootNotification", self._boot_payload())
            self.boots += 1
            if answer is None:
                status, interval = "", 10
            else:
                status, interval = answer.status, answer.interval
            if status == "Accepted":
                self.registration = "Accepted"
                self.stats.accepted += 1
                if interval > 0:
                    self.heartbeat_interval = float(interval)
                self.boot_reason = "PowerUp"
                return
            self.registration = status
            await asyncio.sleep(interval if interval > 0 else 10)

    def _boot_payload(self) -> dict[str, Any]:
        c = self.config
        if self.version == "1.6":
            payload = {
                "charge_point_vendor": c.vendor,
                "charge_point_model": c.model,
                "firmware_version": c.firmware_version,
            }
            if c.serial_number:
                payload["charge_point_serial_number"] = c.serial_number
            return payload
        station = {
            "vendor_name": c.vendor,
            "model": c.model,
            "firmware_version": c.firmware_version,
        }
        if c.serial_number:
            station["serial_number"] = c.serial_number
        return {"charging_station": station, "reason": self.boot_reason}

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(max(self.heartbeat_interval, 1))
            await self.call("Heartbeat", {})

    async def _sessions(self, stop: asyncio.Event) -> None:
        """Plug in and charge on each connector in turn, with pauses between sessions."""
        for connector in itertools.cycle(self.connectors.values()):
            await asyncio.sleep(self.config.plug_in_after)
            if stop.is_set():
                return
            if connector.operative and not connector.busy and connector.transaction_id is None:
                await self.charge(connector, self.config.id_tag, authorize=True)
            await asyncio.sleep(self.config.idle_seconds)

    # --- messages to the CSMS -------------------------------------------------------------
    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        """Send a call; the answer, or None after a CALLERROR or a timeout (counted)."""
        if self.cp is None:
            return None
        module = CALLS[self.version]
        try:
            answer = await self.cp.call(getattr(module, action)(**payload))
        except TimeoutError:
            self.stats.errors += 1
            return None
        return answer

    async def send_status(self, connector: Connector) -> None:
        if self.version == "1.6":
            await self.call(
                "StatusNotification",
                {
                    "connector_id": connector.number,
                    "error_code": "NoError",
                    "status": connector.status(self.version),
                    "timestamp": now(),
                },
            )
        else:
            await self.call(
                "StatusNotification",
                {
                    "timestamp": now(),
                    "connector_status": connector.status(self.version),
                    "evse_id": connector.number,
                    "connector_id": 1,
                },
            )

    async def send_status_station(self) -> None:
        if self.version == "1.6":
            status = (
                "Available"
                if any(c.operative for c in self.connectors.values())
                else ("Unavailable")
            )
            await self.call(
                "StatusNotification",
                {"connector_id": 0, "error_code": "NoError", "status": status, "timestamp": now()},
            )

    def _power(self, connector: Connector) -> float:
        """The power the connector draws: its rating, capped by the profiles it holds.

        Per purpose the prevailing profile is the one of highest stack level, the
        connector's own before connector 0's (1.6 section 3.13.1); a TxProfile of the
        running transaction overrules the TxDefaultProfile; station-wide maximums cap both.
        """
        power = self.config.power_w
        prevailing: dict[str, dict[str, Any]] = {}
        for profile in self.profiles.values():
            if profile["connector"] not in (0, connector.number) or profile["limit_w"] is None:
                continue
            purpose = profile["purpose"]
            if purpose == "TxProfile" and (
                connector.transaction_id is None
                or profile["transaction_id"] not in ("", str(connector.transaction_id))
            ):
                continue
            best = prevailing.get(purpose)
            rank = (profile["connector"] != 0, profile["stack_level"])
            if best is None or rank > (best["connector"] != 0, best["stack_level"]):
                prevailing[purpose] = profile
        tx = prevailing.pop("TxProfile", None) or prevailing.pop("TxDefaultProfile", None)
        prevailing.pop("TxDefaultProfile", None)
        for profile in [tx, *prevailing.values()]:
            if profile is not None:
                power = min(power, profile["limit_w"])
        return max(power, 0.0)

    def _meter_value(self, connector: Connector, power: float) -> list[dict[str, Any]]:
        if self.version == "1.6":
            return [
                {
                    "timestamp": now(),
                    "sampled_value": [
                        {
                            "value": f"{connector.energy_wh:.0f}",
                            "measurand": "Energy.Active.Import.Register",
                            "unit": "Wh",
                        },
                        {"value": f"{power:.0f}", "measurand": "Power.Active.Import", "unit": "W"},
                    ],
                }
            ]
        return [
            {
                "timestamp": now(),
                "sampled_value": [
                    {
                        "value": round(connector.energy_wh, 1),
                        "measurand": "Energy.Active.Import.Register",
                        "unit_of_measure": {"unit": "Wh"},
                    },
                    {
                        "value": round(power, 1),
                        "measurand": "Power.Active.Import",
                        "unit_of_measure": {"unit": "W"},
                    },
                ],
            }
        ]

    async def _transaction_event(
        self, connector: Connector, event_type: str, trigger: str, **extra: Any
    ) -> Any:
        info: dict[str, Any] = {"transaction_id": str(connector.transaction_id)}
        info.update(extra.pop("info", {}))
        payload = {
            "event_type": event_type,
            "timestamp": now(),
            "trigger_reason": trigger,
            "seq_no": connector.seq_no,
            "transaction_info": info,
            "evse": {"id": connector.number, "connector_id": 1},
            **extra,
        }
        connector.seq_no += 1
        return await self.call("TransactionEvent", payload)

    async def charge(
        self,
        connector: Connector,
        id_tag: str,
        *,
        authorize: bool,
        remote_start_id: int | None = None,
    ) -> None:
        """One charging session: plug in, (authorize,) start, meter values, stop, unplug."""
        connector.busy = True
        connector.remote_start_id = remote_start_id
        connector.stop_requested.clear()
        # The driver who reserved it arrives (the emulator charges its own reservations).
        for reservation, number in list(self.answers.reservations.items()):
            if number == connector.number:
                del self.answers.reservations[reservation]
        connector.reserved = False
        try:
            if not connector.plugged:
                connector.plugged = True
                await self.send_status(connector)
            if authorize and not await self._authorized(id_tag):
                connector.plugged = False
                await self.send_status(connector)
                return
            if not await self._start(connector, id_tag, remote_start_id):
                connector.plugged = False
                await self.send_status(connector)
                return
            self.stats.sessions += 1
            self.stats.charging += 1
            try:
                reason = await self._meter_until_stopped(connector)
            finally:
                self.stats.charging -= 1
            await self._stop(connector, reason)
            connector.plugged = False
            await self.send_status(connector)
            if connector.pending_operative is not None:
                connector.operative = connector.pending_operative
                connector.pending_operative = None
                await self.send_status(connector)
        finally:
            connector.busy = False

    async def _authorized(self, id_tag: str) -> bool:
        if self.version == "1.6":
            answer = await self.call("Authorize", {"id_tag": id_tag})
            info = getattr(answer, "id_tag_info", None)
        else:
            answer = await self.call(
                "Authorize", {"id_token": {"id_token": id_tag, "type": "ISO14443"}}
            )
            info = getattr(answer, "id_token_info", None)
        # A CSMS that does not answer Authorize: charge as a station allowed to start
        # offline would (1.6 AllowOfflineTxForUnknownId, 2.x OfflineTxForUnknownIdEnabled).
        if info is None or info["status"] == "Accepted":
            return True
        self.stats.refuse(id_tag)
        return False

    async def _start(self, connector: Connector, id_tag: str, remote_start_id: int | None) -> bool:
        connector.id_tag = id_tag
        connector.energy_wh = 0.0
        connector.seq_no = 0
        if self.version == "1.6":
            answer = await self.call(
                "StartTransaction",
                {
                    "connector_id": connector.number,
                    "id_tag": id_tag,
                    "meter_start": 0,
                    "timestamp": now(),
                },
            )
            if answer is None:
                return False
            if answer.id_tag_info["status"] != "Accepted":
                self.stats.refuse(id_tag)
                # 1.6 section 5.12 (StopTransactionOnInvalidId): the station got a
                # transaction id, so it ends the transaction it began.
                await self.call(
                    "StopTransaction",
                    {
                        "meter_stop": 0,
                        "timestamp": now(),
                        "transaction_id": answer.transaction_id,
                        "reason": "DeAuthorized",
                        "id_tag": id_tag,
                    },
                )
                return False
            connector.transaction_id = answer.transaction_id
            await self.send_status(connector)
            return True
        connector.transaction_id = f"{self.config.identity}-{next(self._next_transaction)}"
        self._started_at[connector.transaction_id] = datetime.now(UTC)
        extra: dict[str, Any] = {
            "id_token": {"id_token": id_tag, "type": "ISO14443"},
            "meter_value": self._meter_value(connector, 0.0),
            "info": {"charging_state": "Charging"},
        }
        if remote_start_id is not None:
            extra["info"]["remote_start_id"] = remote_start_id
        answer = await self._transaction_event(
            connector,
            "Started",
            "RemoteStart" if remote_start_id is not None else "Authorized",
            **extra,
        )
        info = getattr(answer, "id_token_info", None)
        if info is not None and info["status"] != "Accepted":
            self.stats.refuse(id_tag)
            connector.stop_requested.set()  # deauthorized: the session ends at once
        return True

    async def _meter_until_stopped(self, connector: Connector) -> str:
        started = time.monotonic()
        while True:
            interval = max(self.meter_interval, 0.2)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(connector.stop_requested.wait(), interval)
            elapsed = time.monotonic() - started
            if connector.stop_requested.is_set():
                return "Remote"
            power = self._power(connector)
            connector.energy_wh += power * interval / 3600
            await self._send_meter_values(connector, power)
            if elapsed >= self.config.charge_seconds:
                return "Local"

    async def _send_meter_values(self, connector: Connector, power: float) -> None:
        if self.version == "1.6":
            payload: dict[str, Any] = {
                "connector_id": connector.number,
                "meter_value": self._meter_value(connector, power),
            }
            if connector.transaction_id is not None:
                payload["transaction_id"] = connector.transaction_id
            await self.call("MeterValues", payload)
        elif connector.transaction_id is not None:
            await self._stream_values(power)
            await self._transaction_event(
                connector,
                "Updated",
                "MeterValuePeriodic",
                meter_value=self._meter_value(connector, power),
                info={"charging_state": "Charging" if power > 0 else "SuspendedEVSE"},
            )
        else:
            await self.call(
                "MeterValues",
                {"evse_id": connector.number, "meter_value": self._meter_value(connector, power)},
            )

    async def _stop(self, connector: Connector, reason: str) -> None:
        if self.version == "1.6":
            await self.call(
                "StopTransaction",
                {
                    "meter_stop": int(connector.energy_wh),
                    "timestamp": now(),
                    "transaction_id": connector.transaction_id,
                    "reason": reason,
                    "id_tag": connector.id_tag,
                },
            )
        else:
            extra: dict[str, Any] = {}
            details = self.cost_details(connector)
            if details is not None:
                extra["cost_details"] = details
            await self._transaction_event(
                connector,
                "Ended",
                "RemoteStop" if reason == "Remote" else "StopAuthorized",
                meter_value=self._meter_value(connector, 0.0),
                info={"stopped_reason": reason, "charging_state": "Idle"},
                **extra,
            )
        connector.transaction_id = None
        # A TxProfile ends with its transaction (1.6 section 3.13.1).
        for pid, profile in list(self.profiles.items()):
            if profile["purpose"] == "TxProfile" and profile["connector"] == connector.number:
                del self.profiles[pid]

    # --- OCPP 2.1: local cost and event streams ------------------------------------------
    def tariff_for(self, connector: Connector) -> dict[str, Any] | None:
        """The tariff of the transaction (ChangeTransactionTariff), else the EVSE's default,
        else the station's (SetDefaultTariff evse 0)."""
        tx = str(connector.transaction_id)
        return (
            self.transaction_tariffs.get(tx)
            or self.tariffs.get(connector.number)
            or self.tariffs.get(0)
        )

    def cost_details(self, connector: Connector) -> dict[str, Any] | None:
        """2.1 costDetails of the session, priced locally with the tariff it holds."""
        if self.version != "2.1":
            return None
        tariff = self.tariff_for(connector)
        if tariff is None:
            return None
        from decimal import Decimal

        from transactions.cost import Usage, split_session_cost

        end = datetime.now(UTC)
        tx = str(connector.transaction_id)
        since = self._started_at.pop(tx, end)
        segments = []
        energy_before = 0.0
        for old, until, energy in self.tariff_changes.pop(tx, []):
            used = Decimal(str(round(energy - energy_before)))
            segments.append((old, [Usage(since, until, used)]))
            since, energy_before = until, energy
        used = Decimal(str(round(connector.energy_wh - energy_before)))
        segments.append((tariff, [Usage(since, end, used)]))
        cost = split_session_cost(segments)
        return _snake({"totalCost": cost.total_cost(), "totalUsage": cost.total_usage()})

    async def _stream_values(self, power: float) -> None:
        """NotifyPeriodicEventStream (a SEND, never answered) on every open stream."""
        if self.version != "2.1" or self.cp is None:
            return
        for stream_id in list(self.streams):
            payload = {
                "id": stream_id,
                "pending": 0,
                "basetime": now(),
                "data": [{"t": 0, "v": f"{power:.0f}"}],
            }
            frame = [6, f"s{next(self._send_ids)}", "NotifyPeriodicEventStream", payload]
            with contextlib.suppress(Exception):
                await self.cp._connection.send(json.dumps(frame))

    # --- calls from the CSMS ------------------------------------------------------------------
    def _later(self, coro_factory: Callable[[], Any]) -> None:
        """Act once our answer is on the wire (a station answers before it acts)."""

        async def run() -> None:
            await asyncio.sleep(0.05)
            await coro_factory()

        task = asyncio.ensure_future(run())
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)

    def reset(self) -> None:
        async def do_reset() -> None:
            for connector in self.connectors.values():
                if connector.transaction_id is not None:
                    connector.stop_requested.set()
            await asyncio.sleep(0.2)
            self.boot_reason = "RemoteReset"
            self._reconnect_now.set()

        self._later(do_reset)

    def find_connector(self, number: int | None) -> Connector | None:
        if number is None:
            return next((c for c in self.connectors.values() if c.operative and not c.busy), None)
        return self.connectors.get(number)

    def remote_start(self, id_tag: str, number: int | None, remote_start_id: int | None) -> bool:
        connector = self.find_connector(number)
        if connector is None or not connector.operative or connector.busy:
            return False
        connector.busy = True  # taken at once: a second remote start gets Rejected
        self._later(
            lambda: self.charge(connector, id_tag, authorize=False, remote_start_id=remote_start_id)
        )
        return True

    def remote_stop(self, transaction_id: Any) -> bool:
        for connector in self.connectors.values():
            if connector.transaction_id is not None and str(connector.transaction_id) == str(
                transaction_id
            ):
                connector.stop_requested.set()
                return True
        return False

    def change_availability(self, number: int, operative: bool) -> str:
        targets = list(self.connectors.values()) if number == 0 else [self.connectors.get(number)]
        if None in targets:
            return "Rejected"
        scheduled = False
        changed = []
        for connector in targets:
            assert connector is not None
            if connector.transaction_id is not None and not operative:
                connector.pending_operative = operative
                scheduled = True
            elif connector.operative != operative:
                connector.operative = operative
                changed.append(connector)

        async def notify() -> None:
            for connector in changed:
                await self.send_status(connector)
            if number == 0:
                await self.send_status_station()

        self._later(notify)
        return "Scheduled" if scheduled else "Accepted"

    def unlock(self, number: int) -> str:
        connector = self.connectors.get(number)
        if connector is None:
            return "UnknownConnector" if self.version != "1.6" else "NotSupported"
        if connector.transaction_id is not None:
            if self.version != "1.6":
                return "OngoingAuthorizedTransaction"
            connector.stop_requested.set()  # 1.6: unlocking ends the session
        elif connector.plugged and not connector.busy:
            connector.plugged = False
            self._later(lambda: self.send_status(connector))
        return "Unlocked"

    def trigger(self, message: str, number: int | None) -> str:
        connectors = (
            [self.connectors[number]]
            if number in self.connectors
            else list(self.connectors.values())
        )
        if number is not None and number not in self.connectors and number != 0:
            return "Rejected"
        if message == "BootNotification":
            self.boot_reason = "Triggered"
            self._later(lambda: self.call("BootNotification", self._boot_payload()))
        elif message == "Heartbeat":
            self._later(lambda: self.call("Heartbeat", {}))
        elif message == "StatusNotification":

            async def statuses() -> None:
                for connector in connectors:
                    await self.send_status(connector)

            self._later(statuses)
        elif message == "MeterValues":

            async def meters() -> None:
                for connector in connectors:
                    power = self._power(connector) if connector.transaction_id else 0.0
                    await self._send_meter_values(connector, power)

            self._later(meters)
        else:
            return "NotImplemented"
        return "Accepted"

    def set_profile(self, number: int, profile: dict[str, Any]) -> str:
        if number and number not in self.connectors:
            return "Rejected"
        schedule = profile.get("charging_schedule")
        if isinstance(schedule, list):  # 2.x: a list of schedules
            schedule = schedule[0] if schedule else {}
        schedule = schedule or {}
        periods = schedule.get("charging_schedule_period") or [{}]
        limit = periods[0].get("limit")
        unit = schedule.get("charging_rate_unit", "W")
        limit_w = None if limit is None else float(limit) * (VOLTS * PHASES if unit == "A" else 1)
        purpose = profile.get("charging_profile_purpose", "")
        connector = self.connectors.get(number)
        if purpose == "TxProfile" and (connector is None or connector.transaction_id is None):
            return "Rejected"  # 1.6 section 3.13.1: no transaction on the connector
        # 1.6 names it chargingProfileId, 2.x id.
        profile_id = profile.get("id", profile.get("charging_profile_id"))
        self.profiles[int(profile_id)] = {
            "connector": number,
            "purpose": purpose,
            "stack_level": profile.get("stack_level", 0),
            "limit_w": limit_w,
            "unit": unit,
            "transaction_id": str(profile.get("transaction_id", "") or ""),
            # As sent (camelCase), for GetChargingProfiles.
            "raw": snake_to_camel_case(profile) if self.version != "1.6" else None,
        }
        return "Accepted"

    def clear_profiles(
        self, profile_id: int | None, number: int | None, purpose: str | None
    ) -> str:
        doomed = [
            pid
            for pid, p in self.profiles.items()
            if (profile_id is None or pid == profile_id)
            and (number is None or p["connector"] == number)
            and (purpose is None or p["purpose"] == purpose)
        ]
        for pid in doomed:
            del self.profiles[pid]
        return "Accepted" if doomed else "Unknown"


_tasks: set[asyncio.Future[Any]] = set()


class _Station16(ChargePoint16):
    def __init__(self, station: EmulatedStation, connection: Any) -> None:
        super().__init__(station.config.identity, connection, response_timeout=30)
        self.station = station

    @on("Reset")
    def on_reset(self, type: str, **_: Any) -> Any:
        self.station.reset()
        return result16.Reset(status="Accepted")

    @on("RemoteStartTransaction")
    def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> Any:
        ok = self.station.remote_start(id_tag, connector_id, None)
        return result16.RemoteStartTransaction(status="Accepted" if ok else "Rejected")

    @on("RemoteStopTransaction")
    def on_remote_stop(self, transaction_id: int, **_: Any) -> Any:
        ok = self.station.remote_stop(transaction_id)
        return result16.RemoteStopTransaction(status="Accepted" if ok else "Rejected")

    @on("ChangeAvailability")
    def on_change_availability(self, connector_id: int, type: str, **_: Any) -> Any:
        status = self.station.change_availability(connector_id, type == "Operative")
        return result16.ChangeAvailability(status=status)

    @on("UnlockConnector")
    def on_unlock(self, connector_id: int, **_: Any) -> Any:
        return result16.UnlockConnector(status=self.station.unlock(connector_id))

    @on("GetConfiguration")
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        conf = self.station.configuration
        names = key or list(conf)
        known = [
            {"key": k, "readonly": conf[k][1], "value": conf[k][0]} for k in names if k in conf
        ]
        unknown = [k for k in names if k not in conf]
        return result16.GetConfiguration(
            configuration_key=known or None, unknown_key=unknown or None
        )

    @on("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        conf = self.station.configuration
        if key not in conf:
            return result16.ChangeConfiguration(status="NotSupported")
        if conf[key][1]:
            return result16.ChangeConfiguration(status="Rejected")
        if key.endswith("Interval") and not value.isdigit():
            return result16.ChangeConfiguration(status="Rejected")
        conf[key] = (value, False)
        self.station._apply_setting(key, value)
        return result16.ChangeConfiguration(status="Accepted")

    @on("TriggerMessage")
    def on_trigger(self, requested_message: str, connector_id: int | None = None, **_: Any) -> Any:
        return result16.TriggerMessage(status=self.station.trigger(requested_message, connector_id))

    @on("SetChargingProfile")
    def on_set_profile(self, connector_id: int, cs_charging_profiles: dict, **_: Any) -> Any:
        return result16.SetChargingProfile(
            status=self.station.set_profile(connector_id, cs_charging_profiles)
        )

    @on("ClearChargingProfile")
    def on_clear_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        **_: Any,
    ) -> Any:
        return result16.ClearChargingProfile(
            status=self.station.clear_profiles(id, connector_id, charging_profile_purpose)
        )


def _station2(base: type, result: Any) -> type:
    """The 2.0.1 and 2.1 station classes: same behaviour, each with its version's schemas."""

    class Station2(base):  # type: ignore[misc, valid-type]
        def __init__(self, station: EmulatedStation, connection: Any) -> None:
            super().__init__(station.config.identity, connection, response_timeout=30)
            self.station = station

        @on("Reset")
        def on_reset(self, type: str, evse_id: int | None = None, **_: Any) -> Any:
            self.station.reset()
            return result.Reset(status="Accepted")

        @on("RequestStartTransaction")
        def on_request_start(
            self, id_token: dict, remote_start_id: int, evse_id: int | None = None, **_: Any
        ) -> Any:
            ok = self.station.remote_start(id_token["id_token"], evse_id, remote_start_id)
            return result.RequestStartTransaction(status="Accepted" if ok else "Rejected")

        @on("RequestStopTransaction")
        def on_request_stop(self, transaction_id: str, **_: Any) -> Any:
            ok = self.station.remote_stop(transaction_id)
            return result.RequestStopTransaction(status="Accepted" if ok else "Rejected")

        @on("ChangeAvailability")
        def on_change_availability(
            self, operational_status: str, evse: dict | None = None, **_: Any
        ) -> Any:
            number = (evse or {}).get("id", 0)
            status = self.station.change_availability(number, operational_status == "Operative")
            return result.ChangeAvailability(status=status)

        @on("UnlockConnector")
        def on_unlock(self, evse_id: int, connector_id: int, **_: Any) -> Any:
            status = self.station.unlock(evse_id) if connector_id == 1 else "UnknownConnector"
            return result.UnlockConnector(status=status)

        @on("GetVariables")
        def on_get_variables(self, get_variable_data: list[dict], **_: Any) -> Any:
            results = []
            for item in get_variable_data:
                key = (item["component"]["name"], item["variable"]["name"])
                entry = {"component": item["component"], "variable": item["variable"]}
                if key in self.station.variables:
                    entry["attribute_status"] = "Accepted"
                    entry["attribute_value"] = self.station.variables[key][0]
                else:
                    entry["attribute_status"] = "UnknownVariable"
                results.append(entry)
            return result.GetVariables(get_variable_result=results)

        @on("SetVariables")
        def on_set_variables(self, set_variable_data: list[dict], **_: Any) -> Any:
            results = []
            for item in set_variable_data:
                key = (item["component"]["name"], item["variable"]["name"])
                value = item["attribute_value"]
                if key not in self.station.variables:
                    status = "UnknownVariable"
                elif self.station.variables[key][1]:
                    status = "Rejected"
                elif key[1].endswith("Interval") and not value.isdigit():
                    status = "Rejected"
                else:
                    self.station.variables[key] = (value, False)
                    self.station._apply_setting(key[1], value)
                    status = "Accepted"
                results.append(
                    {
                        "attribute_status": status,
                        "component": item["component"],
                        "variable": item["variable"],
                    }
                )
            return result.SetVariables(set_variable_result=results)

        @on("TriggerMessage")
        def on_trigger(self, requested_message: str, evse: dict | None = None, **_: Any) -> Any:
            number = (evse or {}).get("id")
            return result.TriggerMessage(status=self.station.trigger(requested_message, number))

        @on("SetChargingProfile")
        def on_set_profile(self, evse_id: int, charging_profile: dict, **_: Any) -> Any:
            return result.SetChargingProfile(
                status=self.station.set_profile(evse_id, charging_profile)
            )

        @on("ClearChargingProfile")
        def on_clear_profile(
            self,
            charging_profile_id: int | None = None,
            charging_profile_criteria: dict | None = None,
            **_: Any,
        ) -> Any:
            criteria = charging_profile_criteria or {}
            return result.ClearChargingProfile(
                status=self.station.clear_profiles(
                    charging_profile_id,
                    criteria.get("evse_id"),
                    criteria.get("charging_profile_purpose"),
                )
            )

    return Station2


def _snake(value: Any) -> Any:
    """A camelCase payload as the `ocpp` package's snake_case keyword arguments."""
    if isinstance(value, dict):
        return {
            "".join(f"_{c.lower()}" if c.isupper() else c for c in key): _snake(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_snake(item) for item in value]
    return value


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            head, *rest = key.split("_")
            out[head + "".join(part[:1].upper() + part[1:] for part in rest)] = _camel(item)
        return out
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value


class _Station21(_station2(ChargePoint21, result21)):  # type: ignore[misc]
    """2.1: what 2.0.1 does, and the state 2.1 adds (tariffs, DER, streams, priority)."""

    @on("SetDefaultTariff")
    def on_set_default_tariff(self, evse_id: int, tariff: dict, **_: Any) -> Any:
        self.station.tariffs[evse_id] = _camel(tariff)
        return result21.SetDefaultTariff(status="Accepted")

    @on("GetTariffs")
    def on_get_tariffs(self, evse_id: int, **_: Any) -> Any:
        held = {
            evse: tariff for evse, tariff in self.station.tariffs.items() if evse_id in (0, evse)
        }
        if not held:
            return result21.GetTariffs(status="NoTariff")
        return result21.GetTariffs(
            status="Accepted",
            tariff_assignments=[
                {
                    "tariff_id": tariff["tariffId"],
                    "tariff_kind": "DefaultTariff",
                    "evse_ids": [evse],
                }
                for evse, tariff in held.items()
            ],
        )

    @on("ClearTariffs")
    def on_clear_tariffs(
        self, tariff_ids: list[str] | None = None, evse_id: int | None = None, **_: Any
    ) -> Any:
        results = []
        for evse, tariff in list(self.station.tariffs.items()):
            if evse_id is not None and evse != evse_id:
                continue
            if tariff_ids and tariff["tariffId"] not in tariff_ids:
                continue
            del self.station.tariffs[evse]
            results.append({"tariff_id": tariff["tariffId"], "status": "Accepted"})
        return result21.ClearTariffs(clear_tariffs_result=results or [{"status": "NoTariff"}])

    @on("ChangeTransactionTariff")
    def on_change_transaction_tariff(self, transaction_id: str, tariff: dict, **_: Any) -> Any:
        running = {str(c.transaction_id): c for c in self.station.connectors.values()}
        connector = running.get(transaction_id)
        if connector is None:
            return result21.ChangeTransactionTariff(status="TxNotFound")
        # I11: the tariff it had prices the session up to now, the new one from now on.
        old = self.station.tariff_for(connector)
        if old is not None:
            self.station.tariff_changes.setdefault(transaction_id, []).append(
                (old, datetime.now(UTC), connector.energy_wh)
            )
        self.station.transaction_tariffs[transaction_id] = _camel(tariff)
        return result21.ChangeTransactionTariff(status="Accepted")

    @on("SetDERControl")
    def on_set_der_control(self, control_id: str, control_type: str, **kwargs: Any) -> Any:
        superseded = [
            cid
            for cid, control in self.station.der_controls.items()
            if control["control_type"] == control_type
            and control.get("is_default") == kwargs.get("is_default")
        ]
        for cid in superseded:
            del self.station.der_controls[cid]
        self.station.der_controls[control_id] = {"control_type": control_type, **kwargs}
        answer: dict[str, Any] = {"status": "Accepted"}
        if superseded:
            answer["superseded_ids"] = superseded
        return result21.SetDERControl(**answer)

    @on("GetDERControl")
    def on_get_der_control(self, request_id: int, **_: Any) -> Any:
        if not self.station.der_controls:
            return result21.GetDERControl(status="NotFound")
        return result21.GetDERControl(status="Accepted")

    @on("ClearDERControl")
    def on_clear_der_control(
        self,
        is_default: bool,
        control_type: str | None = None,
        control_id: str | None = None,
        **_: Any,
    ) -> Any:
        gone = [
            cid
            for cid, control in self.station.der_controls.items()
            if (control_id is None or cid == control_id)
            and (control_type is None or control["control_type"] == control_type)
        ]
        for cid in gone:
            del self.station.der_controls[cid]
        return result21.ClearDERControl(status="Accepted" if gone else "NotFound")

    @on("AdjustPeriodicEventStream")
    def on_adjust_periodic_event_stream(self, id: int, params: dict, **_: Any) -> Any:
        if id not in self.station.streams:
            return result21.AdjustPeriodicEventStream(status="Rejected")
        self.station.streams[id]["params"] = params
        return result21.AdjustPeriodicEventStream(status="Accepted")

    @on("GetPeriodicEventStream")
    def on_get_periodic_event_stream(self, **_: Any) -> Any:
        streams = list(self.station.streams.values())
        if not streams:
            return result21.GetPeriodicEventStream()
        return result21.GetPeriodicEventStream(constant_stream_data=streams)

    @on("UpdateDynamicSchedule")
    def on_update_dynamic_schedule(
        self, charging_profile_id: int, schedule_update: dict, **_: Any
    ) -> Any:
        profile = self.station.profiles.get(charging_profile_id)
        if profile is None:
            return result21.UpdateDynamicSchedule(status="Rejected")
        profile["dynamic_update"] = schedule_update
        # K28: the new limit applies from now on, in the profile's unit.
        limit = schedule_update.get("limit")
        if limit is not None:
            profile["limit_w"] = float(limit) * (
                VOLTS * PHASES if profile.get("unit", "W") == "A" else 1
            )
        return result21.UpdateDynamicSchedule(status="Accepted")

    @on("UsePriorityCharging")
    def on_use_priority_charging(self, transaction_id: str, activate: bool, **_: Any) -> Any:
        (self.station.priority.add if activate else self.station.priority.discard)(transaction_id)
        return result21.UsePriorityCharging(status="Accepted")

    @on("RequestBatterySwap")
    def on_request_battery_swap(self, request_id: int, id_token: dict, **_: Any) -> Any:
        return result21.RequestBatterySwap(
            status="Rejected", status_info={"reason_code": "NoBatterySwap"}
        )

    @on("NotifyAllowedEnergyTransfer")
    def on_notify_allowed_energy_transfer(self, **_: Any) -> Any:
        return result21.NotifyAllowedEnergyTransfer(status="Accepted")

    @on("NotifyWebPaymentStarted")
    def on_notify_web_payment_started(self, **_: Any) -> Any:
        return result21.NotifyWebPaymentStarted()

    @on("AFRRSignal")
    def on_afrr_signal(self, **_: Any) -> Any:
        return result21.AFRRSignal(status="Accepted")


CHARGE_POINTS: dict[str, Any] = {
    "1.6": _Station16,
    "2.0.1": _station2(ChargePoint201, result201),
    "2.1": _Station21,
}
CALLS = {"1.6": call16, "2.0.1": call201, "2.1": call21}
RESULTS = {"1.6": result16, "2.0.1": result201, "2.1": result21}


def configs_from_options(
    *,
    count: int,
    prefix: str,
    versions: list[str],
    url: str,
    **options: Any,
) -> list[StationConfig]:
    """`count` stations `<prefix>1..n`, their versions taken from `versions` in turn."""
    return [
        StationConfig(
            identity=f"{prefix}{n}", version=versions[(n - 1) % len(versions)], url=url, **options
        )
        for n in range(1, count + 1)
    ]


async def run_stations(
    configs: list[StationConfig],
    *,
    duration: float | None,
    stats: Stats | None = None,
    report: Callable[[Stats, float], None] | None = None,
    report_every: float = 1.0,
    stop: asyncio.Event | None = None,
) -> list[EmulatedStation]:
    """Run every station until `duration` seconds have passed or `stop` is set."""
    stats = stats or Stats()
    stats.stations = len(configs)
    stop = stop or asyncio.Event()
    stations = [EmulatedStation(config, stats) for config in configs]
    started = time.monotonic()
    tasks = [asyncio.create_task(s.run(stop)) for s in stations]
    try:
        while not stop.is_set():
            elapsed = time.monotonic() - started
            if duration is not None and elapsed >= duration:
                break
            wait = report_every if duration is None else min(report_every, duration - elapsed)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), max(wait, 0))
            if report:
                report(stats, time.monotonic() - started)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return stations

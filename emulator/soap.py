"""Emulated OCPP-S stations (OCPP 1.5 and 1.6 over SOAP): zeep clients of the official
CentralSystemService WSDL, one thread each, charging sessions in a loop.

Each serves a ChargePointService too, for the CSMS's calls: one HTTP server per run with a
path per station (`http://<host>:<port>/<identity>`, sent as the WS-Addressing From of every
request), reading and answering with the types of the official ChargePointService WSDL.
The stations act on what they are told: Reset boots again, RemoteStartTransaction starts a
session with the tag given, RemoteStopTransaction ends the running one, ChangeConfiguration
and GetConfiguration keep and report a small configuration, TriggerMessage (1.6) sends the
message asked for; UnlockConnector and ChangeAvailability are accepted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote

from lxml import etree
from zeep import Client
from zeep.plugins import Plugin
from zeep.wsa import WsAddressingPlugin

from ocpp_router.soap import envelope
from ocpp_router.soap.envelope import CENTRAL_SYSTEM, CHARGE_POINT, SOAP12, WSA, SoapFault

logger = logging.getLogger(__name__)

SOAP_VERSIONS = tuple(CENTRAL_SYSTEM)


class _From(Plugin):
    """WS-Addressing From: where the station's ChargePointService listens."""

    def __init__(self, address: str):
        self.address = address

    def egress(self, envelope, http_headers, operation, binding_options):  # type: ignore[no-untyped-def]
        header = envelope.find(f"{{{SOAP12}}}Header")
        sender = etree.SubElement(header, f"{{{WSA}}}From")
        etree.SubElement(sender, f"{{{WSA}}}Address").text = self.address
        return envelope, http_headers


@dataclass
class SoapStats:
    sessions: int = 0
    messages: int = 0
    errors: int = 0
    # CSMS-initiated calls the stations' ChargePointService answered.
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, sessions: int = 0, messages: int = 0, errors: int = 0, calls: int = 0) -> None:
        with self.lock:
            self.sessions += sessions
            self.messages += messages
            self.errors += errors
            self.calls += calls


CONFIGURATION = {
    # key: (value, readonly)
    "HeartbeatInterval": ("300", False),
    "MeterValueSampleInterval": ("5", False),
    "ConnectionTimeOut": ("60", False),
    "NumberOfConnectors": ("1", True),
    "AuthorizeRemoteTxRequests": ("false", False),
}
TRIGGERABLE = {"BootNotification", "Heartbeat", "StatusNotification", "MeterValues"}


@dataclass
class StationState:
    """What the CSMS told one emulated station, for its loop to act on."""

    identity: str
    version: str
    configuration: dict[str, tuple[str, bool]] = field(default_factory=lambda: dict(CONFIGURATION))
    charging_transaction: int | None = None
    remote_starts: queue.Queue[str] = field(default_factory=queue.Queue)
    to_send: queue.Queue[str] = field(default_factory=queue.Queue)  # reboot / triggered
    stop: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    list_version: int = 0

    def nap(self, seconds: float) -> None:
        """Sleep up to `seconds`, woken early by a call of the CSMS."""
        self.wake.wait(max(seconds, 0))
        self.wake.clear()

    def answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The answer to the CSMS's `action`, as the station's version spells it."""
        v15 = self.version == "1.5"
        if action == "Reset":
            self.stop.set()
            self.to_send.put("Reboot")
            return {"status": "Accepted"}
        if action == "RemoteStartTransaction":
            if self.charging_transaction is not None or not self.remote_starts.empty():
                return {"status": "Rejected"}
            self.remote_starts.put(payload["idTag"])
            return {"status": "Accepted"}
        if action == "RemoteStopTransaction":
            if self.charging_transaction != payload.get("transactionId"):
                return {"status": "Rejected"}
            self.stop.set()
            return {"status": "Accepted"}
        if action == "ChangeConfiguration":
            known = self.configuration.get(payload["key"])
            if known is None:
                return {"status": "NotSupported"}
            if known[1]:
                return {"status": "Rejected"}
            self.configuration[payload["key"]] = (payload["value"], False)
            return {"status": "Accepted"}
        if action == "GetConfiguration":
            keys = payload.get("key") or list(self.configuration)
            return {
                "configurationKey": [
                    {
                        "key": k,
                        "readonly": self.configuration[k][1],
                        "value": self.configuration[k][0],
                    }
                    for k in keys
                    if k in self.configuration
                ],
                "unknownKey": [k for k in keys if k not in self.configuration],
            }
        if action == "UnlockConnector":
            return {"status": "Accepted" if v15 else "Unlocked"}
        if action == "TriggerMessage":
            if payload["requestedMessage"] not in TRIGGERABLE:
                return {"status": "NotImplemented"}
            self.to_send.put(payload["requestedMessage"])
            return {"status": "Accepted"}
        if action == "GetLocalListVersion":
            return {"listVersion": self.list_version}
        if action == "SendLocalList":
            self.list_version = payload["listVersion"]
            return {"status": "Accepted"}
        if action == "DataTransfer":
            return {"status": "UnknownVendorId"}
        if action in ("GetDiagnostics", "UpdateFirmware"):
            return {}
        if action == "ClearChargingProfile":
            return {"status": "Unknown"}
        # ChangeAvailability, ClearCache: accepted; ReserveNow, CancelReservation,
        # SetChargingProfile, GetCompositeSchedule: this emulator does not do them.
        accepted = {"ChangeAvailability", "ClearCache"}
        return {"status": "Accepted" if action in accepted else "Rejected"}


class ChargePointServer:
    """The ChargePointService of every emulated station of a run: one HTTP server, one path
    per station identity (percent-encoded)."""

    def __init__(self, stats: SoapStats, host: str = "127.0.0.1", port: int = 0):
        self.stats = stats
        self.stations: dict[str, StationState] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, body = server.handle(unquote(self.path.strip("/")), raw)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", envelope.CONTENT_TYPE)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the CSMS stopped waiting

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, name="soap-charge-points", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def add(self, identity: str, version: str) -> StationState:
        state = self.stations[identity] = StationState(identity, version)
        return state

    def url_for(self, identity: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/{quote(identity, safe='')}"

    def handle(self, identity: str, raw: bytes) -> tuple[int, bytes]:
        state = self.stations.get(identity)
        if state is None:
            fault = envelope.sender("IdentityMismatch", f"No station {identity[:48]!r} here")
            return fault.status, envelope.render_fault(fault, None)
        service = CHARGE_POINT[state.version]
        try:
            request = envelope.parse(raw, service)
            if request.charge_box_identity != identity:
                raise envelope.sender(
                    "IdentityMismatch", "chargeBoxIdentity is not the station at this address"
                )
            answer = state.answer(request.action, request.payload)
            body = envelope.render_response(service, request.action, answer, request.message_id)
        except SoapFault as fault:
            return fault.status, envelope.render_fault(fault, service)
        self.stats.add(calls=1)
        state.wake.set()
        return 200, body


def soap_station(
    *,
    identity: str,
    version: str,
    url: str,
    password: str = "",
    id_tag: str = "",
    charge_seconds: float = 10.0,
    meter_interval: float = 5.0,
    idle_seconds: float = 5.0,
    until: float,
    stats: SoapStats,
    state: StationState | None = None,
    address: str = "",
    auto_start: bool = True,
) -> None:
    """Run one SOAP station until `until` (time.monotonic()): a charging session after the
    other with its own tag (`auto_start`), and what the CSMS asks of it through `state`
    (its ChargePointService at `address`)."""
    state = state or StationState(identity, version)
    description = CENTRAL_SYSTEM[version]
    client = Client(
        str(description.path),
        plugins=[WsAddressingPlugin(), _From(address or "http://127.0.0.1:1/")],
    )
    if password:
        client.transport.session.auth = (identity, password)
    service = client.create_service(f"{{{description.namespace}}}CentralSystemServiceSoap", url)
    tag = id_tag or f"TAG-{identity}"
    energy = 0

    def call(action: str, **payload: Any) -> Any:
        stats.add(messages=1)
        return getattr(service, action)(**payload, _soapheaders={"ChargeBoxIdentity": identity})

    def now() -> datetime:
        return datetime.now(UTC)

    def meter(wh: int) -> dict[str, Any]:
        if version == "1.5":
            return {"values": [{"timestamp": now(), "value": [{"_value_1": str(wh)}]}]}
        return {"meterValue": [{"timestamp": now(), "sampledValue": [{"value": str(wh)}]}]}

    def status(value: str) -> None:
        call("StatusNotification", connectorId=1, status=value, errorCode="NoError")

    def boot() -> None:
        call("BootNotification", chargePointVendor="Emulator", chargePointModel=f"SOAP-{version}")
        status("Available")

    def send_asked() -> None:
        """Reboots and triggered messages the CSMS asked for."""
        while not state.to_send.empty():
            message = state.to_send.get_nowait()
            if message in ("Reboot", "BootNotification"):
                boot()
            elif message == "Heartbeat":
                call("Heartbeat")
            elif message == "StatusNotification":
                status("Charging" if state.charging_transaction is not None else "Available")
            elif message == "MeterValues":
                call("MeterValues", connectorId=1, **meter(energy))

    def session(with_tag: str, authorize: bool) -> None:
        nonlocal energy
        if authorize and call("Authorize", idTag=with_tag).status != "Accepted":
            stats.add(errors=1)
            state.nap(idle_seconds)
            return
        start = call(
            "StartTransaction", connectorId=1, idTag=with_tag, timestamp=now(), meterStart=energy
        )
        state.charging_transaction = start.transactionId
        state.stop.clear()
        status("Occupied" if version == "1.5" else "Charging")
        ends = time.monotonic() + charge_seconds
        while time.monotonic() < min(ends, until) and not state.stop.is_set():
            state.nap(min(meter_interval, max(ends - time.monotonic(), 0)))
            send_asked()
            if state.stop.is_set():
                break
            energy += 100
            call("MeterValues", connectorId=1, transactionId=start.transactionId, **meter(energy))
        state.charging_transaction = None
        reason = (
            {} if version == "1.5" else {"reason": "Remote" if state.stop.is_set() else "Local"}
        )
        call(
            "StopTransaction",
            transactionId=start.transactionId,
            idTag=with_tag,
            timestamp=now(),
            meterStop=energy,
            **reason,
        )
        status("Available")
        call("Heartbeat")
        stats.add(sessions=1)

    boot()
    while time.monotonic() < until:
        try:
            send_asked()
            try:
                remote = state.remote_starts.get_nowait()
            except queue.Empty:
                remote = ""
            if remote:
                # AuthorizeRemoteTxRequests is false: a remote start needs no Authorize.
                session(remote, authorize=False)
            elif auto_start:
                session(tag, authorize=True)
                state.nap(idle_seconds)
            else:
                state.nap(idle_seconds)
        except Exception:
            logger.exception("Emulated SOAP station %s", identity)
            stats.add(errors=1)
            state.nap(idle_seconds)


def run_soap_stations(
    *,
    identities: list[str],
    versions: list[str],
    base_url: str,
    duration: float,
    listen: tuple[str, int] = ("127.0.0.1", 0),
    **options: Any,
) -> SoapStats:
    """Run SOAP stations (versions used in turn) for `duration` seconds, their
    ChargePointService on `listen` (host, port); their counts."""
    stats = SoapStats()
    server = ChargePointServer(stats, *listen)
    server.start()
    until = time.monotonic() + duration
    threads = []
    try:
        for index, identity in enumerate(identities):
            version = versions[index % len(versions)]
            thread = threading.Thread(
                target=soap_station,
                kwargs={
                    "identity": identity,
                    "version": version,
                    "url": f"{base_url.rstrip('/')}/ocpp/soap/{version}",
                    "until": until,
                    "stats": stats,
                    "state": server.add(identity, version),
                    "address": server.url_for(identity),
                    **options,
                },
                daemon=True,
            )
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join(duration + 30)
    finally:
        server.stop()
    return stats

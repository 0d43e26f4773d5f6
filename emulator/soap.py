"""Emulated OCPP-S stations (OCPP 1.5 and 1.6 over SOAP): zeep clients of the official
CentralSystemService WSDL, one thread each, charging sessions in a loop.

They only send (boot, heartbeat, status, authorize, start, meter values, stop): an OCPP-S
station's ChargePointService, which the CSMS would call, is not emulated.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from zeep import Client
from zeep.plugins import Plugin
from zeep.wsa import WsAddressingPlugin

from ocpp_router.soap.envelope import CENTRAL_SYSTEM, SOAP12, WSA

SOAP_VERSIONS = tuple(CENTRAL_SYSTEM)


class _From(Plugin):
    """WS-Addressing From: where the station's ChargePointService would listen."""

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
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, sessions: int = 0, messages: int = 0, errors: int = 0) -> None:
        with self.lock:
            self.sessions += sessions
            self.messages += messages
            self.errors += errors


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
) -> None:
    """Run one SOAP station until `until` (time.monotonic())."""
    description = CENTRAL_SYSTEM[version]
    client = Client(
        str(description.path), plugins=[WsAddressingPlugin(), _From("http://127.0.0.1:1/")]
    )
    if password:
        client.transport.session.auth = (identity, password)
    service = client.create_service(f"{{{description.namespace}}}CentralSystemServiceSoap", url)
    tag = id_tag or f"TAG-{identity}"

    def call(action: str, **payload: Any) -> Any:
        stats.add(messages=1)
        return getattr(service, action)(**payload, _soapheaders={"ChargeBoxIdentity": identity})

    def now() -> datetime:
        return datetime.now(UTC)

    def meter(wh: int) -> dict[str, Any]:
        if version == "1.5":
            return {"values": [{"timestamp": now(), "value": [{"_value_1": str(wh)}]}]}
        return {"meterValue": [{"timestamp": now(), "sampledValue": [{"value": str(wh)}]}]}

    call("BootNotification", chargePointVendor="Emulator", chargePointModel=f"SOAP-{version}")
    call("StatusNotification", connectorId=1, status="Available", errorCode="NoError")
    energy = 0
    while time.monotonic() < until:
        try:
            if call("Authorize", idTag=tag).status != "Accepted":
                stats.add(errors=1)
                time.sleep(idle_seconds)
                continue
            start = call(
                "StartTransaction", connectorId=1, idTag=tag, timestamp=now(), meterStart=energy
            )
            busy = "Occupied" if version == "1.5" else "Charging"
            call("StatusNotification", connectorId=1, status=busy, errorCode="NoError")
            ends = time.monotonic() + charge_seconds
            while time.monotonic() < min(ends, until):
                time.sleep(min(meter_interval, max(ends - time.monotonic(), 0)))
                energy += 100
                call(
                    "MeterValues", connectorId=1, transactionId=start.transactionId, **meter(energy)
                )
            call(
                "StopTransaction",
                transactionId=start.transactionId,
                idTag=tag,
                timestamp=now(),
                meterStop=energy,
            )
            call("StatusNotification", connectorId=1, status="Available", errorCode="NoError")
            call("Heartbeat")
            stats.add(sessions=1)
            time.sleep(idle_seconds)
        except Exception:
            stats.add(errors=1)
            time.sleep(idle_seconds)


def run_soap_stations(
    *, identities: list[str], versions: list[str], base_url: str, duration: float, **options: Any
) -> SoapStats:
    """Run SOAP stations (versions used in turn) for `duration` seconds; their counts."""
    stats = SoapStats()
    until = time.monotonic() + duration
    threads = []
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
                **options,
            },
            daemon=True,
        )
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(duration + 30)
    return stats

"""OCPP-S (OCPP 1.6 over SOAP 1.2): zeep, built from the official WSDL, is the station.

The same registry, services and data as OCPP-J: a SOAP session leaves the rows a
websocket session leaves, seen through the data API.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from lxml import etree
from rest_framework.test import APIClient
from zeep import Client
from zeep.exceptions import Fault
from zeep.plugins import Plugin
from zeep.wsa import WsAddressingPlugin

from ocpp_router.soap.envelope import CENTRAL_SYSTEM, SOAP12, WSA
from stations import passwords
from stations.models import ChargingStation, Connector, OcppMessage
from tests.api_helpers import make_user
from transactions.models import IdToken, Transaction

NS16 = CENTRAL_SYSTEM["1.6"].namespace
PASSWORD = "Soap-Station-Password-0123456789"


class From(Plugin):
    """WS-Addressing From: where the station's ChargePointService listens."""

    def __init__(self, address: str):
        self.address = address

    def egress(self, envelope, http_headers, operation, binding_options):
        header = envelope.find(f"{{{SOAP12}}}Header")
        sender = etree.SubElement(header, f"{{{WSA}}}From")
        etree.SubElement(sender, f"{{{WSA}}}Address").text = self.address
        return envelope, http_headers


def station16(
    csms,
    identity: str,
    *,
    password: str = "",
    address: str = "http://cp.invalid/",
    version: str = "1.6",
):
    """A zeep client of the version's official CentralSystemService WSDL, as the station."""
    description = CENTRAL_SYSTEM[version]
    client = Client(str(description.path), plugins=[WsAddressingPlugin(), From(address)])
    if password:
        client.transport.session.auth = (identity, password)
    service = client.create_service(
        f"{{{description.namespace}}}CentralSystemServiceSoap",
        f"{csms.http_url}/ocpp/soap/{version}",
    )

    def call(action: str, **payload: Any) -> Any:
        return getattr(service, action)(**payload, _soapheaders={"ChargeBoxIdentity": identity})

    return call


def now() -> datetime:
    return datetime.now(UTC)


@pytest.mark.parametrize("version", ["1.5", "1.6"])
def test_soap_wsdl_is_served_as_vendored(csms, version):
    answer = httpx.get(f"{csms.http_url}/ocpp/soap/{version}?wsdl")
    assert answer.status_code == 200
    assert answer.content == CENTRAL_SYSTEM[version].path.read_bytes()


def test_soap16_session_boot_authorize_start_meter_values_stop_status_heartbeat(csms, settings):
    station = ChargingStation.objects.create(
        identity="SOAP 16",
        security_profile=1,
        password_hash=passwords.password_hash(PASSWORD),
    )
    IdToken.objects.create(value="TAG1")
    call = station16(csms, "SOAP 16", password=PASSWORD, address="http://10.0.0.7:8080/cp")
    boot = call("BootNotification", chargePointVendor="Legacy", chargePointModel="S1")
    assert boot.status == "Accepted" and boot.interval > 0
    assert call("Authorize", idTag="TAG1").status == "Accepted"
    call("StatusNotification", connectorId=1, status="Preparing", errorCode="NoError")
    start = call("StartTransaction", connectorId=1, idTag="TAG1", timestamp=now(), meterStart=1000)
    assert start.idTagInfo.status == "Accepted"
    call(
        "MeterValues",
        connectorId=1,
        transactionId=start.transactionId,
        meterValue=[
            {
                "timestamp": now(),
                "sampledValue": [{"value": "1500", "measurand": "Energy.Active.Import.Register"}],
            }
        ],
    )
    call(
        "StopTransaction",
        transactionId=start.transactionId,
        idTag="TAG1",
        timestamp=now(),
        meterStop=2500,
        reason="Local",
    )
    call("StatusNotification", connectorId=1, status="Available", errorCode="NoError")
    assert call("Heartbeat") is not None

    station.refresh_from_db()
    assert station.is_online and station.protocol == "1.6"
    assert station.registration_status == "Accepted"
    assert station.channel_name == "soap:1.6:http://10.0.0.7:8080/cp"
    tx = Transaction.objects.get(station=station)
    assert (tx.meter_start, tx.meter_stop) == (1000, 2500)
    assert Connector.objects.get(evse__station=station, connector_id=1).status == "Available"

    _user, token = make_user("soap-viewer", "viewer")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    rows = api.get("/api/transactions/", {"station_id": "SOAP 16"}).json()
    rows = rows.get("results", rows)
    assert len(rows) == 1 and rows[0]["meter_stop"] == "2500.000"

    from stations.message_log import message_log

    message_log.flush()
    logged = OcppMessage.objects.filter(station=station, action="BootNotification")
    request = logged.get(direction="in")
    assert request.payload == {"chargePointVendor": "Legacy", "chargePointModel": "S1"}
    assert "bootNotificationRequest" in request.soap_xml
    assert "bootNotificationResponse" in logged.get(direction="out").soap_xml


def _post(csms, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{csms.http_url}/ocpp/soap/1.6",
        content=body,
        headers={"Content-Type": "application/soap+xml; charset=utf-8", **headers},
    )


def _envelope(identity: str, body: str, envelope_ns: str = SOAP12) -> bytes:
    root = etree.Element(f"{{{envelope_ns}}}Envelope")
    header = etree.SubElement(root, f"{{{envelope_ns}}}Header")
    etree.SubElement(header, f"{{{NS16}}}chargeBoxIdentity").text = identity
    etree.SubElement(header, f"{{{WSA}}}MessageID").text = "urn:uuid:1"
    holder = etree.SubElement(root, f"{{{envelope_ns}}}Body")
    holder.append(etree.fromstring(body))
    return etree.tostring(root)


def _subcode(answer: httpx.Response) -> str:
    root = etree.fromstring(answer.content)
    value = root.find(f".//{{{SOAP12}}}Subcode/{{{SOAP12}}}Value")
    if value is None:
        return root.findtext(f".//{{{SOAP12}}}Code/{{{SOAP12}}}Value") or ""
    return value.text or ""


def test_soap16_malformed_requests_get_faults_and_nothing_is_stored(csms, settings):
    settings.CSMS_ALLOW_UNKNOWN_STATIONS = False
    ChargingStation.objects.create(
        identity="SOAPF",
        security_profile=1,
        password_hash=passwords.password_hash(PASSWORD),
    )
    auth = "Basic " + base64.b64encode(f"SOAPF:{PASSWORD}".encode()).decode()
    heartbeat = f'<heartbeatRequest xmlns="{NS16}"/>'

    bad_xml = _post(csms, b"<Envelope><unclosed>", Authorization=auth)
    assert bad_xml.status_code == 400 and _subcode(bad_xml).endswith("ProtocolError")

    soap11 = _post(
        csms,
        _envelope("SOAPF", heartbeat, "http://schemas.xmlsoap.org/soap/envelope/"),
        Authorization=auth,
    )
    assert soap11.status_code == 400 and _subcode(soap11).endswith("VersionMismatch")

    unknown = _post(csms, _envelope("SOAPF", f'<fooRequest xmlns="{NS16}"/>'), Authorization=auth)
    assert unknown.status_code == 500 and _subcode(unknown).endswith("NotSupported")

    not_in_xsd = _post(
        csms,
        _envelope("SOAPF", f'<authorizeRequest xmlns="{NS16}"><nope>1</nope></authorizeRequest>'),
        Authorization=auth,
    )
    assert not_in_xsd.status_code == 400 and _subcode(not_in_xsd).endswith("ProtocolError")

    stranger = _post(csms, _envelope("NOBODY", heartbeat), Authorization=auth)
    assert stranger.status_code == 401
    wrong_password = _post(
        csms,
        _envelope("SOAPF", heartbeat),
        Authorization="Basic " + base64.b64encode(b"SOAPF:wrong-password-000000").decode(),
    )
    assert wrong_password.status_code == 401

    # Before its BootNotification the station gets SecurityError (1.6 section 4.2.1).
    before_boot = _post(csms, _envelope("SOAPF", heartbeat), Authorization=auth)
    assert before_boot.status_code == 400 and _subcode(before_boot).endswith("SecurityError")

    assert not ChargingStation.objects.filter(identity="NOBODY").exists()
    assert not Transaction.objects.exists()
    # ... and the server keeps serving.
    call = station16(csms, "SOAPF", password=PASSWORD)
    assert call("BootNotification", chargePointVendor="V", chargePointModel="M").status == (
        "Accepted"
    )


def test_soap16_unknown_station_is_registered_when_allowed(csms, settings):
    settings.CSMS_ALLOW_UNKNOWN_STATIONS = True
    call = station16(csms, "SOAP-NEW")
    with pytest.raises(Fault):
        call("Heartbeat")  # not booted yet: SecurityError fault
    assert ChargingStation.objects.filter(identity="SOAP-NEW").exists()


def test_soap15_session_maps_to_the_16_services(csms):
    """OCPP 1.5 differences (heartbeatInterval, MeterValue `value` attributes, TransactionData,
    Occupied, Amp) are mapped onto the 1.6 handlers: the same rows as a 1.6 session."""
    station = ChargingStation.objects.create(identity="SOAP15")
    IdToken.objects.create(value="TAG15")
    call = station16(csms, "SOAP15", version="1.5", address="http://10.0.0.8/cp15")
    boot = call("BootNotification", chargePointVendor="Old", chargePointModel="S0")
    assert boot.status == "Accepted" and boot.heartbeatInterval > 0
    assert call("Authorize", idTag="TAG15").status == "Accepted"
    start = call("StartTransaction", connectorId=1, idTag="TAG15", timestamp=now(), meterStart=10)
    call("StatusNotification", connectorId=1, status="Occupied", errorCode="Mode3Error")
    assert Connector.objects.get(evse__station=station, connector_id=1).status == "Charging"
    sample = {"_value_1": "16", "measurand": "Current.Import", "unit": "Amp"}
    call(
        "MeterValues",
        connectorId=1,
        transactionId=start.transactionId,
        values=[{"timestamp": now(), "value": [{"_value_1": "510", "unit": "Wh"}, sample]}],
    )
    call(
        "StopTransaction",
        transactionId=start.transactionId,
        timestamp=now(),
        meterStop=1010,
        transactionData=[{"values": [{"timestamp": now(), "value": [{"_value_1": "1010"}]}]}],
    )
    call("StatusNotification", connectorId=1, status="Available", errorCode="NoError")
    assert call("Heartbeat") is not None
    tx = Transaction.objects.get(station=station)
    assert (tx.meter_start, tx.meter_stop) == (10, 1010)
    station.refresh_from_db()
    assert station.channel_name == "soap:1.5:http://10.0.0.8/cp15"


def test_soap_csms_initiated_call_is_refused_clearly_not_sent_to_the_channel_layer(csms):
    ChargingStation.objects.create(identity="SOAP-CMD")
    call = station16(csms, "SOAP-CMD")
    call("BootNotification", chargePointVendor="V", chargePointModel="M")
    _user, token = make_user("soap-operator", "operator")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    answer = api.post("/api/stations/SOAP-CMD/commands/Reset", {"type": "Soft"}, format="json")
    assert answer.status_code in (200, 201, 202, 409), answer.content
    assert "SOAP" in answer.content.decode()


def test_emulator_soap_transport_charges_on_15_and_16(csms):
    from emulator.soap import run_soap_stations

    for identity in ("EMU-S1", "EMU-S2"):
        ChargingStation.objects.create(identity=identity)
        IdToken.objects.create(value=f"TAG-{identity}")
    stats = run_soap_stations(
        identities=["EMU-S1", "EMU-S2"],
        versions=["1.5", "1.6"],
        base_url=csms.http_url,
        duration=2.0,
        charge_seconds=0.4,
        meter_interval=0.2,
        idle_seconds=0.3,
    )
    assert stats.errors == 0 and stats.sessions >= 2
    assert Transaction.objects.filter(station__identity="EMU-S1").exists()
    assert Transaction.objects.filter(station__identity="EMU-S2").exists()


@pytest.mark.django_db
def test_soap_station_is_offline_once_silent_and_keeps_its_address(settings):
    from datetime import timedelta

    from stations.services import station_soap_sweep_offline, station_sweep_offline

    settings.CSMS_SOAP_OFFLINE_AFTER = 60
    at = now()
    ChargingStation.objects.create(
        identity="SOAP-QUIET",
        is_online=True,
        channel_name="soap:1.6:http://cp/",
        connected_since=at - timedelta(hours=1),
        last_seen=at - timedelta(seconds=61),
    )
    ChargingStation.objects.create(
        identity="SOAP-TALKING",
        is_online=True,
        channel_name="soap:1.6:http://cp2/",
        connected_since=at - timedelta(hours=1),
        last_seen=at,
    )
    # The lost-process sweep leaves SOAP stations to their own rule.
    station_sweep_offline(live_channel_prefixes=[], connected_before=at)
    assert station_soap_sweep_offline(at=at) == 0
    quiet = ChargingStation.objects.get(identity="SOAP-QUIET")
    assert not quiet.is_online and quiet.channel_name == "soap:1.6:http://cp/"
    assert ChargingStation.objects.get(identity="SOAP-TALKING").is_online

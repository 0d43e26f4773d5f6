"""OCPP-S (OCPP 1.6 over SOAP 1.2): zeep, built from the official WSDL, is the station.

The same registry, services and data as OCPP-J: a SOAP session leaves the rows a
websocket session leaves, seen through the data API.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from lxml import etree
from rest_framework.test import APIClient
from zeep.exceptions import Fault

from ocpp_router.soap.envelope import CENTRAL_SYSTEM, SOAP12, WSA
from stations import passwords
from stations.models import ChargingStation, Connector, OcppMessage
from tests.api_helpers import make_user
from tests.soap_station import central_system_client
from transactions.models import IdToken, Transaction

NS16 = CENTRAL_SYSTEM["1.6"].namespace
PASSWORD = "Soap-Station-Password-0123456789"


station16 = central_system_client


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

    # Wrong chargeBoxIdentity: the credentials of another station, none, one that cannot be
    # a station id.
    ChargingStation.objects.create(
        identity="SOAPG",
        security_profile=1,
        password_hash=passwords.password_hash(PASSWORD),
    )
    other = "Basic " + base64.b64encode(f"SOAPG:{PASSWORD}".encode()).decode()
    assert _post(csms, _envelope("SOAPF", heartbeat), Authorization=other).status_code == 401
    root = etree.fromstring(_envelope("SOAPF", heartbeat))
    header = root.find(f"{{{SOAP12}}}Header")
    header.remove(header.find(f"{{{NS16}}}chargeBoxIdentity"))
    missing = _post(csms, etree.tostring(root), Authorization=auth)
    assert missing.status_code == 400 and _subcode(missing).endswith("ProtocolError")
    unusable = _post(csms, _envelope("SOAP/F", heartbeat), Authorization=auth)
    assert unusable.status_code == 400 and _subcode(unusable).endswith("IdentityMismatch")

    from stations.message_log import message_log

    message_log.flush()
    assert not OcppMessage.objects.exists()
    assert ChargingStation.objects.get(identity="SOAPF").last_seen is None

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


T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
DATA_API = [
    ("/api/stations/{}/", set()),
    ("/api/connectors/?station_id={}", set()),
    ("/api/boots/?station_id={}", {"timestamp"}),  # when the boot was received
    ("/api/transactions/?station_id={}", set()),
    ("/api/meter-values/?station_id={}", set()),
]
# What differs between two stations by nature: row ids, the station, the CSMS's transaction
# id, when the CSMS received what, and that the websocket station has hung up.
OWN = {"id", "station_id", "transaction", "transaction_id", "received_at", "created", "updated"}
OWN |= {"connected_since", "last_seen", "last_heartbeat", "last_boot_at", "url", "is_online"}


def _same_shape(value: Any, own: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _same_shape(v, own) for k, v in value.items() if k not in own}
    if isinstance(value, list):
        return [_same_shape(v, own) for v in value]
    return value


async def test_soap16_and_ocpp_j_sessions_leave_the_same_rows_in_the_data_api(csms):
    """The same 1.6 session once over OCPP-J (the `ocpp` package) and once over OCPP-S
    (zeep): the data API shows the same rows for both stations."""
    import asyncio

    from asgiref.sync import sync_to_async
    from ocpp.v16 import call as call16

    from tests.live import connect

    def setup() -> str:
        for identity in ("CMP-J", "CMP-S"):
            ChargingStation.objects.create(identity=identity)
        IdToken.objects.create(value="TAG-CMP")
        return make_user("cmp-viewer", "viewer")[1]

    token = await sync_to_async(setup)()
    at = [(T0 + timedelta(minutes=m)) for m in (0, 5, 20)]
    iso = [t.isoformat().replace("+00:00", "Z") for t in at]
    energy = {"measurand": "Energy.Active.Import.Register", "unit": "Wh"}
    async with connect(csms, "CMP-J", "1.6") as cp:
        await cp.call(
            call16.BootNotification(charge_point_vendor="Legacy", charge_point_model="S1")
        )
        await cp.call(
            call16.StatusNotification(
                connector_id=1, status="Preparing", error_code="NoError", timestamp=iso[0]
            )
        )
        await cp.call(call16.Authorize(id_tag="TAG-CMP"))
        start = await cp.call(
            call16.StartTransaction(
                connector_id=1, id_tag="TAG-CMP", meter_start=1000, timestamp=iso[0]
            )
        )
        await cp.call(
            call16.MeterValues(
                connector_id=1,
                transaction_id=start.transaction_id,
                meter_value=[{"timestamp": iso[1], "sampled_value": [{"value": "1500", **energy}]}],
            )
        )
        await cp.call(
            call16.StopTransaction(
                meter_stop=2500,
                timestamp=iso[2],
                transaction_id=start.transaction_id,
                id_tag="TAG-CMP",
                reason="Local",
            )
        )
        await cp.call(
            call16.StatusNotification(
                connector_id=1, status="Available", error_code="NoError", timestamp=iso[2]
            )
        )

    def soap_session() -> None:
        call = station16(csms, "CMP-S", address="http://127.0.0.1:9/cp")
        call("BootNotification", chargePointVendor="Legacy", chargePointModel="S1")
        call(
            "StatusNotification",
            connectorId=1,
            status="Preparing",
            errorCode="NoError",
            timestamp=at[0],
        )
        call("Authorize", idTag="TAG-CMP")
        started = call(
            "StartTransaction", connectorId=1, idTag="TAG-CMP", timestamp=at[0], meterStart=1000
        )
        call(
            "MeterValues",
            connectorId=1,
            transactionId=started.transactionId,
            meterValue=[{"timestamp": at[1], "sampledValue": [{"value": "1500", **energy}]}],
        )
        call(
            "StopTransaction",
            transactionId=started.transactionId,
            idTag="TAG-CMP",
            timestamp=at[2],
            meterStop=2500,
            reason="Local",
        )
        call(
            "StatusNotification",
            connectorId=1,
            status="Available",
            errorCode="NoError",
            timestamp=at[2],
        )

    await asyncio.to_thread(soap_session)
    async with httpx.AsyncClient(
        base_url=csms.http_url, headers={"Authorization": f"Token {token}"}
    ) as api:
        for url, own in DATA_API:
            rows = []
            for identity in ("CMP-J", "CMP-S"):
                answer = await api.get(url.format(identity))
                assert answer.status_code == 200, answer.text
                body = answer.json()
                rows.append(_same_shape(body.get("results", body), OWN | own))
            assert rows[0] == rows[1], url
            assert rows[0], url

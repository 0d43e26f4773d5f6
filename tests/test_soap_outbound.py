"""OCPP-S, CSMS -> station: calls through the message API to a SOAP station's
ChargePointService (a real HTTP server in the test, built on zeep and lxml from the official
ChargePointService WSDL), with the same Command records as OCPP-J."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from io import StringIO

import httpx
import pytest
from django.core.management import call_command

from commands.models import Command
from stations.models import ChargingStation, OcppMessage
from tests.soap_station import ChargePointService, Reply, central_system_client


@pytest.fixture
def charge_point() -> Iterator[dict[str, ChargePointService]]:
    services: dict[str, ChargePointService] = {}
    yield services
    for service in services.values():
        service.close()


def _booted(csms, charge_point, identity: str, version: str) -> ChargePointService:
    service = charge_point[identity] = ChargePointService(version)
    ChargingStation.objects.create(identity=identity)
    call = central_system_client(csms, identity, version=version, address=service.url)
    assert call("BootNotification", chargePointVendor="Legacy", chargePointModel="S").status == (
        "Accepted"
    )
    return service


def _send(api, identity: str, action: str, payload: dict, **params) -> httpx.Response:
    return api.post(f"/api/stations/{identity}/commands/{action}", json=payload, params=params)


@pytest.mark.parametrize("version", ["1.5", "1.6"])
def test_soap_station_receives_remote_start_reset_change_configuration_unlock_from_the_api(
    csms, operator_http, charge_point, version
):
    identity = f"SOAP-OUT-{version}"
    service = _booted(csms, charge_point, identity, version)
    calls = [
        ("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG1"}, {"status": "Accepted"}),
        ("Reset", {"type": "Soft"}, {"status": "Accepted"}),
        (
            "ChangeConfiguration",
            {"key": "HeartbeatInterval", "value": "120"},
            {"status": "Accepted"},
        ),
        # 1.5 answers Accepted, which is 1.6 Unlocked.
        ("UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}),
        ("GetConfiguration", {"key": ["HeartbeatInterval"]}, None),
        ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}, {"status": "Accepted"}),
    ]
    for action, payload, expected in calls:
        answer = _send(operator_http, identity, action, payload)
        assert answer.status_code == 200, answer.text
        record = answer.json()
        assert record["status"] == "completed", record
        if expected is not None:
            assert record["response"] == expected
        command = Command.objects.get(pk=record["id"])
        assert (command.status, command.request) == ("completed", payload)
        assert command.response == record["response"]
    assert _send(operator_http, identity, "GetConfiguration", {}).json()["response"] == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
    }

    assert [r.action for r in service.received][: len(calls)] == [c[0] for c in calls]
    first = service.received[0]
    assert first.identity == identity
    assert first.payload == {"connectorId": 1, "idTag": "TAG1"} | (
        {"chargingProfile": None} if version == "1.6" else {}
    )
    assert first.addressing["Action"] == "/RemoteStartTransaction"
    assert first.addressing["To"] == service.url
    assert first.addressing["MessageID"].startswith("urn:uuid:")
    assert first.addressing["From"].endswith(f"/ocpp/soap/{version}")
    assert first.content_type.startswith("application/soap+xml")

    from stations.message_log import message_log

    message_log.flush()
    logged = OcppMessage.objects.filter(station__identity=identity, action="Reset")
    out, back = logged.get(direction="out"), logged.get(direction="in")
    assert out.payload == {"type": "Soft"} and "resetRequest" in out.soap_xml
    assert back.payload == {"status": "Accepted"} and "resetResponse" in back.soap_xml
    assert back.message_id == out.message_id == service.received[1].addressing["MessageID"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_soap_station_whose_charge_point_service_is_unreachable_is_offline_and_command_failed(
    csms, operator_http
):
    ChargingStation.objects.create(identity="SOAP-GONE")
    address = f"http://127.0.0.1:{_closed_port()}/cp"
    call = central_system_client(csms, "SOAP-GONE", address=address)
    call("BootNotification", chargePointVendor="V", chargePointModel="M")
    assert ChargingStation.objects.get(identity="SOAP-GONE").is_online

    answer = _send(operator_http, "SOAP-GONE", "Reset", {"type": "Hard"})
    assert answer.status_code == 409, answer.text
    record = answer.json()
    assert record["status"] == "error" and record["error"]["code"] == "StationOffline"
    assert address in record["error"]["description"]
    assert Command.objects.get(pk=record["id"]).status == "error"
    station = ChargingStation.objects.get(identity="SOAP-GONE")
    assert not station.is_online
    # The address is kept: the station's next request brings it back online.
    assert station.channel_name == f"soap:1.6:{address}"
    assert _send(operator_http, "SOAP-GONE", "Reset", {"type": "Hard"}).status_code == 409
    call("Heartbeat")
    assert ChargingStation.objects.get(identity="SOAP-GONE").is_online


def test_soap15_station_is_refused_what_15_lacks_with_the_reason(csms, operator_http, charge_point):
    _booted(csms, charge_point, "SOAP-15", "1.5")
    trigger = _send(operator_http, "SOAP-15", "TriggerMessage", {"requestedMessage": "Heartbeat"})
    assert trigger.status_code == 409
    assert "OCPP 1.5" in trigger.json()["detail"] and "TriggerMessage" in trigger.json()["detail"]
    profile = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
        },
    }
    start = _send(
        operator_http,
        "SOAP-15",
        "RemoteStartTransaction",
        {"idTag": "T", "connectorId": 1, "chargingProfile": profile},
    )
    assert start.status_code == 409 and "chargingProfile" in start.json()["detail"]
    assert not Command.objects.filter(station__identity="SOAP-15").exists()
    assert charge_point["SOAP-15"].received == []


def test_soap16_station_is_refused_security_extension_actions_the_wsdl_lacks(
    csms, operator_http, charge_point
):
    _booted(csms, charge_point, "SOAP-SEC", "1.6")
    answer = _send(
        operator_http, "SOAP-SEC", "ExtendedTriggerMessage", {"requestedMessage": "Heartbeat"}
    )
    assert answer.status_code == 409
    assert "ChargePointService WSDL" in answer.json()["detail"]


def test_soap16_trigger_message_and_15_send_local_list_hash_error_mapped(
    csms, operator_http, charge_point
):
    _booted(csms, charge_point, "SOAP-T16", "1.6")
    trigger = _send(
        operator_http, "SOAP-T16", "TriggerMessage", {"requestedMessage": "StatusNotification"}
    )
    assert trigger.json()["response"] == {"status": "Accepted"}
    service = _booted(csms, charge_point, "SOAP-L15", "1.5")
    local_list = _send(
        operator_http,
        "SOAP-L15",
        "SendLocalList",
        {
            "listVersion": 2,
            "updateType": "Full",
            "localAuthorizationList": [{"idTag": "TAG1", "idTagInfo": {"status": "Accepted"}}],
        },
    )
    assert local_list.json()["response"] == {"status": "Failed"}  # 1.5 HashError
    received = service.received[-1]
    assert received.payload["localAuthorisationList"][0]["idTag"] == "TAG1"


def test_soap_fault_bad_answer_and_silence_end_the_command_as_for_ocpp_j(
    csms, operator_http, charge_point
):
    service = _booted(csms, charge_point, "SOAP-ODD", "1.6")
    service.replies["Reset"] = Reply(fault=("Receiver", "InternalError", "Reset is broken"))
    fault = _send(operator_http, "SOAP-ODD", "Reset", {"type": "Soft"}).json()
    assert fault["status"] == "error" and fault["error"]["code"] == "InternalError"
    assert "Reset is broken" in fault["error"]["description"]

    service.replies["ClearCache"] = Reply(raw=b"<not-soap/>")
    bad = _send(operator_http, "SOAP-ODD", "ClearCache", {}).json()
    assert bad["status"] == "error" and "SOAP 1.2" in bad["error"]["description"]

    service.replies["UnlockConnector"] = Reply(payload={"status": "Unlocked"}, delay=3)
    slow = _send(operator_http, "SOAP-ODD", "UnlockConnector", {"connectorId": 1}, timeout=1).json()
    assert slow["status"] == "timeout", slow
    # A station that answers late is still reachable: it stays online.
    assert ChargingStation.objects.get(identity="SOAP-ODD").is_online


def test_ocpp_actions_lists_the_soap_charge_point_service_operations():
    out = StringIO()
    call_command("ocpp_actions", "--ocpp-version", "1.6", stdout=out)
    text = out.getvalue()
    assert "ChargePointService" in text
    assert "RemoteStartTransaction" in text.split("ChargePointService", 1)[1]


def _until(check, timeout: float = 15.0):
    import time

    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
    return value


def test_emulator_soap_stations_answer_the_csms_calls_on_15_and_16(csms, operator_http):
    import threading

    from emulator.soap import run_soap_stations
    from transactions.models import IdToken, Transaction

    identities = {"EMU-C15": "1.5", "EMU-C16": "1.6"}
    for identity in identities:
        ChargingStation.objects.create(identity=identity)
    IdToken.objects.create(value="REMOTE-1")
    result = {}
    runner = threading.Thread(
        target=lambda: result.update(
            stats=run_soap_stations(
                identities=list(identities),
                versions=list(identities.values()),
                base_url=csms.http_url,
                duration=12.0,
                charge_seconds=30.0,
                meter_interval=0.3,
                idle_seconds=0.3,
                auto_start=False,
            )
        ),
        daemon=True,
    )
    runner.start()
    for identity in identities:
        _until(
            lambda i=identity: ChargingStation.objects.filter(identity=i, is_online=True).exists()
        )

    def ok(identity: str, action: str, payload: dict) -> dict:
        record = _send(operator_http, identity, action, payload).json()
        assert record["status"] == "completed", record
        return record["response"]

    for identity, version in identities.items():
        assert ok(identity, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "90"}) == {
            "status": "Accepted"
        }
        keys = ok(identity, "GetConfiguration", {"key": ["HeartbeatInterval"]})
        assert keys["configurationKey"] == [
            {"key": "HeartbeatInterval", "readonly": False, "value": "90"}
        ]
        assert ok(identity, "UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
        assert ok(identity, "ChangeAvailability", {"connectorId": 0, "type": "Operative"}) == {
            "status": "Accepted"
        }
        if version == "1.6":
            assert ok(identity, "TriggerMessage", {"requestedMessage": "Heartbeat"}) == {
                "status": "Accepted"
            }
    station = "EMU-C16"
    assert ok(station, "RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE-1"}) == {
        "status": "Accepted"
    }
    tx = _until(
        lambda: (
            Transaction.objects.filter(station__identity=station, id_token_value="REMOTE-1")
            .order_by("-pk")
            .first()
        )
    )
    assert ok(station, "RemoteStopTransaction", {"transactionId": int(tx.transaction_id)}) == {
        "status": "Accepted"
    }
    _until(lambda: Transaction.objects.get(pk=tx.pk).stopped_at is not None)
    assert ok("EMU-C15", "Reset", {"type": "Soft"}) == {"status": "Accepted"}
    runner.join(30)
    assert result["stats"].errors == 0 and result["stats"].calls >= 10


async def test_soap_station_gets_a_reset_from_the_admin_station_page(csms, charge_point):
    import html

    from asgiref.sync import sync_to_async
    from django.urls import reverse

    from tests.operator import csrf_post, http_client, staff_session

    service = await sync_to_async(_booted)(csms, charge_point, "SOAP-ADM", "1.6")
    pk = await sync_to_async(lambda: ChargingStation.objects.get(identity="SOAP-ADM").pk)()
    session = await staff_session()
    url = reverse("admin:stations_chargingstation_command", args=[pk, "Reset"])
    async with http_client(csms, session) as client:
        page = await csrf_post(client, url, {"payload_json": '{"type": "Hard"}'})
    assert "SOAP-ADM answered Reset: Accepted" in html.unescape(page.text)
    assert service.received[-1].payload == {"type": "Hard"}
    command = await sync_to_async(Command.objects.get)(station__identity="SOAP-ADM")
    assert (command.origin, command.status) == ("admin", "completed")


def test_soap16_pending_boot_follow_up_get_configuration_reaches_the_charge_point_service(
    csms, charge_point
):
    """A handler's call that follows its answer (here B02/1.6 4.2.1: the inventory of a
    Pending station) goes to the SOAP station's ChargePointService as it would over OCPP-J."""
    service = charge_point["SOAP-PEND"] = ChargePointService("1.6")
    ChargingStation.objects.create(
        identity="SOAP-PEND", boot_status="Pending", boot_get_base_report=True
    )
    call = central_system_client(csms, "SOAP-PEND", address=service.url)
    assert call("BootNotification", chargePointVendor="V", chargePointModel="M").status == (
        "Pending"
    )
    _until(lambda: [r for r in service.received if r.action == "GetConfiguration"])
    command = _until(
        lambda: Command.objects.filter(
            station__identity="SOAP-PEND", action="GetConfiguration", status="completed"
        ).first()
    )
    assert command.origin == "stations.boot"
    _until(lambda: ChargingStation.objects.get(identity="SOAP-PEND").boot_status == "Accepted")
    assert call("BootNotification", chargePointVendor="V", chargePointModel="M").status == (
        "Accepted"
    )


def test_soap_authorization_key_is_redacted_from_the_command_and_both_logged_envelopes(
    csms, operator_http, charge_point
):
    service = _booted(csms, charge_point, "SOAP-KEY", "1.6")
    secret = "0123456789abcdef0123456789abcdef"
    record = _send(
        operator_http,
        "SOAP-KEY",
        "ChangeConfiguration",
        {"key": "AuthorizationKey", "value": secret},
    )
    assert record.json()["status"] == "completed"
    assert service.received[-1].payload["value"] == secret  # the station gets it
    command = Command.objects.get(pk=record.json()["id"])
    assert secret not in str(command.request)

    from stations.message_log import message_log

    message_log.flush()
    [out] = OcppMessage.objects.filter(
        station__identity="SOAP-KEY", action="ChangeConfiguration", direction="out"
    )
    assert secret not in str(out.payload) and secret not in out.soap_xml

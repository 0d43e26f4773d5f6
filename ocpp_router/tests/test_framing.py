"""RPC framing and validation errors over a raw websocket: the exact CALLERROR of each version."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.live import raw_connect

BOOT = {
    "1.6": {"chargePointVendor": "Acme", "chargePointModel": "AC-22"},
    "2.0.1": {"reason": "PowerUp", "chargingStation": {"vendorName": "Acme", "model": "AC-22"}},
}
BOOT["2.1"] = BOOT["2.0.1"]


async def exchange(ws, frame) -> list:
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def booted(csms, identity: str, version: str):
    ws = await raw_connect(csms, identity, version)
    answer = await exchange(ws, [2, "boot", "BootNotification", BOOT[version]])
    assert answer[0] == 3 and answer[2]["status"] == "Accepted"
    return ws


async def assert_still_served(ws) -> None:
    answer = await exchange(ws, [2, "hb-after", "Heartbeat", {}])
    assert answer[:2] == [3, "hb-after"]


# (frame, 1.6 code, 2.0.1 code, 2.1 code, answered id)
FRAME_ERRORS = [
    pytest.param(
        "not json",
        "FormationViolation",
        "RpcFrameworkError",
        "RpcFrameworkError",
        "-1",
        id="not-json",
    ),
    pytest.param(
        {"a": 1},
        "FormationViolation",
        "RpcFrameworkError",
        "RpcFrameworkError",
        "-1",
        id="not-array",
    ),
    pytest.param(
        [2], "FormationViolation", "RpcFrameworkError", "RpcFrameworkError", "-1", id="no-id"
    ),
    pytest.param(
        [2, 17, "Heartbeat", {}],
        "FormationViolation",
        "RpcFrameworkError",
        "RpcFrameworkError",
        "-1",
        id="id-not-string",
    ),
    pytest.param(
        [2, "x" * 37, "Heartbeat", {}],
        "FormationViolation",
        "RpcFrameworkError",
        "RpcFrameworkError",
        "-1",
        id="id-too-long",
    ),
    pytest.param(
        [2, "m1", "Heartbeat"],
        "FormationViolation",
        "ProtocolError",
        "ProtocolError",
        "m1",
        id="call-missing-payload",
    ),
    pytest.param(
        [2, "m2", "Heartbeat", []],
        "FormationViolation",
        "ProtocolError",
        "ProtocolError",
        "m2",
        id="payload-not-object",
    ),
    pytest.param(
        [2, "m3", "FlyToTheMoon", {}],
        "NotImplemented",
        "NotImplemented",
        "NotImplemented",
        "m3",
        id="unknown-action",
    ),
    pytest.param(
        [2, "m4", "Reset", {"type": "Hard"}],
        "NotSupported",
        "NotSupported",
        "NotSupported",
        "m4",
        id="action-not-handled",
    ),
]


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
@pytest.mark.parametrize(("frame", "code16", "code201", "code21", "answer_id"), FRAME_ERRORS)
async def test_bad_frame_gets_the_versions_callerror(
    csms, version, frame, code16, code201, code21, answer_id
):
    ws = await booted(csms, f"FRAME-{version}", version)
    try:
        answer = await exchange(ws, frame)
        expected = {"1.6": code16, "2.0.1": code201, "2.1": code21}[version]
        assert answer[0] == 4
        assert answer[1] == answer_id
        assert answer[2] == expected
        assert isinstance(answer[3], str) and len(answer[3]) <= 255
        assert isinstance(answer[4], dict)
        await assert_still_served(ws)
    finally:
        await ws.close()


SCHEMA_ERRORS = {
    # name: ({version: payload of BootNotification/StatusNotification}, 1.6 code, 2.x code, path)
    "missing-required": (
        "BootNotification",
        {"1.6": {"chargePointVendor": "Acme"}, "2.x": {"reason": "PowerUp"}},
        "OccurenceConstraintViolation",
        "OccurrenceConstraintViolation",
    ),
    "wrong-type": (
        "StatusNotification",
        {
            "1.6": {"connectorId": "one", "errorCode": "NoError", "status": "Available"},
            "2.x": {
                "timestamp": "2026-11-25T10:00:00Z",
                "connectorStatus": "Available",
                "evseId": "one",
                "connectorId": 1,
            },
        },
        "TypeConstraintViolation",
        "TypeConstraintViolation",
    ),
    "bad-enum": (
        "StatusNotification",
        {
            "1.6": {"connectorId": 1, "errorCode": "NoError", "status": "Dancing"},
            "2.x": {
                "timestamp": "2026-11-25T10:00:00Z",
                "connectorStatus": "Dancing",
                "evseId": 1,
                "connectorId": 1,
            },
        },
        "PropertyConstraintViolation",
        "PropertyConstraintViolation",
    ),
    "too-long": (
        "BootNotification",
        {
            "1.6": {"chargePointVendor": "A" * 21, "chargePointModel": "M"},
            "2.x": {"reason": "PowerUp", "chargingStation": {"vendorName": "A" * 51, "model": "M"}},
        },
        "PropertyConstraintViolation",
        "PropertyConstraintViolation",
    ),
    "unexpected-property": (
        "BootNotification",
        {
            "1.6": {"chargePointVendor": "A", "chargePointModel": "M", "colour": "red"},
            "2.x": {
                "reason": "PowerUp",
                "chargingStation": {"vendorName": "A", "model": "M"},
                "colour": "red",
            },
        },
        "FormationViolation",
        "FormatViolation",
    ),
}


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
@pytest.mark.parametrize("case", sorted(SCHEMA_ERRORS))
async def test_schema_violation_gets_the_constraint_code_and_json_path(csms, version, case):
    action, payloads, code16, code2 = SCHEMA_ERRORS[case]
    ws = await booted(csms, f"SCHEMA-{version}", version)
    try:
        payload = payloads["1.6" if version == "1.6" else "2.x"]
        answer = await exchange(ws, [2, "bad", action, payload])
        assert answer[:3] == [4, "bad", code16 if version == "1.6" else code2]
        assert answer[3].startswith("$")
        assert answer[4]["path"].startswith("$")
        await assert_still_served(ws)
    finally:
        await ws.close()


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
async def test_custom_data_and_1_6_celcius_spelling_are_accepted(csms, version):
    ws = await booted(csms, f"LENIENT-{version}", version)
    try:
        if version == "1.6":
            # 1.6 errata: both spellings of the unit are valid; MeterValues is not ours yet,
            # so check validation through the validator itself.
            from ocpp_router import validation

            for unit in ("Celsius", "Celcius"):
                validation.check(
                    "1.6",
                    "MeterValues",
                    "request",
                    {
                        "connectorId": 1,
                        "meterValue": [
                            {
                                "timestamp": "2026-11-25T10:00:00Z",
                                "sampledValue": [
                                    {"value": "21", "unit": unit, "measurand": "Temperature"}
                                ],
                            }
                        ],
                    },
                )
        else:
            # TC_P_03_CSMS: customData may appear anywhere and gets a normal answer.
            answer = await exchange(
                ws, [2, "cd", "Heartbeat", {"customData": {"vendorId": "com.acme", "x": 1}}]
            )
            assert answer[:2] == [3, "cd"]
    finally:
        await ws.close()


async def test_2_0_1_unknown_message_type_gets_message_type_not_supported(csms):
    ws = await booted(csms, "TYPE-201", "2.0.1")
    try:
        answer = await exchange(ws, [7, "t1", "Heartbeat", {}])
        assert answer[:3] == [4, "t1", "MessageTypeNotSupported"]
        # SEND and CALLRESULTERROR exist only from 2.1 on.
        answer = await exchange(ws, [6, "t2", "Heartbeat", {}])
        assert answer[:3] == [4, "t2", "MessageTypeNotSupported"]
        await assert_still_served(ws)
    finally:
        await ws.close()


@pytest.mark.parametrize("version", ["1.6", "2.1"])
async def test_unknown_message_type_is_ignored_in_1_6_and_2_1(csms, version):
    ws = await booted(csms, f"TYPE-{version}", version)
    try:
        await ws.send(json.dumps([9, "t1", "Heartbeat", {}]))
        # The next answer is the heartbeat's, not an error for the unknown type.
        await assert_still_served(ws)
    finally:
        await ws.close()


async def test_2_1_send_is_processed_and_never_answered(csms):
    ws = await booted(csms, "SEND-21", "2.1")
    try:
        await ws.send(json.dumps([6, "s1", "Heartbeat", {}]))
        await ws.send(json.dumps([6, "s2", "Heartbeat", {"bad": 1}]))
        await assert_still_served(ws)
    finally:
        await ws.close()


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
async def test_b02_requests_before_boot_get_security_error(csms, version):
    ws = await raw_connect(csms, f"NOBOOT-{version}", version)
    try:
        answer = await exchange(ws, [2, "hb", "Heartbeat", {}])
        assert answer[:3] == [4, "hb", "SecurityError"]
        answer = await exchange(ws, [2, "boot", "BootNotification", BOOT[version]])
        assert answer[0] == 3
        await assert_still_served(ws)
    finally:
        await ws.close()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/ocpp/" + "x" * 49, 400),
        ("/ocpp/bad%0Aid", 400),
        ("/ocpp/a%2Fb", 400),
        ("/ocpp/", 404),
        ("/a/b/c/d", 404),
    ],
)
async def test_bad_station_ids_are_refused_before_the_upgrade(csms, path, expected):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{csms.ws_url}{path}", subprotocols=["ocpp2.0.1"])
    assert refused.value.response.status_code == expected


async def test_station_offering_no_common_subprotocol_is_refused(csms):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{csms.ws_url}/ocpp/CP1", subprotocols=["ocpp1.5", "ocpp3.0"])
    assert refused.value.response.status_code == 400
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(f"{csms.ws_url}/ocpp/CP1")


async def test_newest_common_subprotocol_wins_and_ids_may_hold_spaces(csms):
    async with websockets.connect(
        f"{csms.ws_url}/ocpp/RDAM%20123", subprotocols=["ocpp1.6", "ocpp2.0.1"]
    ) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
    async with websockets.connect(f"{csms.ws_url}/RDAM%20124", subprotocols=["ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp1.6"
    from asgiref.sync import sync_to_async

    from stations.models import ChargingStation

    ids = await sync_to_async(
        lambda: set(ChargingStation.objects.values_list("identity", flat=True))
    )()
    assert {"RDAM 123", "RDAM 124"} <= ids


async def test_unknown_station_is_refused_when_auto_registration_is_off(csms, settings):
    settings.CSMS_ALLOW_UNKNOWN_STATIONS = False
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(f"{csms.ws_url}/ocpp/STRANGER", subprotocols=["ocpp2.0.1"])


async def test_permessage_deflate_is_negotiated(csms):
    async with websockets.connect(
        f"{csms.ws_url}/ocpp/DEFLATE", subprotocols=["ocpp2.0.1"], compression="deflate"
    ) as ws:
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert "permessage-deflate" in extensions
        answer = await exchange(ws, [2, "b", "BootNotification", BOOT["2.0.1"]])
        assert answer[0] == 3


async def test_station_that_stops_answering_pings_is_marked_offline(csms):
    """A half-open connection: the handshake completes, then the peer never reads again."""
    import base64
    import os

    from asgiref.sync import sync_to_async

    from stations.models import ChargingStation
    from tests.live import eventually

    reader, writer = await asyncio.open_connection(csms.host, csms.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /ocpp/HALF-OPEN HTTP/1.1\r\n"
            f"Host: {csms.host}:{csms.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    assert b"101" in status_line

    @sync_to_async
    def online():
        return ChargingStation.objects.filter(identity="HALF-OPEN", is_online=True).exists()

    async def offline():
        return not await online()

    await eventually(online, timeout=5)
    # Never answer the server's pings: it must drop the socket and mark the station offline.
    await eventually(offline, timeout=15)
    writer.close()

"""Message API end to end: HTTP with a token against the live server, an `ocpp` package
ChargePoint connected as the station."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from commands.models import CallbackDelivery, Command
from ocpp_router.registry import REGISTRIES
from stations.models import ChargingStation
from tests.api_helpers import (
    CallbackReceiver,
    declare_sendable,
    generic_station_class,
)
from tests.live import connect, eventually
from tests.ocpp_payloads import minimal_payload
from tests.test_ocpp_core import boot_call


def station(csms, identity: str, version: str, *, silent: bool = False):
    return connect(
        csms, identity, version, charge_point_class=generic_station_class(version, silent=silent)
    )


async def test_call_waits_and_returns_the_station_answer(csms, api):
    async with station(csms, "SYNC-1", "2.0.1") as cp:
        await cp.call(boot_call("2.0.1"))
        response = await api.post("/api/stations/SYNC-1/commands/Reset", json={"type": "OnIdle"})
        assert response.status_code == 200, response.text
        record = response.json()
        assert record["status"] == "completed"
        assert record["station_id"] == "SYNC-1"
        assert record["action"] == "Reset"
        assert record["request"] == {"type": "OnIdle"}
        assert record["response"] == {"status": "Accepted"}
        assert record["error"] is None
        assert record["created"] and record["completed"]
        assert cp.received == [("Reset", {"type": "OnIdle"})]
    command = await sync_to_async(Command.objects.select_related("created_by").get)()
    assert command.created_by.username == "operator"


def _sendable():
    return {version: sorted(registry.sendable) for version, registry in REGISTRIES.items()}


async def test_every_sendable_action_of_every_version_reaches_the_station(csms, api):
    actions = _sendable()

    async def send_all(version: str) -> None:
        identity = f"ALL-{version}"
        async with station(csms, identity, version) as cp:
            await cp.call(boot_call(version))
            for action in actions[version]:
                payload = minimal_payload(version, action, "request")
                response = await api.post(
                    f"/api/stations/{identity}/commands/{action}", json=payload
                )
                assert response.status_code == 200, (version, action, response.text)
                assert response.json()["status"] == "completed", (version, response.json())
            assert [action for action, _ in cp.received] == actions[version]

    assert all(actions.values())
    await asyncio.gather(*(send_all(version) for version in actions))


async def test_wait_false_answers_202_and_the_record_can_be_polled(csms, api):
    async with station(csms, "ASYNC-1", "1.6") as cp:
        await cp.call(boot_call("1.6"))
        response = await api.post(
            "/api/stations/ASYNC-1/commands/Reset?wait=false", json={"type": "Soft"}
        )
        assert response.status_code == 202
        record = response.json()
        assert record["status"] == "pending"
        assert response.headers["Location"] == f"/api/commands/{record['id']}"

        async def completed():
            polled = (await api.get(f"/api/commands/{record['id']}")).json()
            return polled if polled["status"] == "completed" else None

        polled = await eventually(completed)
        assert polled["response"] == {"status": "Accepted"}
        assert cp.received == [("Reset", {"type": "Soft"})]


async def test_callback_url_gets_the_record_retried_with_back_off(csms, api, settings):
    settings.CSMS_CALLBACK_BACKOFF = 0.05
    receiver = CallbackReceiver(failures=1)
    try:
        async with station(csms, "HOOK-1", "2.1") as cp:
            await cp.call(boot_call("2.1"))
            response = await api.post(
                "/api/stations/HOOK-1/commands/Reset",
                params={"callback_url": receiver.url},
                json={"type": "Immediate"},
            )
            assert response.status_code == 202
            command_id = response.json()["id"]
            await eventually(lambda: len(receiver.bodies) == 2)
    finally:
        receiver.close()
    delivered = receiver.bodies[-1]
    assert delivered["id"] == command_id
    assert delivered["status"] == "completed"
    assert delivered["response"] == {"status": "Accepted"}

    async def deliveries():
        rows = await sync_to_async(list)(
            CallbackDelivery.objects.filter(command_id=command_id).values_list(
                "attempt", "status_code", "delivered"
            )
        )
        return rows if len(rows) == 2 else None

    assert await eventually(deliveries) == [(1, 500, False), (2, 200, True)]


async def test_invalid_payload_is_400_naming_the_json_path(csms, api):
    async with station(csms, "BAD-1", "2.0.1") as cp:
        await cp.call(boot_call("2.0.1"))
        response = await api.post("/api/stations/BAD-1/commands/Reset", json={"type": "Later"})
        assert response.status_code == 400
        assert response.json()["path"] == "$.type"
        assert "$.type" in response.json()["detail"]
        missing = await api.post("/api/stations/BAD-1/commands/Reset", json={})
        assert missing.status_code == 400
        assert "type" in missing.json()["detail"]
        assert cp.received == []
    assert not await sync_to_async(Command.objects.exists)()


async def test_unknown_station_is_404_and_offline_station_409(csms, api):
    response = await api.post("/api/stations/NOBODY/commands/Reset", json={"type": "Hard"})
    assert response.status_code == 404
    await sync_to_async(ChargingStation.objects.create)(identity="OFF-1", protocol="1.6")
    response = await api.post("/api/stations/OFF-1/commands/Reset", json={"type": "Hard"})
    assert response.status_code == 409
    assert response.json()["code"] == "StationOffline"
    assert "offline" in response.json()["detail"]


async def test_action_the_station_version_lacks_is_409(csms, api):
    async with station(csms, "V16-1", "1.6") as cp:
        await cp.call(boot_call("1.6"))
        response = await api.post(
            "/api/stations/V16-1/commands/GetVariables",
            json=minimal_payload("2.0.1", "GetVariables", "request"),
        )
        assert response.status_code == 409
        assert response.json()["code"] == "NotSendable"
        assert response.json()["version"] == "1.6"
        assert cp.received == []


async def test_station_that_does_not_answer_times_out(csms, api):
    async with station(csms, "MUTE-1", "2.0.1", silent=True) as cp:
        await cp.call(boot_call("2.0.1"))
        response = await api.post(
            "/api/stations/MUTE-1/commands/Reset?timeout=0.5", json={"type": "Immediate"}
        )
        assert response.status_code == 200
        assert response.json()["status"] == "timeout"
        assert response.json()["error"]["code"] == "Timeout"
        assert cp.received == [("Reset", {"type": "Immediate"})]


async def test_waiting_call_does_not_hold_up_other_requests(csms, api):
    async with station(csms, "SLOW-1", "2.0.1", silent=True) as cp:
        await cp.call(boot_call("2.0.1"))
        waiting = asyncio.create_task(
            api.post("/api/stations/SLOW-1/commands/Reset?timeout=3", json={"type": "Immediate"})
        )
        await eventually(lambda: cp.received)
        started = time.monotonic()
        for _ in range(3):
            assert (await api.get("/api/stations/")).status_code == 200
        assert time.monotonic() - started < 2
        assert not waiting.done()
        assert (await waiting).json()["status"] == "timeout"


async def test_fan_out_sends_one_command_per_station(csms, api):
    async with station(csms, "FAN-16", "1.6") as a, station(csms, "FAN-201", "2.0.1") as b:
        await asyncio.gather(a.call(boot_call("1.6")), b.call(boot_call("2.0.1")))
        await sync_to_async(ChargingStation.objects.create)(identity="FAN-OFF", protocol="2.0.1")
        response = await api.post(
            "/api/commands/fan-out",
            json={
                "action": "Reset",
                "payloads": {"1.6": {"type": "Hard"}, "2.0.1": {"type": "Immediate"}},
                "filter": {"online": True},
            },
        )
        assert response.status_code == 200, response.text
        records = {r["station_id"]: r for r in response.json()}
        assert set(records) == {"FAN-16", "FAN-201"}
        assert {r["status"] for r in records.values()} == {"completed"}
        assert a.received == [("Reset", {"type": "Hard"})]
        assert b.received == [("Reset", {"type": "Immediate"})]

        listed = await api.post(
            "/api/commands/fan-out",
            json={
                "action": "TriggerMessage",
                "payload": {"requestedMessage": "Heartbeat"},
                "station_ids": ["FAN-201", "FAN-OFF"],
            },
        )
        assert listed.status_code == 200
        by_station = {r["station_id"]: r for r in listed.json()}
        assert by_station["FAN-201"]["status"] == "completed"
        assert by_station["FAN-OFF"]["status"] == "error"
        assert by_station["FAN-OFF"]["error"]["code"] == "StationOffline"
        # The records of one fan-out share a batch, and are listed by it.
        batch = by_station["FAN-201"]["batch"]
        assert batch and by_station["FAN-OFF"]["batch"] == batch
        assert batch != records["FAN-201"]["batch"]
        same = await api.get("/api/commands/", params={"batch": batch})
        assert sorted(r["station_id"] for r in same.json()["results"]) == ["FAN-201", "FAN-OFF"]

        bad = await api.post(
            "/api/commands/fan-out",
            json={"action": "Reset", "payload": {"type": "Never"}, "station_ids": ["FAN-201"]},
        )
        assert bad.status_code == 400
        assert bad.json()["path"] == "$.type"


@pytest.mark.parametrize(
    ("version", "body", "action", "payload"),
    [
        ("1.6", {"type": "hard"}, "Reset", {"type": "Hard"}),
        ("2.0.1", {"type": "hard"}, "Reset", {"type": "Immediate"}),
        ("2.1", {"type": "soft", "evse_id": 1}, "Reset", {"type": "OnIdle", "evseId": 1}),
    ],
)
async def test_reset_operation_maps_to_the_station_version(
    csms, api, version, body, action, payload
):
    identity = f"OP-{version}"
    async with station(csms, identity, version) as cp:
        await cp.call(boot_call(version))
        response = await api.post(f"/api/stations/{identity}/reset", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["action"] == action
        assert cp.received == [(action, payload)]


async def test_start_and_stop_session_operations_map_per_version(csms, api):
    with (
        declare_sendable("1.6", "RemoteStartTransaction", "RemoteStopTransaction"),
        declare_sendable("2.0.1", "RequestStartTransaction", "RequestStopTransaction"),
    ):
        async with station(csms, "SES-16", "1.6") as a, station(csms, "SES-201", "2.0.1") as b:
            await asyncio.gather(a.call(boot_call("1.6")), b.call(boot_call("2.0.1")))
            for identity in ("SES-16", "SES-201"):
                start = await api.post(
                    f"/api/stations/{identity}/start-session",
                    json={"id_token": "TAG-1", "evse_id": 1},
                )
                assert start.status_code == 200, start.text
                stop = await api.post(
                    f"/api/stations/{identity}/stop-session", json={"transaction_id": "42"}
                )
                assert stop.status_code == 200, stop.text
            assert a.received == [
                ("RemoteStartTransaction", {"idTag": "TAG-1", "connectorId": 1}),
                ("RemoteStopTransaction", {"transactionId": 42}),
            ]
            (start_action, start_payload), stop = b.received
            assert start_action == "RequestStartTransaction"
            assert start_payload["idToken"] == {"idToken": "TAG-1", "type": "Central"}
            assert start_payload["evseId"] == 1
            assert isinstance(start_payload["remoteStartId"], int)
            assert stop == ("RequestStopTransaction", {"transactionId": "42"})
            # A 1.6 transaction id is an integer: said before anything is sent.
            bad = await api.post(
                "/api/stations/SES-16/stop-session", json={"transaction_id": "abc"}
            )
            assert bad.status_code == 400
            assert len(a.received) == 2

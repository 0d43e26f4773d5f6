"""OCPP-J core end to end: the `ocpp` package's ChargePoint against a real Daphne server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
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

from stations.message_log import message_log
from stations.models import BootNotification, ChargingStation, Connector, OcppMessage
from tests.live import connect, eventually

NOW = "2026-11-25T10:00:00Z"


def boot_call(version: str):
    if version == "1.6":
        return call16.BootNotification(
            charge_point_vendor="Acme", charge_point_model="AC-22", firmware_version="1.2.3"
        )
    module = call201 if version == "2.0.1" else call21
    return module.BootNotification(
        charging_station={
            "vendor_name": "Acme",
            "model": "AC-22",
            "firmware_version": "1.2.3",
            "serial_number": "SN-1",
        },
        reason="PowerUp",
    )


def status_call(version: str, status: str = "Available"):
    if version == "1.6":
        return call16.StatusNotification(
            connector_id=1, error_code="NoError", status=status, timestamp=NOW
        )
    module = call201 if version == "2.0.1" else call21
    return module.StatusNotification(
        timestamp=NOW, connector_status=status, evse_id=1, connector_id=1
    )


def heartbeat_call(version: str):
    return {"1.6": call16, "2.0.1": call201, "2.1": call21}[version].Heartbeat()


@sync_to_async
def get_station(identity: str) -> ChargingStation:
    return ChargingStation.objects.get(identity=identity)


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
async def test_b01_g01_g02_boot_heartbeat_status_are_answered_and_persisted(csms, version):
    identity = f"CP-{version}"
    async with connect(csms, identity, version) as cp:
        boot = await cp.call(boot_call(version))
        assert boot.status == "Accepted"
        assert boot.interval == 300
        heartbeat = await cp.call(heartbeat_call(version))
        assert datetime.fromisoformat(heartbeat.current_time.replace("Z", "+00:00")).tzinfo
        await cp.call(status_call(version, "Occupied" if version != "1.6" else "Preparing"))

        station = await get_station(identity)
        assert station.is_online
        assert station.protocol == version
        assert station.vendor == "Acme"
        assert station.model == "AC-22"
        assert station.firmware_version == "1.2.3"
        assert station.registration_status == "Accepted"

        # Heartbeat times are written in batches (stations.liveness).
        async def heartbeat_written():
            return (await get_station(identity)).last_heartbeat

        assert await eventually(heartbeat_written)
        assert station.remote_address == "127.0.0.1"
        connector = await sync_to_async(Connector.objects.get)(
            evse__station=station, evse__evse_id=1, connector_id=1
        )
        assert connector.status == ("Preparing" if version == "1.6" else "Occupied")
        assert connector.status_timestamp == datetime(2026, 11, 25, 10, tzinfo=UTC)
        assert await sync_to_async(BootNotification.objects.filter(station=station).count)() == 1

    # Disconnect marks the station offline.
    async def offline():
        return not (await get_station(identity)).is_online

    await eventually(offline)
    message_log.flush()
    actions = await sync_to_async(
        lambda: list(
            OcppMessage.objects.filter(station__identity=identity)
            .order_by("timestamp")
            .values_list("direction", "message_type", "action")
        )
    )()
    assert actions[:2] == [("in", 2, "BootNotification"), ("out", 3, "BootNotification")]
    assert len(actions) == 6
    answer = await sync_to_async(
        lambda: OcppMessage.objects.filter(
            station__identity=identity, direction="out", action="Heartbeat"
        ).get()
    )()
    assert answer.answers_id is not None
    assert (await sync_to_async(lambda: answer.answers.action)()) == "Heartbeat"


class Station16(ChargePoint16):
    @on("Reset")
    async def on_reset(self, type):
        self.reset_type = type
        return result16.Reset(status="Accepted")

    @on("GetConfiguration")
    async def on_get_configuration(self, key=None):
        return result16.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        )


class Station201(ChargePoint201):
    @on("Reset")
    async def on_reset(self, type, **kwargs):
        self.reset_type = type
        return result201.Reset(status="Accepted")

    @on("GetVariables")
    async def on_get_variables(self, get_variable_data, **kwargs):
        return result201.GetVariables(
            get_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "attribute_value": "300",
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in get_variable_data
            ]
        )


class Station21(ChargePoint21):
    @on("Reset")
    async def on_reset(self, type, **kwargs):
        self.reset_type = type
        return result21.Reset(status="Scheduled")


@pytest.mark.parametrize(
    ("version", "cls", "expected"),
    [
        ("1.6", Station16, "Accepted"),
        ("2.0.1", Station201, "Accepted"),
        ("2.1", Station21, "Scheduled"),
    ],
)
async def test_csms_call_reaches_station_and_answer_returns(csms, version, cls, expected):
    identity = f"RESET-{version}"
    async with connect(csms, identity, version, charge_point_class=cls) as cp:
        await cp.call(boot_call(version))
        outcome = await csms.call(
            identity, "Reset", {"type": "Hard" if version == "1.6" else "Immediate"}
        )
        assert outcome.status == "completed", outcome
        assert outcome.response == {"status": expected}
        assert cp.reset_type == ("Hard" if version == "1.6" else "Immediate")


async def test_b06_get_configuration_and_get_variables_round_trip(csms):
    async with (
        connect(csms, "CFG-16", "1.6", charge_point_class=Station16) as cp16,
        connect(csms, "CFG-201", "2.0.1", charge_point_class=Station201) as cp201,
    ):
        await asyncio.gather(cp16.call(boot_call("1.6")), cp201.call(boot_call("2.0.1")))
        config, variables = await asyncio.gather(
            csms.call("CFG-16", "GetConfiguration", {"key": ["HeartbeatInterval"]}),
            csms.call(
                "CFG-201",
                "GetVariables",
                {
                    "getVariableData": [
                        {
                            "component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "HeartbeatInterval"},
                        }
                    ]
                },
            ),
        )
    assert config.response["configurationKey"][0]["value"] == "300"
    assert variables.response["getVariableResult"][0]["attributeValue"] == "300"


async def test_two_stations_at_once_keep_their_own_state(csms):
    async with connect(csms, "PAIR-A", "1.6") as a, connect(csms, "PAIR-B", "2.0.1") as b:
        await asyncio.gather(a.call(boot_call("1.6")), b.call(boot_call("2.0.1")))
        await asyncio.gather(
            a.call(status_call("1.6", "Charging")), b.call(status_call("2.0.1", "Unavailable"))
        )
        a_station, b_station = await get_station("PAIR-A"), await get_station("PAIR-B")
        assert (a_station.protocol, b_station.protocol) == ("1.6", "2.0.1")
        assert a_station.is_online and b_station.is_online
    await eventually(lambda: _both_offline("PAIR-A", "PAIR-B"))


@sync_to_async
def _both_offline(*identities: str) -> bool:
    return not ChargingStation.objects.filter(identity__in=identities, is_online=True).exists()


async def test_call_to_offline_station_is_a_clear_error(csms):
    from stations.services import StationNotConnected

    async with connect(csms, "GONE", "2.0.1") as cp:
        await cp.call(boot_call("2.0.1"))
    await eventually(lambda: _both_offline("GONE"))
    with pytest.raises(StationNotConnected):
        await csms.call("GONE", "Reset", {"type": "Immediate"})
    with pytest.raises(StationNotConnected):
        await csms.call("NEVER-SEEN", "Reset", {"type": "Immediate"})


async def test_call_times_out_when_station_does_not_answer(csms):
    class Silent(ChargePoint201):
        @on("Reset")
        async def on_reset(self, **kwargs):
            await asyncio.sleep(5)
            return result201.Reset(status="Accepted")

    async with connect(csms, "SILENT", "2.0.1", charge_point_class=Silent) as cp:
        await cp.call(boot_call("2.0.1"))
        outcome = await csms.call("SILENT", "Reset", {"type": "Immediate"}, timeout=0.5)
        assert outcome.status == "timeout"


async def test_calls_to_one_station_are_sent_one_at_a_time(csms):
    class Counting(ChargePoint201):
        in_flight = 0
        most = 0

        @on("Reset")
        async def on_reset(self, **kwargs):
            Counting.in_flight += 1
            Counting.most = max(Counting.most, Counting.in_flight)
            await asyncio.sleep(0.1)
            Counting.in_flight -= 1
            return result201.Reset(status="Accepted")

    async with connect(csms, "QUEUE", "2.0.1", charge_point_class=Counting) as cp:
        await cp.call(boot_call("2.0.1"))
        outcomes = await asyncio.gather(
            *(csms.call("QUEUE", "Reset", {"type": "OnIdle"}) for _ in range(4))
        )
    assert [o.status for o in outcomes] == ["completed"] * 4
    assert Counting.most == 1


async def test_invalid_payload_for_csms_call_is_refused_before_sending(csms):
    async with connect(csms, "BADCALL", "2.0.1", charge_point_class=Station201) as cp:
        await cp.call(boot_call("2.0.1"))
        outcome = await csms.call("BADCALL", "Reset", {"type": "Sometime"})
        assert outcome.status == "error"
        assert outcome.error_code == "PropertyConstraintViolation"
        assert "$.type" in outcome.error_description
        assert not hasattr(cp, "reset_type")


async def test_reconnect_without_boot_is_served_as_accepted(csms):
    async with connect(csms, "BACK", "2.0.1") as cp:
        await cp.call(boot_call("2.0.1"))
    await eventually(lambda: _both_offline("BACK"))
    async with connect(csms, "BACK", "2.0.1") as cp:
        # No BootNotification on this connection: the database says Accepted.
        await cp.call(status_call("2.0.1"))
        heartbeat = await cp.call(heartbeat_call("2.0.1"))
        assert heartbeat.current_time

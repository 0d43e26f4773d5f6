"""Requests cut to the station's ItemsPerMessage / BytesPerMessage (OCPP 2.0.1 B06.FR.05,
B07, N04, N06.FR.04; 1.6 GetConfigurationMaxKeys): the CSMS learns the limits from the
station's reports and answers, sends a longer request in parts and merges the answers into
one command record. The stations here refuse any request above their limits, as real ones do.
"""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from ocpp.exceptions import OccurrenceConstraintViolationError
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from commands import splitting
from commands.models import Command
from tests.live import connect
from tests.test_ocpp_core import boot_call

NOW = "2026-12-07T07:00:00Z"


class LimitedStation(ChargePoint201):
    """Announces `limits` {(component, variable, instance): value}, refuses requests above
    them and records (action, items, bytes) of every request it gets."""

    limits: dict[tuple[str, str, str], str] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requests: list[tuple[str, int, int]] = []

    async def route_message(self, raw_msg):
        frame = json.loads(raw_msg)
        if frame[0] == 2:
            spec = splitting.splittable("2.0.1", frame[2])
            items = len(frame[3].get(spec.request_list, [])) if spec else 0
            self.requests.append((frame[2], items, len(raw_msg.encode())))
        return await super().route_message(raw_msg)

    def _check(self, action: str, component: str, count: int) -> None:
        items = self.limits.get((component, "ItemsPerMessage", action))
        size = self.limits.get((component, "BytesPerMessage", action))
        _, got, got_bytes = self.requests[-1]
        if (items and got > int(items)) or (size and got_bytes > int(size)):
            raise OccurrenceConstraintViolationError(description=f"{action} above my limits")

    @on("GetVariables")
    async def on_get_variables(self, get_variable_data, **kwargs):
        self._check("GetVariables", "DeviceDataCtrlr", len(get_variable_data))
        results = []
        for item in get_variable_data:
            key = (
                item["component"]["name"],
                item["variable"]["name"],
                item["variable"].get("instance", ""),
            )
            value = self.limits.get(key, "7")
            results.append(
                {
                    "attribute_status": "Accepted",
                    "attribute_value": value,
                    "component": item["component"],
                    "variable": item["variable"],
                }
            )
        return result201.GetVariables(get_variable_result=results)

    @on("SetVariables")
    async def on_set_variables(self, set_variable_data, **kwargs):
        self._check("SetVariables", "DeviceDataCtrlr", len(set_variable_data))
        return result201.SetVariables(
            set_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in set_variable_data
            ]
        )

    @on("GetReport")
    async def on_get_report(self, request_id, component_variable=None, **kwargs):
        self._check("GetReport", "DeviceDataCtrlr", len(component_variable or []))
        return result201.GetReport(status="Accepted")

    @on("SetVariableMonitoring")
    async def on_set_variable_monitoring(self, set_monitoring_data, **kwargs):
        self._check("SetVariableMonitoring", "MonitoringCtrlr", len(set_monitoring_data))
        return result201.SetVariableMonitoring(
            set_monitoring_result=[
                {
                    "id": index + 1,
                    "status": "Accepted",
                    "type": item["type"],
                    "severity": item["severity"],
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for index, item in enumerate(set_monitoring_data)
            ]
        )

    @on("ClearVariableMonitoring")
    async def on_clear_variable_monitoring(self, id, **kwargs):
        self._check("ClearVariableMonitoring", "MonitoringCtrlr", len(id))
        return result201.ClearVariableMonitoring(
            clear_monitoring_result=[{"status": "Accepted", "id": one} for one in id]
        )


def variable(component: str, name: str, instance: str = "") -> dict:
    return {
        "component": {"name": component},
        "variable": {"name": name, **({"instance": instance} if instance else {})},
    }


async def report_limits(cp, limits: dict[tuple[str, str, str], str]) -> None:
    """The station tells its limits in a NotifyReport (as in its base report)."""
    await cp.call(
        call201.NotifyReport(
            request_id=1,
            generated_at=NOW,
            seq_no=0,
            report_data=[
                {
                    "component": {"name": component},
                    "variable": {"name": name, "instance": instance},
                    "variable_attribute": [{"type": "Actual", "value": value}],
                }
                for (component, name, instance), value in limits.items()
            ],
        )
    )


async def commands_count() -> int:
    return await sync_to_async(Command.objects.count)()


async def test_b06_fr_05_get_variables_split_to_the_items_per_message_it_answered(csms, api):
    class Station(LimitedStation):
        limits = {
            ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"): "2",
            ("DeviceDataCtrlr", "BytesPerMessage", "GetVariables"): "4000",
        }

    async with connect(csms, "B06-GET", charge_point_class=Station) as cp:
        await cp.call(boot_call("2.0.1"))
        # Learnt from a GetVariables answer.
        learn = await api.post(
            "/api/stations/B06-GET/commands/GetVariables",
            json={
                "getVariableData": [
                    variable("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"),
                    variable("DeviceDataCtrlr", "BytesPerMessage", "GetVariables"),
                ]
            },
        )
        assert learn.json()["status"] == "completed", learn.text
        names = [f"Var{index}" for index in range(5)]
        response = await api.post(
            "/api/stations/B06-GET/commands/GetVariables",
            json={"getVariableData": [variable("Ctrlr", name) for name in names]},
        )
    record = response.json()
    assert record["status"] == "completed", record
    assert [r["variable"]["name"] for r in record["response"]["getVariableResult"]] == names
    assert record["request"]["getVariableData"][4]["variable"]["name"] == "Var4"
    assert [items for action, items, _ in cp.requests if action == "GetVariables"] == [2, 2, 2, 1]
    assert await commands_count() == 2


async def test_b06_set_variables_split_to_the_bytes_per_message_it_reported(csms, api):
    class Station(LimitedStation):
        limits = {("DeviceDataCtrlr", "BytesPerMessage", "SetVariables"): "400"}

    values = [
        {**variable("SampledDataCtrlr", f"Measurand{index}"), "attributeValue": "X" * 60}
        for index in range(6)
    ]
    async with connect(csms, "B06-SET", charge_point_class=Station) as cp:
        await cp.call(boot_call("2.0.1"))
        await report_limits(cp, Station.limits)
        response = await api.post(
            "/api/stations/B06-SET/commands/SetVariables", json={"setVariableData": values}
        )
    record = response.json()
    assert record["status"] == "completed", record
    assert len(record["response"]["setVariableResult"]) == 6
    sizes = [size for action, _, size in cp.requests if action == "SetVariables"]
    assert len(sizes) > 1
    assert max(sizes) <= 400


async def test_b06_a_single_item_above_bytes_per_message_is_refused_unsent(csms, api):
    class Station(LimitedStation):
        limits = {("DeviceDataCtrlr", "BytesPerMessage", "SetVariables"): "200"}

    async with connect(csms, "B06-BIG", charge_point_class=Station) as cp:
        await cp.call(boot_call("2.0.1"))
        await report_limits(cp, Station.limits)
        response = await api.post(
            "/api/stations/B06-BIG/commands/SetVariables",
            json={"setVariableData": [{**variable("C", "V"), "attributeValue": "X" * 300}]},
        )
    record = response.json()
    assert record["status"] == "error"
    assert record["error"]["code"] == "RequestTooLarge"
    assert "BytesPerMessage" in record["error"]["description"]
    assert not [r for r in cp.requests if r[0] == "SetVariables"]


async def test_b07_get_report_component_list_split_to_items_per_message(csms, api):
    class Station(LimitedStation):
        limits = {("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"): "2"}

    async with connect(csms, "B07-REPORT", charge_point_class=Station) as cp:
        await cp.call(boot_call("2.0.1"))
        await report_limits(cp, Station.limits)
        response = await api.post(
            "/api/stations/B07-REPORT/commands/GetReport",
            json={
                "requestId": 500,
                "componentVariable": [{"component": {"name": f"C{i}"}} for i in range(3)],
            },
        )
    record = response.json()
    assert record["status"] == "completed", record
    assert record["response"] == {"status": "Accepted"}
    assert [items for action, items, _ in cp.requests if action == "GetReport"] == [2, 1]


async def test_n04_set_variable_monitoring_split_to_items_per_message(csms, api):
    class Station(LimitedStation):
        limits = {("MonitoringCtrlr", "ItemsPerMessage", "SetVariableMonitoring"): "2"}

    monitors = [
        {
            **variable("EVSE", f"Power{i}"),
            "value": 10.0 + i,
            "type": "UpperThreshold",
            "severity": 5,
        }
        for i in range(5)
    ]
    async with connect(csms, "N04-SET", charge_point_class=Station) as cp:
        await cp.call(boot_call("2.0.1"))
        await report_limits(cp, Station.limits)
        response = await api.post(
            "/api/stations/N04-SET/commands/SetVariableMonitoring",
            json={"setMonitoringData": monitors},
        )
    record = response.json()
    assert record["status"] == "completed", record
    results = record["response"]["setMonitoringResult"]
    assert [r["variable"]["name"] for r in results] == [f"Power{i}" for i in range(5)]
    assert [n for action, n, _ in cp.requests if action == "SetVariableMonitoring"] == [2, 2, 1]


async def test_n06_fr_04_clear_variable_monitoring_split_to_items_per_message(csms, api):
    class Station(LimitedStation):
        limits = {("MonitoringCtrlr", "ItemsPerMessage", "ClearVariableMonitoring"): "3"}

    async with connect(csms, "N06-CLEAR", charge_point_class=Station) as cp:
        await cp.call(boot_call("2.0.1"))
        await report_limits(cp, Station.limits)
        response = await api.post(
            "/api/stations/N06-CLEAR/commands/ClearVariableMonitoring",
            json={"id": list(range(1, 8))},
        )
    record = response.json()
    assert record["status"] == "completed", record
    assert [r["id"] for r in record["response"]["clearMonitoringResult"]] == list(range(1, 8))
    assert [n for action, n, _ in cp.requests if action == "ClearVariableMonitoring"] == [3, 3, 1]


class Station16(ChargePoint16):
    """A 1.6 station taking at most GetConfigurationMaxKeys = 2 keys per GetConfiguration."""

    known = {
        "GetConfigurationMaxKeys": "2",
        "HeartbeatInterval": "60",
        "MeterValueSampleInterval": "30",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: list[list[str]] = []

    @on("GetConfiguration")
    async def on_get_configuration(self, key=None, **kwargs):
        keys = key or list(self.known)
        self.asked.append(keys)
        if key and len(key) > 2:
            raise OccurrenceConstraintViolationError(description="more than 2 keys")
        return result16.GetConfiguration(
            configuration_key=[
                {"key": k, "readonly": False, "value": self.known[k]}
                for k in keys
                if k in self.known
            ],
            unknown_key=[k for k in keys if k not in self.known],
        )


async def test_16_getconfigurationmaxkeys_get_configuration_split_to_the_keys_the_station_allows(
    csms, api
):
    async with connect(csms, "MAXKEYS-16", "1.6", charge_point_class=Station16) as cp:
        await cp.call(boot_call("1.6"))
        learn = await api.post(
            "/api/stations/MAXKEYS-16/commands/GetConfiguration",
            json={"key": ["GetConfigurationMaxKeys"]},
        )
        assert learn.json()["status"] == "completed", learn.text
        keys = ["HeartbeatInterval", "Nope1", "MeterValueSampleInterval", "Nope2", "Nope3"]
        response = await api.post(
            "/api/stations/MAXKEYS-16/commands/GetConfiguration", json={"key": keys}
        )
    record = response.json()
    assert record["status"] == "completed", record
    assert [k["key"] for k in record["response"]["configurationKey"]] == [
        "HeartbeatInterval",
        "MeterValueSampleInterval",
    ]
    assert record["response"]["unknownKey"] == ["Nope1", "Nope2", "Nope3"]
    assert [len(asked) for asked in cp.asked[-3:]] == [2, 2, 1]

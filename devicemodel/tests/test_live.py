"""Device model, configuration, monitoring, events, display messages, customer information,
DataTransfer and security events end to end: the `ocpp` package's ChargePoint as the
station against the live server."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission, User
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
from rest_framework.test import APIClient

from devicemodel import datatransfer
from devicemodel.models import (
    ConfigurationKey,
    DataTransferMessage,
    DeviceEvent,
    DisplayMessage,
    MonitoringSetting,
    ReportRequest,
    VariableAttribute,
    VariableCharacteristics,
    VariableMonitor,
    VariableOperation,
)
from devicemodel.selectors import customer_information_text
from stations.models import SecurityEvent
from tests.live import connect

NOW = "2026-11-25T10:00:00Z"
CALLS = {"2.0.1": call201, "2.1": call21}
RESULTS = {"2.0.1": result201, "2.1": result21}


async def boot(cp, version: str) -> None:
    if version == "1.6":
        await cp.call(call16.BootNotification(charge_point_vendor="Acme", charge_point_model="X"))
    else:
        await cp.call(
            CALLS[version].BootNotification(
                charging_station={"vendor_name": "Acme", "model": "X"}, reason="PowerUp"
            )
        )


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


def report_item(component: dict, variable: str, value: str, **extra) -> dict:
    item = {
        "component": component,
        "variable": {"name": variable},
        "variable_attribute": [{"type": "Actual", "value": value, "mutability": "ReadWrite"}],
    }
    item.update(extra)
    return item


class ReportStation201(ChargePoint201):
    @on("GetBaseReport")
    async def on_get_base_report(self, request_id, report_base, **kwargs):
        return result201.GetBaseReport(status="Accepted")


class ReportStation21(ChargePoint21):
    @on("GetBaseReport")
    async def on_get_base_report(self, request_id, report_base, **kwargs):
        return result21.GetBaseReport(status="Accepted")


@pytest.mark.parametrize(
    ("version", "cls"), [("2.0.1", ReportStation201), ("2.1", ReportStation21)]
)
async def test_b07_multi_part_notify_report_is_assembled_and_stored(csms, version, cls):
    identity = f"REPORT-{version}"
    calls = CALLS[version]
    async with connect(csms, identity, version, charge_point_class=cls) as cp:
        await boot(cp, version)
        outcome = await csms.call(
            identity, "GetBaseReport", {"requestId": 42, "reportBase": "FullInventory"}
        )
        assert outcome.response == {"status": "Accepted"}
        report = await db(ReportRequest.objects.get, station__identity=identity, request_id=42)
        assert (report.kind, report.status) == ("BaseReport", "Accepted")

        parts = [
            [report_item({"name": "OCPPCommCtrlr"}, "HeartbeatInterval", "300")],
            [
                report_item(
                    {"name": "EVSE", "evse": {"id": 1}},
                    "Power",
                    "22000",
                    variable_characteristics={
                        "data_type": "decimal",
                        "unit": "W",
                        "max_limit": 22000,
                        "supports_monitoring": True,
                    },
                )
            ],
            [
                report_item(
                    {"name": "Connector", "evse": {"id": 1, "connector_id": 1}}, "Type", "cType2"
                )
            ],
        ]
        # Parts arrive out of order: 1, 2 (the last, tbc false), then 0.
        for seq_no in (1, 2, 0):
            await cp.call(
                calls.NotifyReport(
                    request_id=42,
                    generated_at=NOW,
                    seq_no=seq_no,
                    tbc=seq_no != 2,
                    report_data=parts[seq_no],
                )
            )
            report = await db(ReportRequest.objects.get, pk=report.pk)
            if seq_no != 0:
                assert report.status == "Receiving"

    assert report.status == "Complete"
    assert report.parts_received == 3
    assert await db(lambda: list(report.parts.values_list("seq_no", flat=True))) == [0, 1, 2]
    values = await db(
        lambda: {
            (a.variable.component.name, a.variable.component.evse_id, a.variable.name): a.value
            for a in VariableAttribute.objects.filter(
                variable__component__station__identity=identity
            ).select_related("variable__component")
        }
    )
    assert values == {
        ("OCPPCommCtrlr", None, "HeartbeatInterval"): "300",
        ("EVSE", 1, "Power"): "22000",
        ("Connector", 1, "Type"): "cType2",
    }
    characteristics = await db(
        VariableCharacteristics.objects.get, variable__component__station__identity=identity
    )
    assert (characteristics.unit, characteristics.max_limit) == ("W", 22000)
    assert characteristics.supports_monitoring


class VariablesStation(ChargePoint201):
    @on("GetVariables")
    async def on_get_variables(self, get_variable_data, **kwargs):
        results = []
        for item in get_variable_data:
            known = item["variable"]["name"] == "HeartbeatInterval"
            result = {
                "attribute_status": "Accepted" if known else "UnknownVariable",
                "component": item["component"],
                "variable": item["variable"],
            }
            if known:
                result["attribute_value"] = "120"
            results.append(result)
        return result201.GetVariables(get_variable_result=results)

    @on("SetVariables")
    async def on_set_variables(self, set_variable_data, **kwargs):
        return result201.SetVariables(
            set_variable_result=[
                {
                    "attribute_status": "Accepted"
                    if item["variable"]["name"] == "HeartbeatInterval"
                    else "Rejected",
                    "component": item["component"],
                    "variable": item["variable"],
                    **(
                        {}
                        if item["variable"]["name"] == "HeartbeatInterval"
                        else {"attribute_status_info": {"reason_code": "ReadOnly"}}
                    ),
                }
                for item in set_variable_data
            ]
        )


async def test_b06_b05_get_and_set_variables_store_only_what_the_station_accepted(csms):
    identity = "VARS-1"
    comm = {"name": "OCPPCommCtrlr"}
    async with connect(csms, identity, "2.0.1", charge_point_class=VariablesStation) as cp:
        await boot(cp, "2.0.1")
        got = await csms.call(
            identity,
            "GetVariables",
            {
                "getVariableData": [
                    {"component": comm, "variable": {"name": "HeartbeatInterval"}},
                    {"component": comm, "variable": {"name": "NoSuchThing"}},
                ]
            },
        )
        assert got.ok
        attribute = await db(
            VariableAttribute.objects.get,
            variable__component__station__identity=identity,
            variable__name="HeartbeatInterval",
        )
        assert attribute.value == "120"

        done = await csms.call(
            identity,
            "SetVariables",
            {
                "setVariableData": [
                    {
                        "component": comm,
                        "variable": {"name": "HeartbeatInterval"},
                        "attributeValue": "600",
                    },
                    {
                        "component": {"name": "SecurityCtrlr"},
                        "variable": {"name": "Identity"},
                        "attributeValue": "hijack",
                    },
                ]
            },
        )
        assert done.ok

    attribute = await db(VariableAttribute.objects.get, pk=attribute.pk)
    assert attribute.value == "600"
    assert not await db(
        VariableAttribute.objects.filter(
            variable__component__station__identity=identity, variable__name="Identity"
        ).exists
    )
    operations = await db(
        lambda: list(
            VariableOperation.objects.filter(station__identity=identity)
            .order_by("id")
            .values_list("kind", "variable_name", "value", "status", "status_reason")
        )
    )
    assert operations == [
        ("Get", "HeartbeatInterval", "120", "Accepted", ""),
        ("Get", "NoSuchThing", None, "UnknownVariable", ""),
        ("Set", "HeartbeatInterval", "600", "Accepted", ""),
        ("Set", "Identity", "hijack", "Rejected", "ReadOnly"),
    ]


class ConfigStation(ChargePoint16):
    @on("GetConfiguration")
    async def on_get_configuration(self, key=None):
        return result16.GetConfiguration(
            configuration_key=[
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
                {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
            ],
            unknown_key=["NoSuchKey"],
        )

    @on("ChangeConfiguration")
    async def on_change_configuration(self, key, value):
        status = {
            "HeartbeatInterval": "Accepted",
            "MeterValueSampleInterval": "RebootRequired",
        }.get(key, "Rejected")
        return result16.ChangeConfiguration(status=status)


async def test_16_get_and_change_configuration_are_stored(csms):
    identity = "CONF-16"
    async with connect(csms, identity, "1.6", charge_point_class=ConfigStation) as cp:
        await boot(cp, "1.6")
        assert (await csms.call(identity, "GetConfiguration", {})).ok
        for key, value in [
            ("HeartbeatInterval", "900"),
            ("MeterValueSampleInterval", "15"),
            ("NumberOfConnectors", "5"),
        ]:
            assert (
                await csms.call(identity, "ChangeConfiguration", {"key": key, "value": value})
            ).ok

    keys = await db(
        lambda: {
            k.key: (k.value, k.readonly, k.unknown, k.reboot_required, k.last_change_status)
            for k in ConfigurationKey.objects.filter(station__identity=identity)
        }
    )
    assert keys == {
        "HeartbeatInterval": ("900", False, False, False, "Accepted"),
        "MeterValueSampleInterval": ("15", False, False, True, "RebootRequired"),
        "NumberOfConnectors": ("2", True, False, False, "Rejected"),
        "NoSuchKey": (None, False, True, False, ""),
    }


class MonitoringStation(ChargePoint201):
    @on("SetVariableMonitoring")
    async def on_set(self, set_monitoring_data, **kwargs):
        results = []
        for number, item in enumerate(set_monitoring_data):
            accepted = item["component"]["name"] == "EVSE"
            result = {
                "status": "Accepted" if accepted else "UnknownComponent",
                "type": item["type"],
                "severity": item["severity"],
                "component": item["component"],
                "variable": item["variable"],
            }
            if accepted:
                result["id"] = 10 + number
            results.append(result)
        return result201.SetVariableMonitoring(set_monitoring_result=results)

    @on("ClearVariableMonitoring")
    async def on_clear(self, id, **kwargs):
        return result201.ClearVariableMonitoring(
            clear_monitoring_result=[{"id": i, "status": "Accepted"} for i in id]
        )

    @on("SetMonitoringLevel")
    async def on_level(self, severity, **kwargs):
        return result201.SetMonitoringLevel(status="Accepted")

    @on("SetMonitoringBase")
    async def on_base(self, monitoring_base, **kwargs):
        return result201.SetMonitoringBase(status="Accepted")

    @on("GetMonitoringReport")
    async def on_report(self, request_id, **kwargs):
        return result201.GetMonitoringReport(status="Accepted")


async def test_n04_monitors_stored_and_n07_events_queryable(csms):
    identity = "MON-1"
    evse_power = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"}}
    async with connect(csms, identity, "2.0.1", charge_point_class=MonitoringStation) as cp:
        await boot(cp, "2.0.1")
        outcome = await csms.call(
            identity,
            "SetVariableMonitoring",
            {
                "setMonitoringData": [
                    {"value": 20000, "type": "UpperThreshold", "severity": 4, **evse_power},
                    {
                        "value": 1,
                        "type": "Delta",
                        "severity": 8,
                        "component": {"name": "Nope"},
                        "variable": {"name": "Power"},
                    },
                ]
            },
        )
        assert outcome.ok
        assert (await csms.call(identity, "SetMonitoringLevel", {"severity": 5})).ok
        assert (
            await csms.call(identity, "SetMonitoringBase", {"monitoringBase": "FactoryDefault"})
        ).ok
        assert (await csms.call(identity, "GetMonitoringReport", {"requestId": 3})).ok
        await cp.call(
            call201.NotifyMonitoringReport(
                request_id=3,
                seq_no=0,
                generated_at=NOW,
                monitor=[
                    {
                        "component": {"name": "EVSE", "evse": {"id": 1}},
                        "variable": {"name": "Current"},
                        "variable_monitoring": [
                            {
                                "id": 77,
                                "transaction": False,
                                "value": 32,
                                "type": "Delta",
                                "severity": 7,
                            }
                        ],
                    }
                ],
            )
        )
        await cp.call(
            call201.NotifyEvent(
                generated_at=NOW,
                seq_no=0,
                event_data=[
                    {
                        "event_id": 1,
                        "timestamp": NOW,
                        "trigger": "Alerting",
                        "actual_value": "21000",
                        "tech_code": "OVER",
                        "cleared": False,
                        "variable_monitoring_id": 10,
                        "event_notification_type": "CustomMonitor",
                        **evse_power,
                    },
                    {
                        "event_id": 2,
                        "timestamp": "2026-11-25T10:05:00Z",
                        "trigger": "Alerting",
                        "actual_value": "15000",
                        "cleared": True,
                        "variable_monitoring_id": 10,
                        "event_notification_type": "CustomMonitor",
                        **evse_power,
                    },
                ],
            )
        )
        monitors = await db(
            lambda: sorted(
                VariableMonitor.objects.filter(station__identity=identity).values_list(
                    "monitor_id", "variable__name", "type", "value", "severity"
                )
            )
        )
        assert monitors == [
            (10, "Power", "UpperThreshold", 20000.0, 4),
            (77, "Current", "Delta", 32.0, 7),
        ]
        assert (await csms.call(identity, "ClearVariableMonitoring", {"id": [77]})).ok

    assert await db(
        lambda: list(
            VariableMonitor.objects.filter(station__identity=identity).values_list(
                "monitor_id", flat=True
            )
        )
    ) == [10]
    setting = await db(MonitoringSetting.objects.get, station__identity=identity)
    assert (setting.monitoring_level, setting.monitoring_base) == (5, "FactoryDefault")
    report = await db(
        ReportRequest.objects.get, station__identity=identity, kind="MonitoringReport"
    )
    assert report.status == "Complete"

    first = await db(DeviceEvent.objects.get, station__identity=identity, event_id=1)
    assert (first.trigger, first.actual_value, first.tech_code, first.cleared) == (
        "Alerting",
        "21000",
        "OVER",
        False,
    )
    assert first.severity == 4  # from the monitor that fired

    @sync_to_async
    def api_events(**params):
        user = User.objects.create_user("ops")
        user.user_permissions.add(Permission.objects.get(codename="view_deviceevent"))
        client = APIClient()
        client.force_authenticate(user)
        return client.get("/api/device-model/events/", params).json()

    body = await api_events(station_id=identity, cleared="true")
    assert [e["event_id"] for e in body["results"]] == [2]


class MessagesStation(ChargePoint201):
    @on("SetDisplayMessage")
    async def on_set(self, message, **kwargs):
        return result201.SetDisplayMessage(
            status="Accepted" if message["priority"] != "AlwaysFront" else "NotSupportedPriority"
        )

    @on("GetDisplayMessages")
    async def on_get(self, request_id, **kwargs):
        return result201.GetDisplayMessages(status="Accepted")

    @on("ClearDisplayMessage")
    async def on_clear(self, id, **kwargs):
        return result201.ClearDisplayMessage(status="Accepted")

    @on("CustomerInformation")
    async def on_customer(self, request_id, report, clear, **kwargs):
        return result201.CustomerInformation(status="Accepted")


async def test_o01_display_messages_and_n09_customer_information(csms):
    identity = "MSG-1"
    message = {
        "id": 1,
        "priority": "NormalCycle",
        "message": {"format": "UTF8", "content": "Welcome", "language": "en"},
    }
    async with connect(csms, identity, "2.0.1", charge_point_class=MessagesStation) as cp:
        await boot(cp, "2.0.1")
        assert (await csms.call(identity, "SetDisplayMessage", {"message": message})).ok
        refused = {**message, "id": 2, "priority": "AlwaysFront"}
        assert (await csms.call(identity, "SetDisplayMessage", {"message": refused})).ok
        assert (await csms.call(identity, "GetDisplayMessages", {"requestId": 9})).ok
        await cp.call(
            call201.NotifyDisplayMessages(
                request_id=9,
                message_info=[
                    {
                        "id": 3,
                        "priority": "InFront",
                        "message": {"format": "ASCII", "content": "Out of order"},
                    }
                ],
            )
        )
        assert (await csms.call(identity, "ClearDisplayMessage", {"id": 1})).ok

        request = {"requestId": 5, "report": True, "clear": False, "customerIdentifier": "C-1"}
        assert (await csms.call(identity, "CustomerInformation", request)).ok
        for seq_no, (data, tbc) in enumerate([("name=Ada;", True), ("card=04AB", False)]):
            await cp.call(
                call201.NotifyCustomerInformation(
                    data=data, seq_no=seq_no, generated_at=NOW, request_id=5, tbc=tbc
                )
            )

    states = await db(
        lambda: {
            m.message_id: (m.state, m.content)
            for m in DisplayMessage.objects.filter(station__identity=identity)
        }
    )
    assert states == {
        1: ("Cleared", "Welcome"),
        2: ("Rejected", "Welcome"),
        3: ("Set", "Out of order"),
    }
    customer = await db(
        ReportRequest.objects.get, station__identity=identity, kind="CustomerInformation"
    )
    assert customer.status == "Complete"
    assert customer.criteria["customerIdentifier"] == "C-1"
    assert await db(customer_information_text, customer) == "name=Ada;card=04AB"


PRICE_SCHEMA = {
    "type": "object",
    "properties": {"connector": {"type": "integer"}, "currency": {"enum": ["EUR", "USD"]}},
    "required": ["connector", "currency"],
    "additionalProperties": False,
}


@pytest.fixture
def acme_vendor():
    keys = [f"ocpp{v}-com.acme-Price" for v in ("1.6", "2.0.1")]
    for key in keys:
        datatransfer.register_schema(key, PRICE_SCHEMA)

    @datatransfer.datatransfer_handler("2.0.1", "com.acme", "Price")
    def price(ctx, data):
        return datatransfer.DataTransferAnswer(
            "Accepted", {"price": 0.3, "for": ctx.session.station_id}
        )

    yield
    for key in keys:
        datatransfer.unregister(key)


class DataTransferStation(ChargePoint201):
    @on("DataTransfer")
    async def on_data_transfer(self, vendor_id, **kwargs):
        return result201.DataTransfer(status="Accepted", data={"ok": True})


async def test_p01_p02_data_transfer_accepted_unknown_and_schema_invalid(csms, acme_vendor):
    identity = "DT-201"
    async with connect(csms, identity, "2.0.1", charge_point_class=DataTransferStation) as cp:
        await boot(cp, "2.0.1")
        ok = await cp.call(
            call201.DataTransfer(
                vendor_id="com.acme", message_id="Price", data={"connector": 1, "currency": "EUR"}
            )
        )
        assert ok.status == "Accepted"
        assert ok.data == {"price": 0.3, "for": identity}
        vendor = await cp.call(call201.DataTransfer(vendor_id="org.other", data={"x": 1}))
        assert vendor.status == "UnknownVendorId"
        message = await cp.call(call201.DataTransfer(vendor_id="com.acme", message_id="Tariff"))
        assert message.status == "UnknownMessageId"
        invalid = await cp.call(
            call201.DataTransfer(
                vendor_id="com.acme", message_id="Price", data={"connector": "one"}
            )
        )
        assert invalid.status == "Rejected"
        assert "connector" in invalid.status_info["additional_info"]

        outbound = await csms.call(
            identity, "DataTransfer", {"vendorId": "com.acme", "messageId": "Ping", "data": [1]}
        )
        assert outbound.response["status"] == "Accepted"

    rows = await db(
        lambda: list(
            DataTransferMessage.objects.filter(station__identity=identity)
            .order_by("id")
            .values_list("direction", "vendor_id", "status")
        )
    )
    assert rows == [
        ("in", "com.acme", "Accepted"),
        ("in", "org.other", "UnknownVendorId"),
        ("in", "com.acme", "UnknownMessageId"),
        ("in", "com.acme", "Rejected"),
        ("out", "com.acme", "Accepted"),
    ]


async def test_16_data_transfer_parses_string_data_against_the_schema(csms, acme_vendor):
    async with connect(csms, "DT-16", "1.6") as cp:
        await boot(cp, "1.6")
        ok = await cp.call(
            call16.DataTransfer(
                vendor_id="com.acme",
                message_id="Price",
                data=json.dumps({"connector": 2, "currency": "USD"}),
            )
        )
        assert ok.status == "Accepted"
        bad = await cp.call(
            call16.DataTransfer(vendor_id="com.acme", message_id="Price", data="not json")
        )
        assert bad.status == "Rejected"
        unknown = await cp.call(call16.DataTransfer(vendor_id="com.nobody"))
        assert unknown.status == "UnknownVendorId"
    stored = await db(
        DataTransferMessage.objects.filter(station__identity="DT-16", status="Accepted").get
    )
    assert stored.data == {"connector": 2, "currency": "USD"}


async def test_security_event_notification_is_stored_with_severity(csms):
    for version in ("1.6", "2.0.1", "2.1"):
        identity = f"SEC-{version}"
        module = {"1.6": call16, **CALLS}[version]
        async with connect(csms, identity, version) as cp:
            await boot(cp, version)
            await cp.call(
                module.SecurityEventNotification(
                    type="TamperDetectionActivated", timestamp=NOW, tech_info="lid opened"
                )
            )
            # The `ocpp` package's 1.6 class wants tech_info although the schema makes it
            # optional; None leaves it out of the frame.
            for event_type in ("InvalidTLSVersion", "AcmeDoorAjar"):
                await cp.call(
                    module.SecurityEventNotification(type=event_type, timestamp=NOW, tech_info=None)
                )
        events = await db(
            lambda identity=identity: list(
                SecurityEvent.objects.filter(station__identity=identity)
                .order_by("id")
                .values_list("type", "source", "tech_info", "severity")
            )
        )
        assert events == [
            ("TamperDetectionActivated", "station", "lid opened", 3),
            ("InvalidTLSVersion", "station", "", 7),
            ("AcmeDoorAjar", "station", "", None),
        ], version

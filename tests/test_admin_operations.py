"""Station-page operations with their own forms: update firmware (a firmware file sent as a
signed link), get log and set password reach a connected station and show its answer."""

from __future__ import annotations

import html

from asgiref.sync import sync_to_async
from django.core.files.base import ContentFile
from django.urls import reverse
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201

from firmware import services as firmware_services
from firmware.models import FirmwareUpdate, LogRequest
from stations.models import ChargingStation
from tests.live import connect
from tests.operator import csrf_post, http_client, staff_session, station_pk
from tests.test_firmware import IMAGE, local_storage  # noqa: F401 (fixture)
from tests.test_ocpp_core import boot_call


class Maintained201(ChargePoint201):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict]] = []

    @on("UpdateFirmware")
    async def on_update_firmware(self, **kwargs):
        self.received.append(("UpdateFirmware", kwargs))
        return result201.UpdateFirmware(status="Accepted")

    @on("GetLog")
    async def on_get_log(self, **kwargs):
        self.received.append(("GetLog", kwargs))
        return result201.GetLog(status="Accepted", filename="station.log")

    @on("SetVariables")
    async def on_set_variables(self, set_variable_data, **kwargs):
        self.received.append(("SetVariables", {"set_variable_data": set_variable_data}))
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


class Maintained16(ChargePoint16):
    @on("GetDiagnostics")
    async def on_get_diagnostics(self, location, **kwargs):
        self.location = location
        return result16.GetDiagnostics(file_name="diag.zip")


def operation_url(pk: int, key: str) -> str:
    return reverse("admin:stations_chargingstation_operation", args=[pk, key])


@sync_to_async
def firmware_file():
    return firmware_services.firmware_file_create(
        name="AC-22", version="2.0.0", upload=ContentFile(IMAGE, name="ac22-2.0.0.bin")
    )


async def test_update_firmware_get_log_and_set_password_from_the_station_page(
    csms,
    local_storage,  # noqa: F811
):
    firmware = await firmware_file()
    session = await staff_session()
    async with (
        connect(csms, "OPS-201", "2.0.1", charge_point_class=Maintained201) as cp,
        http_client(csms, session) as client,
    ):
        await cp.call(boot_call("2.0.1"))
        pk = await station_pk("OPS-201")
        page = await client.get(reverse("admin:stations_chargingstation_change", args=[pk]))
        for key in ("update_firmware", "get_log", "set_password"):
            assert operation_url(pk, key) in page.text
        updated = await csrf_post(
            client, operation_url(pk, "update_firmware"), {"firmware": str(firmware.pk)}
        )
        assert "OPS-201 answered UpdateFirmware: Accepted" in html.unescape(updated.text)
        logged = await csrf_post(
            client, operation_url(pk, "get_log"), {"log_type": "SecurityLog", "retries": "2"}
        )
        assert "OPS-201 answered GetLog: Accepted" in html.unescape(logged.text)
        password = await csrf_post(
            client, operation_url(pk, "set_password"), {"password": "s3cret-but-long-enough"}
        )
        assert "OPS-201 answered SetVariables: Accepted" in html.unescape(password.text)
    [(update_action, update), (log_action, log), (set_action, variables)] = cp.received
    assert (update_action, log_action, set_action) == ("UpdateFirmware", "GetLog", "SetVariables")
    record = await sync_to_async(FirmwareUpdate.objects.get)(station__identity="OPS-201")
    assert update["request_id"] == record.request_id and record.firmware_id == firmware.pk
    assert update["firmware"]["location"] == record.location
    assert log["log_type"] == "SecurityLog" and log["retries"] == 2
    log_record = await sync_to_async(LogRequest.objects.get)(station__identity="OPS-201")
    assert log["log"]["remote_location"] == log_record.location
    assert variables["set_variable_data"][0]["variable"]["name"] == "BasicAuthPassword"
    station = await sync_to_async(ChargingStation.objects.get)(identity="OPS-201")
    assert station.password_changed_at is not None


async def test_operations_refuse_bad_input_and_offline_stations(csms):
    session = await staff_session()
    async with (
        connect(csms, "OPS-16", "1.6", charge_point_class=Maintained16) as cp,
        http_client(csms, session) as client,
    ):
        await cp.call(boot_call("1.6"))
        pk = await station_pk("OPS-16")
        short = await csrf_post(client, operation_url(pk, "set_password"), {"password": "short"})
        assert "errorlist" in short.text and 'id="command-result"' not in short.text
        diagnostics = await csrf_post(
            client,
            operation_url(pk, "get_log"),
            {"kind": "GetDiagnostics", "log_type": "DiagnosticsLog"},
        )
        assert "OPS-16 answered GetDiagnostics" in html.unescape(diagnostics.text)
        assert cp.location.startswith("http")
    async with http_client(csms, session) as client:
        offline = await csrf_post(
            client, operation_url(pk, "get_log"), {"kind": "GetLog", "log_type": "DiagnosticsLog"}
        )
    assert "GetLog not sent" in html.unescape(offline.text)

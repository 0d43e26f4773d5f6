"""One way to send a call to a station: every path leaves a Command naming who or what sent it."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse
from ocpp.routing import on
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201

from commands import conveniences
from commands.models import Command
from commands.services import StationNotConnected
from ocpp_router.rpc import V16
from stations import admin_commands
from stations.models import ChargingStation
from tests.live import connect, eventually
from tests.operator import csrf_post, http_client, staff_session, station_pk
from tests.test_ocpp_core import boot_call

pytestmark = pytest.mark.django_db(transaction=True)


class Station201(ChargePoint201):
    @on("Reset")
    async def on_reset(self, **kwargs):
        return result201.Reset(status="Accepted")

    @on("GetBaseReport")
    async def on_get_base_report(self, **kwargs):
        return result201.GetBaseReport(status="Accepted")

    @on("SetVariables")
    async def on_set_variables(self, set_variable_data, **kwargs):
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


@sync_to_async
def commands_of(identity: str) -> list[Command]:
    return list(
        Command.objects.filter(station__identity=identity)
        .select_related("created_by")
        .order_by("id")
    )


async def test_admin_command_form_records_the_command_with_its_user(csms):
    session = await staff_session("admin-op")
    async with (
        connect(csms, "REC-ADM", "2.0.1", charge_point_class=Station201) as cp,
        http_client(csms, session) as client,
    ):
        await cp.call(boot_call("2.0.1"))
        pk = await station_pk("REC-ADM")
        url = reverse("admin:stations_chargingstation_command", args=[pk, "Reset"])
        page = await csrf_post(client, url, {"f__type": "Immediate"})
        assert page.status_code == 200
    [command] = await commands_of("REC-ADM")
    assert (command.origin, command.created_by.username) == ("admin", "admin-op")
    assert (command.action, command.request) == ("Reset", {"type": "Immediate"})
    assert (command.status, command.response) == ("completed", {"status": "Accepted"})


async def test_internal_call_records_its_flow_and_offline_station_records_nothing(csms):
    async with connect(csms, "REC-FLOW", "2.0.1", charge_point_class=Station201) as cp:
        await cp.call(boot_call("2.0.1"))
        outcome = await csms.call("REC-FLOW", "Reset", {"type": "OnIdle"})
        assert outcome.ok
    [command] = await commands_of("REC-FLOW")
    assert (command.origin, command.created_by, command.status) == ("test", None, "completed")
    await eventually(lambda: _offline("REC-FLOW"))
    with pytest.raises(StationNotConnected):
        await csms.call("REC-FLOW", "Reset", {"type": "OnIdle"})
    assert len(await commands_of("REC-FLOW")) == 1


async def test_a01_password_push_is_recorded_without_the_password(csms):
    from stations.credentials import station_password_set

    async with connect(csms, "REC-PW", "2.0.1", charge_point_class=Station201) as cp:
        await cp.call(boot_call("2.0.1"))
        password = await csms.run(
            sync_to_async(station_password_set, thread_sensitive=False)(
                identity="REC-PW", set_on_charger=True
            )
        )
    [command] = await commands_of("REC-PW")
    assert (command.origin, command.action, command.status) == (
        "stations.password",
        "SetVariables",
        "completed",
    )
    assert password not in str(command.request)
    assert command.request["setVariableData"][0]["attributeValue"] == "***"


async def test_b02_inventory_request_to_a_pending_station_is_recorded(csms):
    await sync_to_async(ChargingStation.objects.create)(
        identity="REC-PEND", boot_status="Pending", boot_get_base_report=True
    )
    async with connect(csms, "REC-PEND", "2.0.1", charge_point_class=Station201) as cp:
        assert (await cp.call(boot_call("2.0.1"))).status == "Pending"
        await eventually(lambda: _has_command("REC-PEND"))
    [command] = await commands_of("REC-PEND")
    assert (command.origin, command.action, command.status) == (
        "stations.boot",
        "GetBaseReport",
        "completed",
    )
    assert command.request["reportBase"] == "FullInventory"


@sync_to_async
def _offline(identity: str) -> bool:
    return not ChargingStation.objects.get(identity=identity).is_online


@sync_to_async
def _has_command(identity: str) -> bool:
    return Command.objects.filter(station__identity=identity).exists()


@pytest.mark.parametrize("version", [V16, "2.0.1", "2.1"])
def test_admin_form_defaults_use_the_one_version_mapping(version):
    assert (
        admin_commands.default_payload(version, "Reset")
        == (conveniences.reset(version, {"type": "soft"})[1])
    )
    assert (
        admin_commands.default_payload(version, "ChangeAvailability")
        == (conveniences.change_availability(version, {"operative": True})[1])
    )


def _password_by_api(identity: str, username: str):
    from django.contrib.auth.models import Permission, User
    from rest_framework.test import APIClient

    user = User.objects.create_user(username)
    user.user_permissions.add(Permission.objects.get(codename="change_chargingstation"))
    client = APIClient()
    client.force_authenticate(user)
    return client.post(f"/api/stations/{identity}/password", {"setOnCharger": True}, "json")


async def test_call_sent_by_a_service_below_an_api_view_names_the_requests_user(csms):
    async with connect(csms, "REC-API", "2.0.1", charge_point_class=Station201) as cp:
        await cp.call(boot_call("2.0.1"))
        response = await csms.run(
            sync_to_async(_password_by_api, thread_sensitive=False)("REC-API", "api-op")
        )
        assert response.status_code == 200, response.content
    [command] = await commands_of("REC-API")
    assert (command.origin, command.created_by.username) == ("stations.password", "api-op")


def test_only_the_commands_service_sends_calls():
    """Nothing but commands.services hands a call to the transport (ocpp_router.outbound)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    allowed = {root / "commands" / "services.py", root / "ocpp_router" / "outbound.py"}
    offenders = []
    tops = [top for top in root.iterdir() if top.is_dir() and not top.name.startswith(".")]
    for path in [path for top in tops for path in top.rglob("*.py")]:
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("call", "call_sync"):
                if isinstance(node.value, ast.Name) and node.value.id == "outbound":
                    offenders.append(f"{path.relative_to(root)}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.module == "ocpp_router.outbound":
                names = {alias.name for alias in node.names}
                if names & {"call", "call_sync"}:
                    offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []


class SilentOnReset(ChargePoint201):
    """Takes a Reset and never answers it: the next call waits behind it."""

    @on("Reset")
    async def on_reset(self, **kwargs):
        await asyncio.sleep(30)


async def test_a_queued_call_the_connection_never_sent_is_sent_on_the_stations_next_connection(
    csms, api
):
    async with connect(
        csms, "FOLLOW-1", "2.0.1", charge_point_class=SilentOnReset, close_timeout=1
    ) as cp:
        await cp.call(boot_call("2.0.1"))
        first = asyncio.create_task(
            api.post("/api/stations/FOLLOW-1/commands/Reset", json={"type": "OnIdle"})
        )
        await eventually(lambda: _count_is("FOLLOW-1", 1))
        second = asyncio.create_task(
            api.post(
                "/api/stations/FOLLOW-1/commands/GetBaseReport?timeout=60",
                json={"requestId": 7, "reportBase": "FullInventory"},
            )
        )
        await eventually(lambda: _count_is("FOLLOW-1", 2))
        await asyncio.sleep(0.3)  # queued behind the unanswered Reset
        # The station loses its connection (power cut): the Reset it got ends without an
        # answer, the queued GetBaseReport was never sent and waits for the station.
        cp._connection.transport.abort()
        assert (await asyncio.wait_for(first, 15)).json()["status"] == "error"
        assert not second.done()
    async with connect(csms, "FOLLOW-1", "2.0.1", charge_point_class=Station201) as cp:
        answer = await asyncio.wait_for(second, 30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "completed"
    commands = await commands_of("FOLLOW-1")
    assert [(c.action, c.status) for c in commands] == [
        ("Reset", "error"),
        ("GetBaseReport", "completed"),
    ]


@sync_to_async
def _count_is(identity: str, count: int) -> bool:
    return Command.objects.filter(station__identity=identity).count() == count

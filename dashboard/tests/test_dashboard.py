"""The live dashboard: a staff-only page and websocket fed by the domain events."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from django.urls import reverse

from tests.live import connect
from tests.operator import http_client, staff_session
from tests.test_ocpp_core import boot_call, status_call


async def next_event(ws, kind: str, station: str, timeout: float = 5.0) -> dict:
    """The next event of `kind` for `station`, skipping the others."""
    async with asyncio.timeout(timeout):
        while True:
            event = json.loads(await ws.recv())
            if event["kind"] == kind and event["station"] == station:
                return event


def dashboard_ws_url(server) -> str:
    return f"{server.ws_url}/dashboard/ws/"


async def test_staff_dashboard_socket_gets_connection_boot_status_and_disconnect(csms):
    session = await staff_session()
    async with websockets.connect(
        dashboard_ws_url(csms), additional_headers={"Cookie": f"sessionid={session}"}
    ) as ws:
        async with connect(csms, "LIVE 1", "2.0.1") as cp:
            connected = await next_event(ws, "station.connected", "LIVE 1")
            assert connected["data"]["protocol"] == "2.0.1"
            await cp.call(boot_call("2.0.1"))
            booted = await next_event(ws, "station.booted", "LIVE 1")
            assert booted["data"]["firmware_version"] == "1.2.3"
            await cp.call(status_call("2.0.1", "Occupied"))
            status = await next_event(ws, "station.status_changed", "LIVE 1")
            assert status["data"] == {
                "evse_id": 1,
                "connector_id": 1,
                "status": "Occupied",
                "error_code": "",
            }
        await next_event(ws, "station.disconnected", "LIVE 1")


async def test_dashboard_socket_refuses_anonymous_and_non_staff_users(csms):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(dashboard_ws_url(csms))
    assert refused.value.response.status_code == 403

    from asgiref.sync import sync_to_async
    from django.contrib.auth import get_user_model
    from django.test import Client

    @sync_to_async
    def customer_session() -> str:
        user = get_user_model().objects.create(username="customer", is_staff=False)
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(
            dashboard_ws_url(csms),
            additional_headers={"Cookie": f"sessionid={await customer_session()}"},
        )


async def test_dashboard_socket_refuses_a_foreign_origin_and_takes_its_own(csms):
    session = await staff_session()
    cookie = {"Cookie": f"sessionid={session}"}
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(
            dashboard_ws_url(csms), additional_headers=cookie, origin="http://evil.example"
        )
    async with websockets.connect(
        dashboard_ws_url(csms), additional_headers=cookie, origin=csms.http_url
    ) as ws:
        assert ws.protocol.state.name == "OPEN"


async def test_dashboard_page_and_state_list_every_station(csms):
    session = await staff_session()
    async with connect(csms, "SHOWN", "1.6") as cp, http_client(csms, session) as client:
        await cp.call(boot_call("1.6"))
        await cp.call(status_call("1.6", "Charging"))
        page = await client.get(reverse("dashboard:index"))
        state = (await client.get(reverse("dashboard:state"))).json()
        admin_index = await client.get(reverse("admin:index"))
    assert page.status_code == 200
    assert '"identity": "SHOWN"' in page.text
    [station] = [s for s in state["stations"] if s["identity"] == "SHOWN"]
    assert station["online"] is True
    assert station["protocol"] == "1.6"
    assert station["connectors"] == [
        {"evse_id": 1, "connector_id": 1, "status": "Charging", "error_code": "NoError"}
    ]
    assert reverse("dashboard:index") in admin_index.text


async def test_ocpp_route_still_takes_stations_without_origin_or_cookie(csms):
    # The dashboard's session/origin stack must not wrap the OCPP catch-all route.
    async with connect(csms, "dashboard", "2.0.1") as cp:
        response = await cp.call(boot_call("2.0.1"))
        assert response.status == "Accepted"
    async with httpx.AsyncClient(base_url=csms.http_url) as client:
        assert (await client.get("/dashboard/state.json")).status_code == 302

"""Commands from the admin reach a connected station as the right OCPP call, and the operator
sees the station's answer."""

from __future__ import annotations

import asyncio
import html

import pytest
from django.urls import reverse
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201

from tests.live import connect
from tests.operator import csrf_post, http_client, staff_session, station_pk
from tests.test_ocpp_core import boot_call


class Recorder201(ChargePoint201):
    """A 2.0.1 station that records every command it gets."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict]] = []

    @on("Reset")
    async def on_reset(self, **kwargs):
        self.received.append(("Reset", kwargs))
        return result201.Reset(status="Accepted")

    @on("ChangeAvailability")
    async def on_change_availability(self, **kwargs):
        self.received.append(("ChangeAvailability", kwargs))
        return result201.ChangeAvailability(status="Scheduled")

    @on("UnlockConnector")
    async def on_unlock(self, **kwargs):
        self.received.append(("UnlockConnector", kwargs))
        return result201.UnlockConnector(status="Unlocked")

    @on("TriggerMessage")
    async def on_trigger(self, **kwargs):
        self.received.append(("TriggerMessage", kwargs))
        return result201.TriggerMessage(status="Accepted")

    @on("GetBaseReport")
    async def on_base_report(self, **kwargs):
        self.received.append(("GetBaseReport", kwargs))
        return result201.GetBaseReport(status="Accepted")

    @on("ClearCache")
    async def on_clear_cache(self, **kwargs):
        self.received.append(("ClearCache", kwargs))
        return result201.ClearCache(status="Rejected")


class Recorder16(ChargePoint16):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict]] = []

    @on("Reset")
    async def on_reset(self, **kwargs):
        self.received.append(("Reset", kwargs))
        return result16.Reset(status="Accepted")

    @on("GetConfiguration")
    async def on_get_configuration(self, **kwargs):
        self.received.append(("GetConfiguration", kwargs))
        return result16.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        )


def command_url(pk: int, action: str) -> str:
    return reverse("admin:stations_chargingstation_command", args=[pk, action])


async def test_command_form_sends_reset_and_shows_the_answer(csms):
    session = await staff_session()
    async with (
        connect(csms, "ADM 16", "1.6", charge_point_class=Recorder16) as cp,
        http_client(csms, session) as client,
    ):
        await cp.call(boot_call("1.6"))
        url = command_url(await station_pk("ADM 16"), "Reset")
        page = await csrf_post(client, url, {"f__type": "Hard"})
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert 'data-status="completed"' in text
        assert "ADM 16 answered Reset: Accepted" in text
        assert cp.received == [("Reset", {"type": "Hard"})]


async def test_station_page_commands_send_the_calls_their_forms_describe(csms):
    session = await staff_session()
    async with (
        connect(csms, "ADM-201", "2.0.1", charge_point_class=Recorder201) as cp,
        http_client(csms, session) as client,
    ):
        await cp.call(boot_call("2.0.1"))
        pk = await station_pk("ADM-201")
        detail = await client.get(reverse("admin:stations_chargingstation_change", args=[pk]))
        for action in ("Reset", "ChangeAvailability", "UnlockConnector", "TriggerMessage"):
            assert command_url(pk, action) in detail.text
        forms = [
            ("ChangeAvailability", {"f__operationalStatus": "Inoperative", "f__evse__id": "1"}),
            ("UnlockConnector", {"f__evseId": "1", "f__connectorId": "2"}),
            ("TriggerMessage", {"f__requestedMessage": "Heartbeat"}),
            ("GetBaseReport", {"f__requestId": "7", "f__reportBase": "ConfigurationInventory"}),
            ("ClearCache", {}),
        ]
        answers = []
        for action, data in forms:
            page = await csrf_post(client, command_url(pk, action), data)
            answers.append(html.unescape(page.text))
    assert cp.received == [
        ("ChangeAvailability", {"operational_status": "Inoperative", "evse": {"id": 1}}),
        ("UnlockConnector", {"evse_id": 1, "connector_id": 2}),
        ("TriggerMessage", {"requested_message": "Heartbeat"}),
        ("GetBaseReport", {"request_id": 7, "report_base": "ConfigurationInventory"}),
        ("ClearCache", {}),
    ]
    assert "answered ChangeAvailability: Scheduled" in answers[0]
    assert "answered UnlockConnector: Unlocked" in answers[1]
    assert "answered ClearCache: Rejected" in answers[4]


async def test_invalid_command_is_refused_before_anything_is_sent(csms):
    session = await staff_session()
    async with (
        connect(csms, "ADM-BAD", "2.0.1", charge_point_class=Recorder201) as cp,
        http_client(csms, session) as client,
    ):
        await cp.call(boot_call("2.0.1"))
        url = command_url(await station_pk("ADM-BAD"), "Reset")
        page = await csrf_post(client, url, {"payload_json": '{"type": "Whenever"}'})
        assert "Not a valid Reset request for OCPP 2.0.1" in html.unescape(page.text)
        assert 'id="command-result"' not in page.text
        assert cp.received == []


async def test_admin_action_resets_selected_stations_each_in_its_protocol(csms):
    session = await staff_session()
    async with (
        connect(csms, "SEL-16", "1.6", charge_point_class=Recorder16) as cp16,
        connect(csms, "SEL-201", "2.0.1", charge_point_class=Recorder201) as cp201,
        http_client(csms, session) as client,
    ):
        await asyncio.gather(cp16.call(boot_call("1.6")), cp201.call(boot_call("2.0.1")))
        from asgiref.sync import sync_to_async

        from stations.models import ChargingStation

        offline = await sync_to_async(ChargingStation.objects.create)(
            identity="SEL-OFF", protocol="2.0.1"
        )
        pks = [await station_pk("SEL-16"), await station_pk("SEL-201"), offline.pk]
        url = reverse("admin:stations_chargingstation_changelist")
        page = await csrf_post(
            client,
            url,
            {"action": "reset_hard", "_selected_action": [str(pk) for pk in pks], "index": "0"},
        )
        text = html.unescape(page.text)
        records = await client.get(_records_href(page.text))
    assert cp16.received == [("Reset", {"type": "Hard"})]
    assert cp201.received == [("Reset", {"type": "Immediate"})]
    # One summary for the whole selection, linked to the three command records.
    assert 'data-outcome="accepted" data-count="2"' in text
    assert 'data-outcome="offline" data-count="1"' in text
    assert "SEL-OFF" in text
    assert 'data-outcome="rejected" data-count="0"' in text
    assert records.status_code == 200
    assert "3 commands" in records.text
    for identity in ("SEL-16", "SEL-201", "SEL-OFF"):
        assert identity in records.text


def _records_href(page: str) -> str:
    import re

    match = re.search(r'id="bulk-records" href="([^"]+)"', page)
    assert match, "the summary links to the command records"
    return html.unescape(match[1])


async def test_get_configuration_action_picks_the_call_of_each_protocol(csms):
    session = await staff_session()
    async with (
        connect(csms, "CONF-16", "1.6", charge_point_class=Recorder16) as cp16,
        connect(csms, "CONF-201", "2.0.1", charge_point_class=Recorder201) as cp201,
        http_client(csms, session) as client,
    ):
        await asyncio.gather(cp16.call(boot_call("1.6")), cp201.call(boot_call("2.0.1")))
        pks = [await station_pk("CONF-16"), await station_pk("CONF-201")]
        page = await csrf_post(
            client,
            reverse("admin:stations_chargingstation_changelist"),
            {"action": "get_configuration", "_selected_action": [str(p) for p in pks]},
        )
    assert [name for name, _ in cp16.received] == ["GetConfiguration"]
    assert [name for name, _ in cp201.received] == ["GetBaseReport"]
    assert cp201.received[0][1]["report_base"] == "FullInventory"
    text = html.unescape(page.text)
    assert "GetBaseReport, GetConfiguration sent to 2 stations" in text
    assert 'data-outcome="accepted" data-count="2"' in text


async def test_station_that_does_not_answer_in_time_is_reported(csms, settings):
    settings.CSMS_ADMIN_CALL_TIMEOUT = 0.5

    class Slow(ChargePoint201):
        @on("Reset")
        async def on_reset(self, **kwargs):
            await asyncio.sleep(3)
            return result201.Reset(status="Accepted")

    session = await staff_session()
    async with (
        connect(csms, "ADM-SLOW", "2.0.1", charge_point_class=Slow) as cp,
        http_client(csms, session) as client,
    ):
        await cp.call(boot_call("2.0.1"))
        url = command_url(await station_pk("ADM-SLOW"), "Reset")
        page = await csrf_post(client, url, {"f__type": "Immediate"})
        text = html.unescape(page.text)
    assert 'data-status="timeout"' in text
    assert "ADM-SLOW did not answer Reset within 0.5 s" in text


async def test_command_to_an_offline_station_says_it_was_not_sent(csms):
    session = await staff_session()
    async with connect(csms, "ADM-GONE", "2.0.1") as cp:
        await cp.call(boot_call("2.0.1"))
    from tests.live import eventually
    from tests.test_ocpp_core import _both_offline

    await eventually(lambda: _both_offline("ADM-GONE"))
    async with http_client(csms, session) as client:
        url = command_url(await station_pk("ADM-GONE"), "Reset")
        page = await csrf_post(client, url, {"f__type": "Immediate"})
    text = html.unescape(page.text)
    assert 'data-status="not-sent"' in text
    assert "Reset not sent" in text and "is not connected" in text


@pytest.mark.parametrize("path", ["/dashboard/", "/admin/stations/chargingstation/"])
async def test_operator_pages_need_a_staff_login(csms, path):
    import httpx

    async with httpx.AsyncClient(base_url=csms.http_url) as client:
        response = await client.get(path)
    assert response.status_code == 302
    assert "/admin/login/" in response.headers["location"]

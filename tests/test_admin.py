"""The operator's admin: every stations page renders with data; command forms follow the
official request schemas."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils.html import format_html

from ocpp_router import validation
from ocpp_router.rpc import V16, V21, V201
from stations import admin_commands
from stations.admin_panels import register_station_panel
from stations.models import (
    BootNotification,
    ChargingStation,
    Connector,
    Evse,
    OcppMessage,
    SecurityEvent,
)

AT = datetime(2026, 11, 25, 10, tzinfo=UTC)


@pytest.fixture
def network(db):
    station = ChargingStation.objects.create(
        identity="RDAM 123",
        protocol=V201,
        is_online=True,
        registration_status="Accepted",
        vendor="Acme",
        model="AC-22",
        firmware_version="1.2.3",
        security_profile=1,
        last_heartbeat=AT,
    )
    evse = Evse.objects.create(station=station, evse_id=1)
    connector = Connector.objects.create(
        evse=evse, connector_id=1, status="Charging", status_timestamp=AT
    )
    boot = BootNotification.objects.create(
        station=station,
        timestamp=AT,
        protocol=V201,
        reason="PowerUp",
        vendor="Acme",
        model="AC-22",
        firmware_version="1.2.3",
        status="Accepted",
        interval=300,
        payload={"reason": "PowerUp", "chargingStation": {"vendorName": "Acme", "model": "AC-22"}},
    )
    call = OcppMessage.objects.create(
        id=uuid.uuid4(),
        station=station,
        timestamp=AT,
        direction="out",
        message_type=2,
        message_id="m-1",
        action="Reset",
        payload={"type": "Immediate"},
    )
    answer = OcppMessage.objects.create(
        id=uuid.uuid4(),
        station=station,
        timestamp=AT + timedelta(milliseconds=40),
        direction="in",
        message_type=3,
        message_id="m-1",
        action="Reset",
        payload={"status": "Rejected", "statusInfo": {"reasonCode": "Busy"}},
        answers=call,
    )
    refused = OcppMessage.objects.create(
        id=uuid.uuid4(),
        station=station,
        timestamp=AT + timedelta(seconds=1),
        direction="out",
        message_type=4,
        message_id="m-2",
        action="Authorize",
        error_code="FormatViolation",
        error_description="$.idToken: required",
    )
    event = SecurityEvent.objects.create(
        station=station,
        identity=station.identity,
        source="station",
        type="FirmwareUpdated",
        timestamp=AT,
    )
    ChargingStation.objects.create(identity="OLD-16", protocol=V16)
    return {
        "station": station,
        "evse": evse,
        "connector": connector,
        "boot": boot,
        "call": call,
        "answer": answer,
        "refused": refused,
        "event": event,
    }


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


@pytest.mark.parametrize("key", ["station", "evse", "connector", "boot", "call", "event"])
def test_changelist_and_change_page_render_for_every_stations_model(staff_client, network, key):
    obj = network[key]
    meta = obj._meta
    listing = page(staff_client, reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    assert "RDAM 123" in listing
    detail = page(
        staff_client, reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    )
    assert "RDAM 123" in detail


def test_station_list_shows_badges_protocol_firmware_and_connector_states(staff_client, network):
    listing = page(staff_client, reverse("admin:stations_chargingstation_changelist"))
    assert ">online<" in listing and ">offline<" in listing
    assert "1/1 Charging" in listing
    assert "1.2.3" in listing
    assert 'title="1: basic auth"' in listing
    online_only = page(
        staff_client, reverse("admin:stations_chargingstation_changelist") + "?is_online__exact=1"
    )
    assert "RDAM 123" in online_only and "OLD-16" not in online_only


def test_station_page_links_connectors_boots_messages_and_offers_commands(staff_client, network):
    station = network["station"]
    detail = page(staff_client, reverse("admin:stations_chargingstation_change", args=[station.pk]))
    assert reverse("admin:stations_connector_change", args=[network["connector"].pk]) in detail
    assert reverse("admin:stations_bootnotification_change", args=[network["boot"].pk]) in detail
    assert reverse("admin:stations_ocppmessage_change", args=[network["call"].pk]) in detail
    assert reverse("admin:stations_securityevent_change", args=[network["event"].pk]) in detail
    assert f"station__id__exact={station.pk}" in detail
    for action in ("Reset", "ChangeAvailability", "UnlockConnector", "TriggerMessage"):
        assert (
            reverse("admin:stations_chargingstation_command", args=[station.pk, action]) in detail
        )
    assert "GetBaseReport" in detail and "ClearCache" in detail
    # The placeholder extension point for the transactions app.
    assert 'id="panel-active_transaction"' in detail
    # The identity is what the station connects with: not editable here.
    assert 'name="identity"' not in detail


def test_a_registered_panel_replaces_the_placeholder(staff_client, network):
    from stations import admin_panels

    saved = dict(admin_panels._panels)
    try:

        @register_station_panel("active_transaction", "Active transaction", order=10)
        def panel(request, station):
            return format_html("<p>tx of {}</p>", station.identity)

        station = network["station"]
        detail = page(
            staff_client, reverse("admin:stations_chargingstation_change", args=[station.pk])
        )
        assert "<p>tx of RDAM 123</p>" in detail
        assert "Transactions are not recorded yet." not in detail
    finally:
        admin_panels._panels.clear()
        admin_panels._panels.update(saved)


def test_message_page_shows_request_and_answer_side_by_side(staff_client, network):
    for key in ("call", "answer"):
        detail = page(
            staff_client, reverse("admin:stations_ocppmessage_change", args=[network[key].pk])
        )
        assert 'id="message-exchange"' in detail
        assert "&quot;type&quot;: &quot;Immediate&quot;" in detail
        assert "&quot;reasonCode&quot;: &quot;Busy&quot;" in detail
        assert "(this message)" in detail


def test_message_log_filters_by_error_direction_action_and_station(staff_client, network):
    url = reverse("admin:stations_ocppmessage_changelist")
    errors = page(staff_client, url + "?has_error=yes")
    assert "m-2" in errors and "m-1" not in errors
    fine = page(staff_client, url + "?has_error=no")
    assert "m-1" in fine and "m-2" not in fine
    incoming = page(staff_client, url + "?direction__exact=in")
    assert "m-1" in incoming and "m-2" not in incoming
    by_action = page(staff_client, url + "?action=Authorize")
    assert "m-2" in by_action and "m-1" not in by_action
    by_station = page(staff_client, url + f"?station__id__exact={network['station'].pk}")
    assert "m-1" in by_station


def test_station_reported_fields_are_read_only(staff_client, network):
    station = network["station"]
    url = reverse("admin:stations_chargingstation_change", args=[station.pk])
    response = staff_client.post(
        url,
        {
            "enabled": "on",
            "security_profile": "2",
            "account": "north",
            "firmware_version": "forged",
            "is_online": "",
            "evses-TOTAL_FORMS": "1",
            "evses-INITIAL_FORMS": "1",
            "evses-MIN_NUM_FORMS": "0",
            "evses-MAX_NUM_FORMS": "1000",
            "evses-0-id": str(network["evse"].pk),
            "evses-0-station": str(station.pk),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    station.refresh_from_db()
    assert (station.security_profile, station.account) == (2, "north")
    assert station.firmware_version == "1.2.3"
    assert station.is_online


def test_command_page_renders_schema_fields_with_defaults(staff_client, network):
    station = network["station"]
    html = page(
        staff_client,
        reverse("admin:stations_chargingstation_command", args=[station.pk, "ChangeAvailability"]),
    )
    assert 'name="f__operationalStatus"' in html
    assert 'name="f__evse__id"' in html and 'name="f__evse__connectorId"' in html
    assert '<option value="Operative" selected>' in html
    assert 'name="payload_json"' in html


def test_command_page_of_an_unknown_station_is_not_found(staff_client, network):
    url = reverse("admin:stations_chargingstation_command", args=["nope", "Reset"])
    assert staff_client.get(url).status_code == 404


def test_command_page_of_an_action_not_sendable_redirects_with_an_error(staff_client, network):
    station = network["station"]
    url = reverse("admin:stations_chargingstation_command", args=[station.pk, "RequestStartX"])
    response = staff_client.get(url, follow=True)
    assert "is not an action the CSMS sends" in response.content.decode()


@pytest.mark.parametrize("version", [V16, V201, V21])
def test_every_schema_action_gets_a_form_and_quick_defaults_are_valid(version):
    for action in sorted(validation.actions(version)):
        form = admin_commands.CommandForm(version=version, action=action)
        assert "payload_json" in form.fields
    # Quick actions and every action given defaults start from a payload the station accepts.
    for action in {*admin_commands.QUICK_ACTIONS, *admin_commands.actions_with_defaults()}:
        if action not in validation.actions(version):
            continue
        payload = admin_commands.default_payload(version, action)
        # A remote start leaves the id token for the operator to pick among the known ones.
        if action == "RemoteStartTransaction":
            payload["idTag"] = "PICKED"
        elif action == "RequestStartTransaction":
            payload["idToken"]["idToken"] = "PICKED"
        validation.check(version, action, "request", payload)


def test_command_form_builds_nested_payload_from_fields():
    form = admin_commands.CommandForm(
        {"f__operationalStatus": "Inoperative", "f__evse__id": "2", "f__evse__connectorId": ""},
        version=V201,
        action="ChangeAvailability",
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["payload"] == {"operationalStatus": "Inoperative", "evse": {"id": 2}}


def test_command_form_takes_raw_json_and_checks_it_against_the_schema():
    ok = admin_commands.CommandForm(
        {"payload_json": json.dumps({"type": "Hard"})}, version=V16, action="Reset"
    )
    assert ok.is_valid(), ok.errors
    assert ok.cleaned_data["payload"] == {"type": "Hard"}
    wrong_enum = admin_commands.CommandForm(
        {"payload_json": json.dumps({"type": "Sometime"})}, version=V16, action="Reset"
    )
    assert not wrong_enum.is_valid()
    assert "$.type" in str(wrong_enum.errors)
    not_json = admin_commands.CommandForm({"payload_json": "{type"}, version=V16, action="Reset")
    assert not not_json.is_valid()
    assert "not valid JSON" in str(not_json.errors)


def test_command_form_lists_take_json_and_missing_required_fields_are_refused():
    form = admin_commands.CommandForm(
        {"f__key": json.dumps(["HeartbeatInterval"])}, version=V16, action="GetConfiguration"
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["payload"] == {"key": ["HeartbeatInterval"]}
    missing = admin_commands.CommandForm({}, version=V201, action="Reset")
    assert not missing.is_valid()
    assert "f__type" in missing.errors

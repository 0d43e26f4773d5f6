"""Data API: list, detail, filters, ordering, pagination, 400 and 404 of every endpoint."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from commands.models import CallbackDelivery, Command
from stations.models import (
    BootNotification,
    ChargingStation,
    Connector,
    Evse,
    OcppMessage,
    SecurityEvent,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 25, 10, tzinfo=UTC)


@pytest.fixture
def data():
    a = ChargingStation.objects.create(
        identity="CP-A", protocol="2.0.1", is_online=True, vendor="Acme", model="AC-22"
    )
    b = ChargingStation.objects.create(identity="CP-B", protocol="1.6", vendor="Other", model="X")
    for station in (a, b):
        evse = Evse.objects.create(station=station, evse_id=1)
        Connector.objects.create(evse=evse, connector_id=1, status="Available")
    Connector.objects.filter(evse__station=b).update(status="Faulted")
    for i, station in enumerate((a, b)):
        BootNotification.objects.create(
            station=station,
            timestamp=T0 + timedelta(hours=i),
            protocol=station.protocol,
            status="Accepted",
            interval=300,
            payload={},
        )
        SecurityEvent.objects.create(
            station=station,
            identity=station.identity,
            source="station",
            type="StartupOfTheDevice" if i == 0 else "ResetOrReboot",
            timestamp=T0 + timedelta(hours=i),
        )
    for i in range(5):
        OcppMessage.objects.create(
            id=uuid.uuid4(),
            station=a if i % 2 == 0 else b,
            timestamp=T0 + timedelta(minutes=i),
            direction="in",
            message_type=2,
            message_id=str(i),
            action="Heartbeat" if i < 4 else "BootNotification",
            payload={},
        )
    command = Command.objects.create(
        station=a, action="Reset", protocol="2.0.1", request={"type": "Immediate"}, created=T0
    )
    CallbackDelivery.objects.create(command=command, attempt=1, at=T0, status_code=200)
    Command.objects.create(
        station=b,
        action="Reset",
        protocol="1.6",
        request={"type": "Hard"},
        status="completed",
        response={"status": "Accepted"},
        created=T0 + timedelta(hours=1),
    )
    return {"a": a, "b": b, "command": command}


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.parametrize(
    ("url", "count"),
    [
        ("/api/stations/", 2),
        ("/api/evses/", 2),
        ("/api/connectors/", 2),
        ("/api/boots/", 2),
        ("/api/messages/", 5),
        ("/api/security-events/", 2),
        ("/api/commands/", 2),
    ],
)
def test_list_endpoints_return_every_row(viewer_api, data, url, count):
    assert len(results(viewer_api.get(url))) == count


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/api/stations/?online=true", ["CP-A"]),
        ("/api/stations/?vendor=Other", ["CP-B"]),
        ("/api/stations/?protocol=2.0.1", ["CP-A"]),
        ("/api/stations/?station_id=CP-B", ["CP-B"]),
        ("/api/evses/?station_id=CP-A", ["CP-A"]),
        ("/api/connectors/?status=Faulted", ["CP-B"]),
        ("/api/connectors/?station_id=CP-A&evse_id=1", ["CP-A"]),
        ("/api/boots/?station_id=CP-B", ["CP-B"]),
        ("/api/boots/?since=2026-11-25T10:30:00Z", ["CP-B"]),
        ("/api/messages/?action=BootNotification", ["CP-A"]),
        ("/api/messages/?station_id=CP-B", ["CP-B", "CP-B"]),
        ("/api/security-events/?type=ResetOrReboot", ["CP-B"]),
        ("/api/commands/?status=completed", ["CP-B"]),
        ("/api/commands/?station_id=CP-A", ["CP-A"]),
    ],
)
def test_filters_select_rows(viewer_api, data, url, expected):
    assert sorted(row["station_id"] for row in results(viewer_api.get(url))) == expected


def test_station_detail_by_station_id_with_evses_and_connectors(viewer_api, data):
    body = viewer_api.get("/api/stations/CP-A/").json()
    assert body["station_id"] == "CP-A"
    assert body["vendor"] == "Acme"
    assert body["security_profile"] == 0
    assert body["evses"] == [
        {"evse_id": 1, "connectors": [pytest.approx(body["evses"][0]["connectors"][0])]}
    ]
    assert body["evses"][0]["connectors"][0]["status"] == "Available"
    assert "channel_name" not in body


@pytest.mark.parametrize("kind", ["evses", "connectors", "boots", "security-events"])
def test_detail_endpoints_by_id(viewer_api, data, kind):
    first = results(viewer_api.get(f"/api/{kind}/"))[0]
    assert viewer_api.get(f"/api/{kind}/{first['id']}/").json() == first


def test_message_detail_and_cursor_pagination_newest_first(viewer_api, data):
    page = viewer_api.get("/api/messages/?page_size=2").json()
    assert [m["message_id"] for m in page["results"]] == ["4", "3"]
    following = viewer_api.get(page["next"]).json()
    assert [m["message_id"] for m in following["results"]] == ["2", "1"]
    detail = viewer_api.get(f"/api/messages/{page['results'][0]['id']}/").json()
    assert detail["action"] == "BootNotification"


def test_command_detail_shows_callback_deliveries(viewer_api, data):
    body = viewer_api.get(f"/api/commands/{data['command'].pk}/").json()
    assert body["station_id"] == "CP-A"
    assert body["status"] == "pending"
    assert body["request"] == {"type": "Immediate"}
    assert body["deliveries"][0]["status_code"] == 200


def test_ordering_is_chosen_by_query(viewer_api, data):
    names = [s["station_id"] for s in results(viewer_api.get("/api/stations/?ordering=-identity"))]
    assert names == ["CP-B", "CP-A"]
    boots = [b["station_id"] for b in results(viewer_api.get("/api/boots/?ordering=timestamp"))]
    assert boots == ["CP-A", "CP-B"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/stations/NOPE/",
        "/api/evses/999/",
        "/api/connectors/999/",
        "/api/boots/999/",
        f"/api/messages/{uuid.uuid4()}/",
        "/api/security-events/999/",
        "/api/commands/999/",
    ],
)
def test_unknown_ids_are_404(viewer_api, data, url):
    assert viewer_api.get(url).status_code == 404


def test_station_validation_errors_are_400_per_field(operator_api, data):
    response = operator_api.post(
        "/api/stations/", {"station_id": "CP-A", "security_profile": 7}, format="json"
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"station_id", "security_profile"}


def test_station_reported_fields_are_read_only(operator_api, data):
    response = operator_api.patch(
        "/api/stations/CP-B/", {"vendor": "Forged", "account": "fleet-1"}, format="json"
    )
    assert response.status_code == 200
    station = ChargingStation.objects.get(identity="CP-B")
    assert (station.vendor, station.account) == ("Other", "fleet-1")


def test_invalid_filter_value_is_400(viewer_api, data):
    assert viewer_api.get("/api/boots/?since=yesterday").status_code == 400


@pytest.mark.parametrize("station_id", ["a/b", "x?y", "tab\there"])
def test_station_id_a_station_could_not_connect_with_is_400(operator_api, station_id):
    response = operator_api.post("/api/stations/", {"station_id": station_id}, format="json")
    assert response.status_code == 400
    assert "station_id" in response.json()

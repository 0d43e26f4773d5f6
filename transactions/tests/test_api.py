"""Data API of the transactions block."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from ocpp_router.datetimes import to_ocpp, utcnow
from stations.models import ChargingStation
from transactions import services
from transactions.models import IdToken, MeterValue, Tariff

pytestmark = pytest.mark.django_db

T0 = utcnow().replace(microsecond=0) - timedelta(days=1)


@pytest.fixture
def session():
    station = ChargingStation.objects.create(identity="API-1", protocol="2.0.1")
    for seq, (kind, minutes, wh) in enumerate(
        [("Started", 0, 100), ("Updated", 5, 600), ("Ended", 10, 1100)]
    ):
        services.transaction_event_record(
            station_pk=station.pk,
            version="2.0.1",
            payload={
                "eventType": kind,
                "timestamp": to_ocpp(T0 + timedelta(minutes=minutes)),
                "triggerReason": "Authorized",
                "seqNo": seq,
                "transactionInfo": {"transactionId": "API-TX"},
                "idToken": {"idToken": "CARD", "type": "ISO14443"},
                "evse": {"id": 1, "connectorId": 1},
                "meterValue": [
                    {
                        "timestamp": to_ocpp(T0 + timedelta(minutes=minutes)),
                        "sampledValue": [{"value": wh}],
                    }
                ],
            },
        )
    return station


def test_api_requires_authentication():
    assert APIClient().get("/api/transactions/").status_code == 401


def test_transactions_filter_by_station_token_active_and_time(operator_api, session):
    other = ChargingStation.objects.create(identity="API-2")
    services.transaction_start_16(
        station_pk=other.pk,
        connector_id=1,
        id_tag="OTHER",
        meter_start=0,
        timestamp=utcnow(),
        reservation_id=None,
        payload={},
    )

    def ids(**query):
        results = operator_api.get("/api/transactions/", query).json()["results"]
        return [t["transaction_id"] for t in results]

    assert ids(station_id="API-1") == ["API-TX"]
    assert ids(id_token="CARD") == ["API-TX"]
    assert len(ids(active="true")) == 1 and ids(active="false") == ["API-TX"]
    assert ids(started_before=to_ocpp(T0 + timedelta(hours=1))) == ["API-TX"]


def test_transaction_detail_includes_meter_values_and_events(operator_api, session):
    listing = operator_api.get("/api/transactions/", {"station_id": "API-1"}).json()["results"]
    assert "meter_values" not in listing[0]
    detail = operator_api.get(f"/api/transactions/{listing[0]['id']}/").json()
    assert detail["energy_wh"] == "1000.000" and detail["station_id"] == "API-1"
    assert [mv["value"] for mv in detail["meter_values"]] == [
        "100.000000000",
        "600.000000000",
        "1100.000000000",
    ]
    assert [e["seq_no"] for e in detail["events"]] == [0, 1, 2]


def test_transactions_are_read_only(operator_api, session):
    assert operator_api.post("/api/transactions/", {}).status_code == 405


def test_meter_values_page_with_a_cursor(operator_api, session):
    first = operator_api.get("/api/meter-values/", {"page_size": 2, "station_id": "API-1"}).json()
    assert [mv["value"] for mv in first["results"]] == ["1100.000000000", "600.000000000"]
    second = operator_api.get(first["next"]).json()
    assert [mv["value"] for mv in second["results"]] == ["100.000000000"]
    assert second["next"] is None and MeterValue.objects.count() == 3


def test_id_tokens_crud_and_filter(operator_api):
    created = operator_api.post(
        "/api/id-tokens/",
        {"value": "NEW-1", "type": "ISO14443", "status": "Blocked"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert IdToken.objects.get(value="NEW-1").status == "Blocked"
    assert operator_api.get("/api/id-tokens/", {"status": "Blocked"}).json()["count"] == 1
    token_id = created.json()["id"]
    assert (
        operator_api.patch(f"/api/id-tokens/{token_id}/", {"status": "Accepted"}, format="json")
    ).status_code == 200
    assert IdToken.objects.get(value="NEW-1").status == "Accepted"


def test_tariffs_crud(operator_api, session):
    created = operator_api.post(
        "/api/tariffs/",
        {"name": "Night", "station_id": "API-1", "price_per_kwh": "0.2100", "currency": "EUR"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert Tariff.objects.get().price_per_kwh == Decimal("0.21")
    assert operator_api.get("/api/tariffs/", {"station_id": "API-1"}).json()["count"] == 1


def test_reservation_for_an_offline_station_is_a_conflict(operator_api, session):
    from transactions.models import Reservation

    answer = operator_api.post(
        "/api/reservations/",
        {
            "station_id": "API-1",
            "id_token_value": "CARD",
            "expiry": to_ocpp(utcnow() + timedelta(minutes=5)),
        },
        format="json",
    )
    assert answer.status_code == 409
    assert "not connected" in answer.json()["detail"]
    assert Reservation.objects.get().status == "Error"

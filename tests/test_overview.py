"""The overview (the admin's landing page): figures across the network."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User

from dashboard.overview import overview_snapshot
from ocpp_router.datetimes import utcnow
from stations.models import ChargingStation, Connector, Evse
from transactions.models import MeterValue, Transaction

pytestmark = pytest.mark.django_db


def test_overview_counts_stations_connectors_sessions_power_and_energy():
    now = utcnow()
    online = ChargingStation.objects.create(identity="OV-1", is_online=True)
    ChargingStation.objects.create(identity="OV-2", is_online=False, last_seen=now)
    evse = Evse.objects.create(station=online, evse_id=1)
    Connector.objects.create(evse=evse, connector_id=1, status="Occupied")
    faulted = Evse.objects.create(station=online, evse_id=2)
    Connector.objects.create(evse=faulted, connector_id=1, status="Faulted")
    tx = Transaction.objects.create(
        station=online,
        transaction_id="T-1",
        evse_id=1,
        is_active=True,
        charging_state="Charging",
        started_at=now - timedelta(minutes=30),
        energy_wh=5000,
    )
    for minutes, watts in ((20, 7000), (2, 11000)):
        MeterValue.objects.create(
            station=online,
            transaction=tx,
            timestamp=now - timedelta(minutes=minutes),
            measurand="Power.Active.Import",
            unit="W",
            value=watts,
        )
    data = overview_snapshot(now)
    assert data["stations"] == {"total": 2, "online": 1, "offline": 1, "faulted": 1}
    # OCPP 2.x Occupied with a charging transaction is shown as Charging.
    assert data["connectors"]["Charging"] == 1 and data["connectors"]["Faulted"] == 1
    assert data["sessions_now"] == 1
    assert data["power_now_w"] == 11000
    assert data["energy_today_wh"] in (0, 5000)  # 0 only in the first half hour of a day
    assert data["energy_week_wh"] >= data["energy_today_wh"]
    assert sum(1 for _ in data["power_24h"]) >= 1
    assert [s["identity"] for s in data["offline_longest"]] == ["OV-2"]


def test_admin_landing_page_is_the_overview_and_names_the_product(client):
    client.force_login(User.objects.create_superuser("ov-admin", password=None))
    page = client.get("/admin/").content.decode()
    assert 'id="csms-overview"' in page and "CSMS · charging station management" in page
    assert "Django administration" not in page
    assert client.get("/dashboard/overview.json").json()["stations"]["total"] == 0


def test_message_log_filters_stations_by_typed_identity_and_searches_payloads(client):
    from stations.models import OcppMessage

    client.force_login(User.objects.create_superuser("ov-log", password=None))
    now = utcnow()
    rows = (("DEPOT-1", {"status": "ConcurrentTx"}), ("YARD-1", {"x": 1}))
    for pk, (identity, payload) in enumerate(rows, start=1):
        station = ChargingStation.objects.create(identity=identity)
        # The message log hands out ids itself (batched writes): given here.
        OcppMessage.objects.create(
            id=pk,
            station=station,
            timestamp=now,
            direction="in",
            message_type=3,
            message_id="1",
            action="Authorize",
            payload=payload,
        )
    url = "/admin/stations/ocppmessage/"
    page = client.get(url, {"station_identity": "depot"}).content.decode()
    assert "DEPOT-1" in page and "YARD-1" not in page
    assert 'name="station_identity"' in page  # an input, not a list of every station
    found = client.get(url, {"q": "ConcurrentTx"}).content.decode()
    assert "DEPOT-1" in found and "YARD-1" not in found
    # Append-only: no delete action, no delete page.
    assert 'value="delete_selected"' not in page
    message = OcppMessage.objects.first()
    assert client.get(f"{url}{message.pk}/delete/").status_code == 403


def test_power_chart_sums_each_sessions_average_per_ten_minutes():
    from datetime import UTC, datetime

    from dashboard.overview import power_series

    now = datetime(2026, 11, 25, 10, 27, 30, tzinfo=UTC)
    station = ChargingStation.objects.create(identity="PW-1")
    first, second = (
        Transaction.objects.create(station=station, transaction_id=f"PW-{n}", is_active=True)
        for n in (1, 2)
    )
    readings = [
        (first, datetime(2026, 11, 25, 10, 1, tzinfo=UTC), 6000, "W"),
        (first, datetime(2026, 11, 25, 10, 9, 59, tzinfo=UTC), 8000, "W"),
        (second, datetime(2026, 11, 25, 10, 5, tzinfo=UTC), 11, "kW"),
        (second, datetime(2026, 11, 25, 10, 20, tzinfo=UTC), 3000, "W"),
        # Outside the 24 hours, and a phase value: not counted.
        (first, datetime(2026, 11, 24, 10, 0, tzinfo=UTC), 99000, "W"),
    ]
    for tx, at, value, unit in readings:
        MeterValue.objects.create(
            station=station,
            transaction=tx,
            timestamp=at,
            measurand="Power.Active.Import",
            unit=unit,
            value=value,
        )
    MeterValue.objects.create(
        station=station,
        transaction=first,
        timestamp=datetime(2026, 11, 25, 10, 2, tzinfo=UTC),
        measurand="Power.Active.Import",
        phase="L1",
        unit="W",
        value=50000,
    )
    assert power_series(now) == [
        (datetime(2026, 11, 25, 10, 0, tzinfo=UTC), 7000 + 11000),
        (datetime(2026, 11, 25, 10, 20, tzinfo=UTC), 3000),
    ]

"""The admin pages of the transactions block render, with data in them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from ocpp_router.datetimes import utcnow
from stations.models import ChargingStation
from transactions import services
from transactions.models import LocalAuthList, Reservation

pytestmark = pytest.mark.django_db

PAGES = [
    "idtoken",
    "transaction",
    "transactionevent",
    "metervalue",
    "reservation",
    "remotestart",
    "tariff",
    "localauthlist",
    "localauthlistentry",
]


def test_admin_changelists_and_change_pages_render(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    station = ChargingStation.objects.create(identity="ADM-1", protocol="1.6")
    outcome = services.transaction_start_16(
        station_pk=station.pk,
        connector_id=1,
        id_tag="T",
        meter_start=0,
        timestamp=utcnow(),
        reservation_id=None,
        payload={},
    )
    LocalAuthList.objects.create(station=station)
    for page in PAGES:
        assert client.get(f"/admin/transactions/{page}/").status_code == 200, page
    page = client.get(f"/admin/transactions/transaction/{outcome.transaction_pk}/change/")
    assert page.status_code == 200


def test_expire_reservations_command(capsys):
    station = ChargingStation.objects.create(identity="ADM-2")
    Reservation.objects.create(
        station=station,
        reservation_id=1,
        id_token_value="X",
        expiry=utcnow() - timedelta(minutes=1),
        status="Accepted",
    )
    call_command("expire_reservations")
    assert "1 reservation(s) expired" in capsys.readouterr().out
    assert Reservation.objects.get().status == "Expired"

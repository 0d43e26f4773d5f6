"""connector_status_update: one UPDATE for a known connector, stale statuses never win."""

from datetime import UTC, datetime, timedelta

import pytest

from stations.models import ChargingStation, Connector
from stations.services import connector_status_update

T0 = datetime(2026, 11, 25, 10, tzinfo=UTC)


def update(station, status, at, evse_id=1):
    return connector_status_update(
        station_pk=station.pk,
        identity=station.identity,
        evse_id=evse_id,
        connector_id=1,
        status=status,
        timestamp=at,
    )


@pytest.mark.django_db
def test_first_status_creates_evse_and_connector_then_newer_ones_update_it(
    django_assert_num_queries,
):
    station = ChargingStation.objects.create(identity="ST-1")
    assert update(station, "Available", T0)
    with django_assert_num_queries(1):
        assert update(station, "Occupied", T0 + timedelta(seconds=5))
    connector = Connector.objects.get(evse__station=station, evse__evse_id=1)
    assert (connector.status, connector.status_timestamp) == ("Occupied", T0 + timedelta(seconds=5))


@pytest.mark.django_db
def test_a_replayed_older_status_does_not_overwrite_the_newer_one():
    station = ChargingStation.objects.create(identity="ST-2")
    update(station, "Charging", T0 + timedelta(minutes=1))
    assert not update(station, "Available", T0)
    assert Connector.objects.get(evse__station=station).status == "Charging"


@pytest.mark.django_db
def test_connector_zero_is_the_station_itself():
    station = ChargingStation.objects.create(identity="ST-3")
    assert update(station, "Unavailable", T0, evse_id=0)
    station.refresh_from_db()
    assert station.status == "Unavailable"
    assert not Connector.objects.filter(evse__station=station).exists()

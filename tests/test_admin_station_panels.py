"""Panels other apps add to the station page: device model / configuration keys."""

from __future__ import annotations

from datetime import UTC, datetime

from django.urls import reverse

from devicemodel.models import Component, ConfigurationKey, Variable, VariableAttribute
from stations.models import ChargingStation

AT = datetime(2026, 11, 25, 10, tzinfo=UTC)


def station_page(client, station: ChargingStation) -> str:
    response = client.get(reverse("admin:stations_chargingstation_change", args=[station.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_16_station_page_lists_configuration_keys_linked_to_the_filtered_list(staff_client, db):
    station = ChargingStation.objects.create(identity="CFG16", protocol="1.6")
    key = ConfigurationKey.objects.create(
        station=station, key="HeartbeatInterval", value="300", updated=AT
    )
    ConfigurationKey.objects.create(
        station=station, key="NumberOfConnectors", value="2", readonly=True, updated=AT
    )
    page = station_page(staff_client, station)
    assert 'id="configuration-keys"' in page
    assert reverse("admin:devicemodel_configurationkey_change", args=[key.pk]) in page
    assert f"station__id__exact={station.pk}" in page and "All 2 configuration keys" in page
    filtered = staff_client.get(
        reverse("admin:devicemodel_configurationkey_changelist")
        + f"?station__id__exact={station.pk}"
    )
    assert filtered.status_code == 200 and "NumberOfConnectors" in filtered.content.decode()


def test_2x_station_page_summarises_the_device_model_with_links(staff_client, db):
    station = ChargingStation.objects.create(identity="DM201", protocol="2.0.1")
    component = Component.objects.create(station=station, name="OCPPCommCtrlr")
    variable = Variable.objects.create(component=component, name="HeartbeatInterval")
    VariableAttribute.objects.create(variable=variable, value="300", updated=AT)
    page = station_page(staff_client, station)
    assert "1 components, 1 variables, 1 attributes" in page
    for url in (
        reverse("admin:devicemodel_component_changelist") + f"?station__id__exact={station.pk}",
        reverse("admin:devicemodel_variable_changelist")
        + f"?component__station__id__exact={station.pk}",
        reverse("admin:devicemodel_variableattribute_changelist")
        + f"?variable__component__station__id__exact={station.pk}",
    ):
        assert url.replace("&", "&amp;") in page or url in page
        listing = staff_client.get(url)
        assert listing.status_code == 200, url
        assert "OCPPCommCtrlr" in listing.content.decode()


def test_station_without_device_data_says_what_to_send(staff_client, db):
    station = ChargingStation.objects.create(identity="NEW201", protocol="2.0.1")
    assert "No device model reported yet: send GetBaseReport." in station_page(
        staff_client, station
    )
    old = ChargingStation.objects.create(identity="NEW16", protocol="1.6")
    assert "send GetConfiguration" in station_page(staff_client, old)

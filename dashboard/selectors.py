"""Reads of the live dashboard."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from stations.selectors import station_list


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def dashboard_snapshot() -> list[dict[str, Any]]:
    """Every station with its connection and connector state, as the page renders it."""
    rows = []
    for station in station_list().order_by("identity"):
        connectors = [
            {
                "evse_id": evse.evse_id,
                "connector_id": connector.connector_id,
                "status": connector.status,
                "error_code": connector.error_code,
            }
            for evse in station.evses.all()
            for connector in evse.connectors.all()
        ]
        rows.append(
            {
                "identity": station.identity,
                "url": reverse("admin:stations_chargingstation_change", args=[station.pk]),
                "online": station.is_online,
                "protocol": station.protocol,
                "registration_status": station.registration_status,
                "status": station.status,
                "vendor": station.vendor,
                "model": station.model,
                "firmware_version": station.firmware_version,
                "last_heartbeat": _iso(station.last_heartbeat),
                "last_seen": _iso(station.last_seen),
                "connectors": connectors,
            }
        )
    return rows

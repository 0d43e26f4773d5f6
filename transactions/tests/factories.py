"""Shared test set-ups of the transactions block."""

from __future__ import annotations

from datetime import datetime

from transactions import services


def start_16(
    station, timestamp: datetime, meter_start: int = 1000, identity: str = ""
) -> services.EventOutcome:
    """A 1.6 StartTransaction on connector 1 with idTag TAG."""
    return services.transaction_start_16(
        station_pk=station.pk,
        connector_id=1,
        id_tag="TAG",
        meter_start=meter_start,
        timestamp=timestamp,
        reservation_id=None,
        payload={},
        identity=identity,
    )

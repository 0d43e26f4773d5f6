"""State changes of the integrations block: boots decided by an integrator, the delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction

from csms import events
from integrations.choices import DeliveryStatus
from integrations.models import EventDelivery
from stations.models import BootNotification, ChargingStation

# The history of one delivery keeps at most this many attempts.
MAX_HISTORY = 20


def _boot_fields(protocol: str, payload: dict[str, Any]) -> dict[str, str]:
    if protocol == "1.6":
        return {
            "vendor": payload["chargePointVendor"],
            "model": payload["chargePointModel"],
            "serial_number": payload.get("chargePointSerialNumber")
            or payload.get("chargeBoxSerialNumber", ""),
            "firmware_version": payload.get("firmwareVersion", ""),
        }
    station = payload["chargingStation"]
    return {
        "vendor": station["vendorName"],
        "model": station["model"],
        "serial_number": station.get("serialNumber", ""),
        "firmware_version": station.get("firmwareVersion", ""),
    }


def integrator_boot_record(
    *,
    station_pk: int,
    protocol: str,
    payload: dict[str, Any],
    status: str,
    interval: int,
    at: datetime,
) -> None:
    """Store a BootNotification that an integrator answered, with the integrator's decision."""
    fields = _boot_fields(protocol, payload)
    with transaction.atomic():
        station = ChargingStation.objects.select_for_update().get(pk=station_pk)
        for name, value in fields.items():
            setattr(station, name, value)
        station.registration_status = status
        station.last_boot_at = at
        station.last_seen = at
        station.save(
            update_fields=[*fields, "registration_status", "last_boot_at", "last_seen", "updated"]
        )
        BootNotification.objects.create(
            station=station,
            timestamp=at,
            protocol=protocol,
            reason=payload.get("reason", ""),
            status=status,
            interval=max(interval, 0),
            payload=payload,
            **fields,
        )
        events.publish(
            "station.booted",
            station.identity,
            status=status,
            vendor=fields["vendor"],
            model=fields["model"],
            firmware_version=fields["firmware_version"],
        )


def event_delivery_create(
    *, subscription_pk: int, event: str, station: str, payload: dict[str, Any]
) -> EventDelivery:
    return EventDelivery.objects.create(
        id=uuid.UUID(payload["id"]),
        subscription_id=subscription_pk,
        event=event,
        station=station[:48],
        payload=payload,
    )


def event_delivery_attempt_record(
    *,
    delivery_id: uuid.UUID,
    status_code: int | None,
    error: str,
    delivered: bool,
    final: bool,
    at: datetime,
) -> None:
    """Log one attempt; `final` marks the delivery failed when it was not delivered."""
    with transaction.atomic():
        delivery = EventDelivery.objects.select_for_update().get(pk=delivery_id)
        delivery.attempts += 1
        delivery.status_code = status_code
        delivery.error = error[:255]
        delivery.history = [
            *delivery.history[-(MAX_HISTORY - 1) :],
            {"at": at.isoformat(), "status_code": status_code, "error": error[:255]},
        ]
        if delivered:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = at
        elif final:
            delivery.status = DeliveryStatus.FAILED
        delivery.save(
            update_fields=["attempts", "status_code", "error", "history", "status", "delivered_at"]
        )

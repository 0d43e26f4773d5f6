"""State changes of the integrations block: boots decided by an integrator, the delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from csms import events, metrics
from csms.retry import Policy
from integrations.choices import DeliveryStatus
from integrations.models import EventDelivery
from ocpp_router.datetimes import utcnow
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


def event_deliveries_create(*, deliveries: list[tuple[int, dict[str, Any]]]) -> None:
    """Store deliveries (subscription pk, body) as pending, in one INSERT, before their first
    attempt; claimed by this process for CSMS_DELIVERY_LEASE seconds."""
    claimed = utcnow() + timedelta(seconds=settings.CSMS_DELIVERY_LEASE)
    EventDelivery.objects.bulk_create(
        [
            EventDelivery(
                id=uuid.UUID(body["id"]),
                subscription_id=subscription_pk,
                event=body["event"],
                station=(body["station"] or "")[:48],
                payload=body,
                next_attempt_at=claimed,
            )
            for subscription_pk, body in deliveries
        ],
        batch_size=500,
    )


def event_deliveries_claim(*, limit: int = 100) -> list[EventDelivery]:
    """Pending deliveries that are due, claimed for CSMS_DELIVERY_LEASE seconds (SKIP LOCKED:
    several processes claim different ones)."""
    now = utcnow()
    with transaction.atomic():
        due = EventDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).order_by("next_attempt_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        rows = list(due.select_related("subscription")[:limit])
        EventDelivery.objects.filter(pk__in=[row.pk for row in rows]).update(
            next_attempt_at=now + timedelta(seconds=settings.CSMS_DELIVERY_LEASE)
        )
    return rows


def event_delivery_attempt_record(
    *,
    delivery_id: uuid.UUID,
    status_code: int | None,
    error: str,
    policy: Policy,
    at: datetime,
) -> str:
    """Log one attempt: delivered, due again after the policy's back-off (plus the lease, for
    the retry job should this process stop), or failed when out of attempts. Its status."""
    with transaction.atomic():
        delivery = EventDelivery.objects.select_for_update().get(pk=delivery_id)
        delivery.attempts += 1
        delivery.status_code = status_code
        delivery.error = error[:255]
        delivery.history = [
            *delivery.history[-(MAX_HISTORY - 1) :],
            {"at": at.isoformat(), "status_code": status_code, "error": error[:255]},
        ]
        delay = None if not error else policy.next_delay(delivery.attempts)
        if not error:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = at
            delivery.next_attempt_at = None
        elif delay is None:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            metrics.WEBHOOK_FAILURES.labels("event", "true").inc()
        else:
            metrics.WEBHOOK_FAILURES.labels("event", "false").inc()
            delivery.next_attempt_at = at + timedelta(seconds=delay + settings.CSMS_DELIVERY_LEASE)
        delivery.save(
            update_fields=[
                "attempts",
                "status_code",
                "error",
                "history",
                "status",
                "delivered_at",
                "next_attempt_at",
            ]
        )
    return delivery.status

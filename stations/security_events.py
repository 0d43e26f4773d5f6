"""Security events: reported by stations (SecurityEventNotification) or seen by the CSMS
(refused handshakes, bad credentials, duplicate connections, expiring certificates)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Greatest, Least

from csms import events
from ocpp_router.datetimes import utcnow
from stations.choices import EventSource
from stations.models import ChargingStation, SecurityEvent


def security_event_record(
    *,
    type: str,
    source: str,
    station_pk: int | None = None,
    identity: str = "",
    timestamp: datetime | None = None,
    tech_info: str = "",
    severity: int | None = None,
    remote_address: str = "",
) -> SecurityEvent:
    """Store a security event (station-reported or CSMS-detected) and publish it.

    CSMS-detected events repeating within one window of CSMS_SECURITY_EVENT_WINDOW seconds
    for the same id and kind (a password guessed a thousand times) are counted in one row
    (`count`, `last_seen`), published once, when the row is created: one row and one
    webhook per window, not one per attempt. The row's unique (identity, type, window)
    keeps concurrent repeats in it."""
    at = timestamp or utcnow()
    window: int | None = None
    if source == EventSource.CSMS and settings.CSMS_SECURITY_EVENT_WINDOW > 0:
        window = int(at.timestamp()) // settings.CSMS_SECURITY_EVENT_WINDOW
    with transaction.atomic():
        if station_pk is not None and not identity:
            identity = ChargingStation.objects.values_list("identity", flat=True).get(pk=station_pk)
        row = {
            "station_id": station_pk,
            "identity": identity[:255],
            "source": source,
            "type": type[:50],
            "timestamp": at,
            "tech_info": tech_info[:255],
            "severity": severity,
            "remote_address": remote_address[:64],
            "last_seen": at,
            "window": window,
        }
        if window is not None:
            repeated = _security_event_repeat(identity[:255], type[:50], window, at, remote_address)
            if repeated is not None:
                return repeated
            try:
                with transaction.atomic():
                    event = SecurityEvent.objects.create(**row)
            except IntegrityError:
                # Another thread or process created the window's row meanwhile.
                repeated = _security_event_repeat(
                    identity[:255], type[:50], window, at, remote_address
                )
                assert repeated is not None
                return repeated
        else:
            event = SecurityEvent.objects.create(**row)
        events.publish(
            "security.event",
            identity,
            type=event.type,
            source=source,
            tech_info=event.tech_info,
            severity=severity,
        )
    return event


def _security_event_repeat(
    identity: str, type: str, window: int, at: datetime, remote_address: str
) -> SecurityEvent | None:
    """Count a repeat in the window's row; the row, or None if the window has none yet.
    Concurrent repeats arrive in any order: first and last seen only ever widen."""
    rows = SecurityEvent.objects.filter(identity=identity, type=type, window=window)
    when = Value(at, output_field=DateTimeField())
    counted = rows.update(
        count=F("count") + 1,
        timestamp=Least(F("timestamp"), when),
        last_seen=Greatest(F("last_seen"), when),
        remote_address=remote_address[:64],
    )
    if not counted:
        return None
    return rows.first()

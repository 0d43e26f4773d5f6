"""State changes of stations: connection, boot, heartbeat, connector status."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from csms import events
from ocpp_router import outbound
from ocpp_router.datetimes import utcnow
from stations.choices import RegistrationStatus
from stations.models import BootNotification, ChargingStation, Connector, Evse, SecurityEvent

logger = logging.getLogger(__name__)


class StationRefused(Exception):
    """The station may not connect; `status` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def station_admit(*, identity: str, allow_unknown: bool) -> ChargingStation:
    """The station record for a connecting `identity`, registering it if allowed."""
    station = ChargingStation.objects.filter(identity=identity).first()
    if station is None:
        if not allow_unknown:
            raise StationRefused(404, "unknown station and CSMS_ALLOW_UNKNOWN_STATIONS is off")
        station, created = ChargingStation.objects.get_or_create(identity=identity)
        if created:
            logger.info("Registered new station %s on its first connection", identity)
    if not station.enabled:
        raise StationRefused(403, "the station is disabled")
    return station


def station_connect(
    *,
    station_pk: int,
    protocol: str,
    remote_address: str,
    channel_name: str,
    account: str,
    at: datetime,
) -> None:
    fields = {
        "protocol": protocol,
        "is_online": True,
        "connected_since": at,
        "last_seen": at,
        "remote_address": remote_address[:64],
        "channel_name": channel_name,
        "updated": at,
    }
    if account:
        fields["account"] = account[:64]
    ChargingStation.objects.filter(pk=station_pk).update(**fields)
    identity = ChargingStation.objects.values_list("identity", flat=True).get(pk=station_pk)
    events.publish("station.connected", identity, protocol=protocol, remote_address=remote_address)


def station_disconnect(*, station_pk: int, channel_name: str, at: datetime) -> bool:
    """Mark the station offline unless a newer connection has taken over. True if marked."""
    marked = bool(
        ChargingStation.objects.filter(pk=station_pk, channel_name=channel_name).update(
            is_online=False, channel_name="", last_seen=at, updated=at
        )
    )
    if marked:
        identity = ChargingStation.objects.values_list("identity", flat=True).get(pk=station_pk)
        events.publish("station.disconnected", identity)
    return marked


def station_sweep_offline(*, live_channel_prefixes: list[str], connected_before: datetime) -> int:
    """Mark offline the stations marked online on a serving process that is gone.

    A station counts as held by a live process when its channel name starts with one of
    `live_channel_prefixes`; connections newer than `connected_before` are left alone (their
    process may not have announced itself yet). Returns how many stations were marked.
    """
    stale = ChargingStation.objects.filter(is_online=True, connected_since__lt=connected_before)
    for prefix in live_channel_prefixes:
        stale = stale.exclude(channel_name__startswith=prefix)
    with transaction.atomic():
        # Locked, so that a station reconnecting meanwhile waits and then stays online.
        rows = list(stale.select_for_update().values_list("pk", "identity"))
        now = utcnow()
        for start in range(0, len(rows), 1000):
            ChargingStation.objects.filter(
                pk__in=[pk for pk, _ in rows[start : start + 1000]]
            ).update(is_online=False, channel_name="", updated=now)
        marked = [identity for _, identity in rows]
        for identity in marked:
            events.publish("station.disconnected", identity, reason="node lost")
    if marked:
        logger.warning("Marked %d stations offline whose server process is gone", len(marked))
    return len(marked)


def station_seen(*, station_pk: int, at: datetime) -> None:
    ChargingStation.objects.filter(pk=station_pk).update(last_seen=at)


def station_heartbeat(*, station_pk: int, at: datetime) -> None:
    ChargingStation.objects.filter(pk=station_pk).update(last_seen=at, last_heartbeat=at)


@dataclass(frozen=True)
class BootDecision:
    status: str
    interval: int


def station_boot(
    *,
    station_pk: int,
    protocol: str,
    reason: str,
    vendor: str,
    model: str,
    serial_number: str = "",
    firmware_version: str = "",
    iccid: str = "",
    imsi: str = "",
    meter_type: str = "",
    meter_serial_number: str = "",
    payload: dict[str, Any],
    at: datetime,
) -> BootDecision:
    """Record a BootNotification and decide the answer."""
    decision = BootDecision(
        status=RegistrationStatus.ACCEPTED, interval=settings.CSMS_HEARTBEAT_INTERVAL
    )
    with transaction.atomic():
        station = ChargingStation.objects.select_for_update().get(pk=station_pk)
        station.vendor = vendor
        station.model = model
        station.serial_number = serial_number
        station.firmware_version = firmware_version
        station.iccid = iccid
        station.imsi = imsi
        station.meter_type = meter_type
        station.meter_serial_number = meter_serial_number
        station.registration_status = decision.status
        station.last_boot_at = at
        station.last_seen = at
        station.save(
            update_fields=[
                "vendor",
                "model",
                "serial_number",
                "firmware_version",
                "iccid",
                "imsi",
                "meter_type",
                "meter_serial_number",
                "registration_status",
                "last_boot_at",
                "last_seen",
                "updated",
            ]
        )
        BootNotification.objects.create(
            station=station,
            timestamp=at,
            protocol=protocol,
            reason=reason,
            vendor=vendor,
            model=model,
            serial_number=serial_number,
            firmware_version=firmware_version,
            status=decision.status,
            interval=decision.interval,
            payload=payload,
        )
        events.publish(
            "station.booted",
            station.identity,
            status=decision.status,
            vendor=vendor,
            model=model,
            firmware_version=firmware_version,
        )
    return decision


def connector_status_update(
    *,
    station_pk: int,
    evse_id: int,
    connector_id: int,
    status: str,
    timestamp: datetime | None,
    error_code: str = "",
    info: str = "",
    vendor_id: str = "",
    vendor_error_code: str = "",
) -> bool:
    """Record a connector's status; evse_id 0 is the station as a whole (1.6 connector 0).

    A status older than the one stored (stations replay queued notifications after an
    outage) does not overwrite the newer one. True if the stored status changed.
    """
    with transaction.atomic():
        station = ChargingStation.objects.only("identity").get(pk=station_pk)
        if evse_id == 0:
            ChargingStation.objects.filter(pk=station_pk).update(
                status=status, error_code=error_code
            )
        elif not _connector_status_store(
            station=station,
            evse_id=evse_id,
            connector_id=connector_id,
            status=status,
            timestamp=timestamp,
            error_code=error_code,
            info=info,
            vendor_id=vendor_id,
            vendor_error_code=vendor_error_code,
        ):
            return False
        events.publish(
            "station.status_changed",
            station.identity,
            evse_id=evse_id,
            connector_id=connector_id,
            status=status,
            error_code=error_code,
        )
    return True


def _connector_status_store(
    *,
    station: ChargingStation,
    evse_id: int,
    connector_id: int,
    status: str,
    timestamp: datetime | None,
    error_code: str,
    info: str,
    vendor_id: str,
    vendor_error_code: str,
) -> bool:
    evse, _ = Evse.objects.get_or_create(station=station, evse_id=evse_id)
    values = {
        "status": status,
        "error_code": error_code,
        "info": info,
        "vendor_id": vendor_id,
        "vendor_error_code": vendor_error_code,
        "status_timestamp": timestamp or utcnow(),
    }
    connector, created = Connector.objects.select_for_update().get_or_create(
        evse=evse, connector_id=connector_id, defaults=values
    )
    if created:
        return True
    if timestamp and connector.status_timestamp and timestamp < connector.status_timestamp:
        logger.info(
            "Ignored stale status %s of %s (%s is older than %s)",
            status,
            connector,
            timestamp,
            connector.status_timestamp,
        )
        return False
    for name, value in values.items():
        setattr(connector, name, value)
    connector.save(update_fields=[*values, "updated"])
    return True


class StationNotConnected(Exception):
    """The station is unknown or has no live connection."""


def _channel_of(identity: str) -> str:
    row = ChargingStation.objects.filter(identity=identity).values("is_online", "channel_name")
    station = row.first()
    if station is None:
        raise StationNotConnected(f"Unknown station {identity!r}")
    if not station["is_online"] or not station["channel_name"]:
        raise StationNotConnected(f"Station {identity!r} is not connected")
    return station["channel_name"]


def station_call(
    *, identity: str, action: str, payload: dict[str, Any], timeout: float | None = None
) -> outbound.Outcome:
    """Send a CSMS-initiated OCPP call to a connected station and wait for its answer.

    Works from any process sharing the channel layer. Raises StationNotConnected when no
    live connection takes the call.
    """
    channel_name = _channel_of(identity)
    try:
        return outbound.call_sync(channel_name, action, payload, timeout=timeout)
    except outbound.StationOffline as exc:
        raise StationNotConnected(f"Station {identity!r} is not connected: {exc}") from None


async def station_call_async(
    *, identity: str, action: str, payload: dict[str, Any], timeout: float | None = None
) -> outbound.Outcome:
    """`station_call` for async code."""
    from asgiref.sync import sync_to_async

    channel_name = await sync_to_async(_channel_of, thread_sensitive=False)(identity)
    try:
        return await outbound.call(channel_name, action, payload, timeout=timeout)
    except outbound.StationOffline as exc:
        raise StationNotConnected(f"Station {identity!r} is not connected: {exc}") from None


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
    """Store a security event (station-reported or CSMS-detected) and publish it."""
    with transaction.atomic():
        if station_pk is not None and not identity:
            identity = ChargingStation.objects.values_list("identity", flat=True).get(pk=station_pk)
        event = SecurityEvent.objects.create(
            station_id=station_pk,
            identity=identity[:255],
            source=source,
            type=type[:50],
            timestamp=timestamp or utcnow(),
            tech_info=tech_info[:255],
            severity=severity,
            remote_address=remote_address[:64],
        )
        events.publish(
            "security.event",
            identity,
            type=event.type,
            source=source,
            tech_info=event.tech_info,
            severity=severity,
        )
    return event

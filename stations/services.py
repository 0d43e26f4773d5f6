"""State changes of stations: connection, boot, heartbeat, connector status. What a
connection must prove and what a boot is answered: `rules`; the hand-tuned statements of
the message path: `store`."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from csms import events
from ocpp_router import outbound
from ocpp_router.datetimes import utcnow
from stations import liveness, rules, store
from stations.choices import RegistrationStatus
from stations.models import BootNotification, ChargingStation, Connector, Evse

logger = logging.getLogger(__name__)


class StationRefused(Exception):
    """The station may not connect; `status` is the HTTP status to answer, `event_type` the
    security event to record (empty: none), `station` the record when the id is known."""

    def __init__(
        self,
        status: int,
        reason: str,
        event_type: str = "",
        station: ChargingStation | None = None,
    ):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.event_type = event_type
        self.station = station


# Unknown and disabled ids get the same 401 as bad credentials, so that ids cannot be
# enumerated (the real reason goes to the log and the security events).
REFUSED = 401


def station_admit(
    *, identity: str, allow_unknown: bool, security: rules.ConnectionSecurity | None = None
) -> ChargingStation:
    """The station record for a connecting `identity`, once it has proved its security
    profile; registers an unknown station (at profile 0) if allowed. Raises StationRefused."""
    security = security or rules.ConnectionSecurity()
    station = store.station_by_identity(identity)
    if station is None:
        if not allow_unknown:
            raise StationRefused(
                REFUSED, "unknown station and CSMS_ALLOW_UNKNOWN_STATIONS is off", "UnknownStation"
            )
        station, created = ChargingStation.objects.get_or_create(identity=identity)
        if created:
            logger.info("Registered new station %s on its first connection", identity)
    if not station.enabled:
        raise StationRefused(REFUSED, "the station is disabled", "StationDisabled", station)
    pending = station.security_profile_pending
    if pending is not None and pending > station.security_profile:
        if not rules.profile_problem(station, security, profile=pending)[0]:
            return _security_profile_raise(station, pending)
    problem, event_type = rules.profile_problem(station, security)
    if problem:
        raise StationRefused(REFUSED, problem, event_type, station)
    return station


def _security_profile_raise(station: ChargingStation, profile: int) -> ChargingStation:
    """OCPP 2.0.1 A05.FR.04-05: the station came back meeting the profile it accepted in
    SetNetworkProfile; that profile is now the least it may connect with."""
    with transaction.atomic():
        locked = ChargingStation.objects.select_for_update().get(pk=station.pk)
        if (locked.security_profile_pending or 0) > locked.security_profile:
            previous = locked.security_profile
            locked.security_profile = profile
            locked.security_profile_pending = None
            locked.save(update_fields=["security_profile", "security_profile_pending", "updated"])
            logger.info(
                "Station %s connected on security profile %s as its new network profile "
                "asked: raised from %s, connections below it are refused from now on",
                station.identity,
                profile,
                previous,
            )
    station.security_profile = profile
    station.security_profile_pending = None
    return station


def security_profile_pending_set(*, station_pk: int, profile: int) -> None:
    """The station accepted a network profile with `profile` (B09): raise on its reconnect."""
    with transaction.atomic():
        station = ChargingStation.objects.select_for_update().get(pk=station_pk)
        if profile > station.security_profile:
            station.security_profile_pending = profile
            station.save(update_fields=["security_profile_pending", "updated"])
            logger.info(
                "Station %s accepted a network profile with security profile %s; its stored "
                "profile %s is raised once it connects that way",
                station.identity,
                profile,
                station.security_profile,
            )


class SecurityProfileLowered(ValueError):
    """A network profile below the station's security profile (A05: never lowered)."""


def network_profile_check(*, station_pk: int, payload: dict[str, Any]) -> None:
    """Refuse a SetNetworkProfile that would lower the station's security profile.

    OCPP 2.0.1 A05.FR.02/B09: a station SHALL reject a lower profile; the CSMS does not ask.
    """
    profile = int((payload.get("connectionData") or {}).get("securityProfile", 0))
    current = ChargingStation.objects.values_list("security_profile", flat=True).get(pk=station_pk)
    if profile < current:
        raise SecurityProfileLowered(
            f"the network profile has security profile {profile}, below the station's "
            f"{current}: security profiles are never lowered (OCPP A05); use {current} or higher"
        )


def station_connect(
    *,
    station_pk: int,
    identity: str,
    protocol: str,
    remote_address: str,
    channel_name: str,
    account: str,
    at: datetime,
    expected: str = "",
) -> bool:
    """Mark the station online on `channel_name` if the connection holding it is still
    `expected` ('' for none): the one atomic step that admits one connection per id, across
    processes. True if claimed; False when another connection took the station meanwhile."""
    claimed = store.station_connect(
        station_pk=station_pk,
        protocol=protocol,
        remote_address=remote_address,
        channel_name=channel_name,
        account=account,
        at=at,
        expected=expected,
    )
    if claimed:
        events.publish(
            "station.connected", identity, protocol=protocol, remote_address=remote_address
        )
    return claimed


def station_holder(*, station_pk: int) -> str:
    """The channel of the connection that holds the station now ('' for none)."""
    return store.station_holder(station_pk)


def station_disconnect(*, station_pk: int, identity: str, channel_name: str, at: datetime) -> bool:
    """Mark the station offline unless a newer connection has taken over. True if marked.

    An OCPP-S station is "disconnected" when its ChargePointService cannot be reached: its
    address is kept, so that its next request brings it back online at the same address."""
    soap = channel_name.startswith(outbound.SOAP_CHANNEL_PREFIX)
    marked = store.station_disconnect(
        station_pk=station_pk, channel_name=channel_name, at=at, keep_channel=soap
    )
    if marked:
        if soap:
            events.publish(
                "station.disconnected", identity, reason="OCPP-S ChargePointService unreachable"
            )
        else:
            events.publish("station.disconnected", identity)
    return marked


def station_sweep_offline(*, live_channel_prefixes: list[str], connected_before: datetime) -> int:
    """Mark offline the stations marked online on a serving process that is gone.

    A station counts as held by a live process when its channel name starts with one of
    `live_channel_prefixes`; connections newer than `connected_before` are left alone (their
    process may not have announced itself yet). Returns how many stations were marked.
    """
    stale = ChargingStation.objects.filter(is_online=True, connected_since__lt=connected_before)
    # OCPP-S stations hold no connection on any process: they are offline once silent.
    stale = stale.exclude(channel_name__startswith=outbound.SOAP_CHANNEL_PREFIX)
    for prefix in live_channel_prefixes:
        stale = stale.exclude(channel_name__startswith=prefix)
    station_soap_sweep_offline(at=utcnow())
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


def station_soap_sweep_offline(*, at: datetime) -> int:
    """Mark offline the OCPP-S stations silent for CSMS_SOAP_OFFLINE_AFTER seconds. Their
    channel name (their ChargePointService address) is kept: the next request brings them
    back online."""
    quiet = ChargingStation.objects.filter(
        is_online=True,
        channel_name__startswith=outbound.SOAP_CHANNEL_PREFIX,
        last_seen__lt=at - timedelta(seconds=settings.CSMS_SOAP_OFFLINE_AFTER),
    )
    identities = list(quiet.values_list("identity", flat=True))
    if identities:
        ChargingStation.objects.filter(identity__in=identities, is_online=True).update(
            is_online=False, updated=at
        )
        for identity in identities:
            events.publish("station.disconnected", identity, reason="OCPP-S station silent")
    return len(identities)


def station_seen(*, station_pk: int, at: datetime) -> None:
    """The station sent something at `at` (written in batches: stations.liveness)."""
    liveness.BUFFER.note(station_pk, at)


def station_heartbeat(*, station_pk: int, at: datetime) -> None:
    """A Heartbeat at `at`. Runs on the event loop: it only notes the time for the batch."""
    liveness.BUFFER.note(station_pk, at, heartbeat=True)


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
) -> rules.BootDecision:
    """Record a BootNotification (the boot history keeps every one) and decide the answer
    from the station's boot configuration (OCPP 2.0.1 B01-B03, 1.6 section 4.2)."""
    with transaction.atomic():
        station = ChargingStation.objects.select_for_update().get(pk=station_pk)
        decision = rules.boot_decision(station)
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


def station_inventory_received(*, station_pk: int, at: datetime) -> None:
    """The Pending station accepted our inventory request: its next boot is Accepted, unless
    the operator has since set another status."""
    with transaction.atomic():
        station = ChargingStation.objects.select_for_update().get(pk=station_pk)
        station.base_report_at = at
        fields = ["base_report_at", "updated"]
        if (station.boot_status or settings.CSMS_BOOT_STATUS) == RegistrationStatus.PENDING:
            station.boot_status = RegistrationStatus.ACCEPTED
            fields.append("boot_status")
        station.save(update_fields=fields)
    logger.info("Station %s sent its inventory; its next boot is Accepted", station.identity)


def connector_status_update(
    *,
    station_pk: int,
    identity: str,
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
    values = {
        "status": status,
        "error_code": error_code,
        "info": info,
        "vendor_id": vendor_id,
        "vendor_error_code": vendor_error_code,
        "status_timestamp": timestamp or utcnow(),
        "updated": utcnow(),
    }
    if evse_id == 0:
        ChargingStation.objects.filter(pk=station_pk).update(status=status, error_code=error_code)
    else:
        # The common case, a known connector and a newer status, is one conditional UPDATE.
        key = {"station_pk": station_pk, "evse_id": evse_id, "connector_id": connector_id}
        stored = store.connector_status(**key, values=values) or _connector_status_create(
            **key, values=values
        )
        # Created by a concurrent first status meanwhile: ours may still be the newer one.
        if not stored and not store.connector_status(**key, values=values):
            logger.info(
                "Ignored stale status %s of station %s EVSE %s connector %s (%s)",
                status,
                identity,
                evse_id,
                connector_id,
                values["status_timestamp"],
            )
            return False
    events.publish(
        "station.status_changed",
        identity,
        evse_id=evse_id,
        connector_id=connector_id,
        status=status,
        error_code=error_code,
    )
    return True


def _connector_status_create(
    *, station_pk: int, evse_id: int, connector_id: int, values: dict[str, Any]
) -> bool:
    """Create the connector (and its EVSE) on its first status; False if it exists already,
    which means the status was stale."""
    with transaction.atomic():
        evse, _ = Evse.objects.get_or_create(station_id=station_pk, evse_id=evse_id)
        _, created = Connector.objects.get_or_create(
            evse=evse, connector_id=connector_id, defaults=values
        )
    return created


class StationNotConnected(Exception):
    """The station is unknown or has no live connection."""

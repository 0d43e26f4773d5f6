"""Reservations (1.6 ReserveNow/CancelReservation, 2.x ReserveNow, CancelReservation and
ReservationStatusUpdate, H01-H04): the records the CSMS keeps of them and the calls."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction

from commands.services import StationNotConnected, command_sender
from ocpp_router.datetimes import from_ocpp, to_ocpp, utcnow
from ocpp_router.outbound import Outcome
from ocpp_router.rpc import V16
from stations.models import ChargingStation
from transactions import rules
from transactions.choices import RESERVATION_OPEN, Anomaly, IdTokenType, ReservationStatus
from transactions.models import Reservation, Transaction

# Every call this module sends is recorded as a Command sent by "transactions".
station_call = command_sender("transactions")

logger = logging.getLogger(__name__)


def reservation_reserve(
    *,
    identity: str,
    id_token_value: str,
    expiry: datetime,
    id_token_type: str = IdTokenType.ISO14443,
    evse_id: int | None = None,
    connector_type: str = "",
    group_id_token_value: str = "",
    timeout: float | None = None,
) -> tuple[Outcome, Reservation]:
    """Reserve an EVSE (1.6 connector; none or 0: any) with ReserveNow."""
    station = ChargingStation.objects.get(identity=identity)
    with transaction.atomic():
        reservation = Reservation.objects.create(
            station=station,
            reservation_id=0,
            evse_id=evse_id,
            connector_type=connector_type,
            id_token_value=id_token_value,
            id_token_type="" if station.protocol == V16 else id_token_type,
            group_id_token_value=group_id_token_value,
            expiry=expiry,
        )
        reservation.reservation_id = reservation.pk
        reservation.save(update_fields=["reservation_id"])
    if station.protocol == V16:
        payload: dict[str, Any] = {
            "connectorId": evse_id or 0,
            "expiryDate": to_ocpp(expiry),
            "idTag": id_token_value,
            "reservationId": reservation.reservation_id,
        }
        if group_id_token_value:
            payload["parentIdTag"] = group_id_token_value
    else:
        payload = {
            "id": reservation.reservation_id,
            "expiryDateTime": to_ocpp(expiry),
            "idToken": {"idToken": id_token_value, "type": id_token_type},
        }
        if evse_id:
            payload["evseId"] = evse_id
        if connector_type:
            payload["connectorType"] = connector_type
        if group_id_token_value:
            payload["groupIdToken"] = {"idToken": group_id_token_value, "type": "Central"}
    try:
        outcome = station_call(
            identity=identity, action="ReserveNow", payload=payload, timeout=timeout
        )
    except StationNotConnected:
        Reservation.objects.filter(pk=reservation.pk).update(status=ReservationStatus.ERROR)
        raise
    if not outcome.ok:
        Reservation.objects.filter(pk=reservation.pk, status=ReservationStatus.PENDING).update(
            status=ReservationStatus.ERROR
        )
    reservation.refresh_from_db()
    return outcome, reservation


def reservation_record_answer(
    *, station_pk: int, version: str, request: dict[str, Any], status: str
) -> None:
    """Record a station's ReserveNow answer, whoever sent the request."""
    if version == V16:
        reservation_id, expiry = request["reservationId"], request["expiryDate"]
        token, token_type, evse_id = request["idTag"], "", request["connectorId"]
    else:
        reservation_id, expiry = request["id"], request["expiryDateTime"]
        token, token_type = request["idToken"]["idToken"], request["idToken"]["type"]
        evse_id = request.get("evseId")
    Reservation.objects.update_or_create(
        station_id=station_pk,
        reservation_id=reservation_id,
        defaults={"status": status},
        create_defaults={
            "status": status,
            "expiry": from_ocpp(expiry) or utcnow(),
            "id_token_value": token,
            "id_token_type": token_type,
            "evse_id": evse_id,
        },
    )


def reservation_cancel(*, reservation_pk: int, timeout: float | None = None) -> Outcome:
    reservation = Reservation.objects.select_related("station").get(pk=reservation_pk)
    return station_call(
        identity=reservation.station.identity,
        action="CancelReservation",
        payload={"reservationId": reservation.reservation_id},
        timeout=timeout,
    )


def reservation_record_cancel(*, station_pk: int, reservation_id: int, status: str) -> None:
    if status == "Accepted":
        Reservation.objects.filter(
            station_id=station_pk, reservation_id=reservation_id, status__in=RESERVATION_OPEN
        ).update(status=ReservationStatus.CANCELLED, updated=utcnow())


def reservation_status_update(*, station_pk: int, reservation_id: int, status: str) -> bool:
    """2.x ReservationStatusUpdate: the station expired or removed a reservation."""
    with transaction.atomic():
        reservation = (
            Reservation.objects.select_for_update()
            .filter(station_id=station_pk, reservation_id=reservation_id)
            .first()
        )
        if reservation is None:
            logger.warning(
                "ReservationStatusUpdate for unknown reservation %s from station %s",
                reservation_id,
                station_pk,
            )
            return False
        if reservation.status == ReservationStatus.USED:
            return False
        reservation.status = status
        reservation.save(update_fields=["status", "updated"])
    return True


def reservation_expire_overdue(*, at: datetime | None = None) -> int:
    """Mark open reservations past their expiry as Expired; how many there were."""
    return Reservation.objects.filter(
        status__in=RESERVATION_OPEN, expiry__lte=at or utcnow()
    ).update(status=ReservationStatus.EXPIRED, updated=utcnow())


def reservation_link(tx: Transaction, reservation_id: int | None) -> None:
    """Link the reservation a new message names (locked after the transaction, as every
    transaction message locks) and mark it Used."""
    if reservation_id is None or tx.reservation_id is not None:
        return
    reservation = (
        Reservation.objects.select_for_update()
        .filter(station_id=tx.station_id, reservation_id=reservation_id)
        .first()
    )
    if reservation is None:
        rules.add_anomaly(tx, Anomaly.UNKNOWN_RESERVATION)
        return
    tx.reservation = reservation
    # OCPP 2.1 TariffType reservationTime: priced from when the reservation began.
    tx.reserved_at = reservation.created
    rules.refresh_cost(tx, at=tx.last_event_at or reservation.updated)
    reservation.status = ReservationStatus.USED
    reservation.save(update_fields=["status", "updated"])

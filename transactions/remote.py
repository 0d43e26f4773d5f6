"""Remote start and stop (1.6 RemoteStart/RemoteStopTransaction, 2.x Request{Start,Stop}
Transaction, F01-F03) and GetTransactionStatus (E14): the records the CSMS keeps of them
and the calls."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from commands.services import StationNotConnected, command_sender
from ocpp_router.outbound import Outcome
from ocpp_router.rpc import V16
from stations.models import ChargingStation
from transactions import store
from transactions.choices import IdTokenType, RequestStatus
from transactions.models import RemoteStart, Transaction

# Every call this module sends is recorded as a Command sent by "transactions".
station_call = command_sender("transactions")


def transaction_remote_start(
    *,
    identity: str,
    id_token_value: str,
    id_token_type: str = IdTokenType.ISO14443,
    evse_id: int | None = None,
    timeout: float | None = None,
) -> tuple[Outcome, RemoteStart]:
    """Ask a station to start a transaction (1.6 RemoteStartTransaction, 2.x
    RequestStartTransaction). The transaction it starts is linked to the returned record:
    2.x by remoteStartId, 1.6 by idTag (and connector)."""
    station = ChargingStation.objects.get(identity=identity)
    remote = RemoteStart.objects.create(
        station=station,
        id_token_value=id_token_value,
        id_token_type="" if station.protocol == V16 else id_token_type,
        evse_id=evse_id,
    )
    if station.protocol == V16:
        action = "RemoteStartTransaction"
        payload: dict[str, Any] = {"idTag": id_token_value}
        if evse_id:
            payload["connectorId"] = evse_id
    else:
        action = "RequestStartTransaction"
        remote.remote_start_id = remote.pk
        remote.save(update_fields=["remote_start_id"])
        payload = {
            "remoteStartId": remote.remote_start_id,
            "idToken": {"idToken": id_token_value, "type": id_token_type},
        }
        if evse_id:
            payload["evseId"] = evse_id
    try:
        outcome = station_call(identity=identity, action=action, payload=payload, timeout=timeout)
    except StationNotConnected:
        RemoteStart.objects.filter(pk=remote.pk).update(status=RequestStatus.ERROR)
        raise
    if not outcome.ok:
        RemoteStart.objects.filter(pk=remote.pk).update(status=RequestStatus.ERROR)
    remote.refresh_from_db()
    return outcome, remote


def remote_start_record_answer(
    *, station_pk: int, version: str, request: dict[str, Any], status: str
) -> None:
    """Record a station's answer to a remote start, whoever sent it."""
    with transaction.atomic():
        if version == V16:
            remote = (
                RemoteStart.objects.select_for_update()
                .filter(
                    station_id=station_pk,
                    id_token_value=request["idTag"],
                    status=RequestStatus.PENDING,
                )
                .order_by("-created")
                .first()
            )
            if remote is None:
                RemoteStart.objects.create(
                    station_id=station_pk,
                    id_token_value=request["idTag"],
                    evse_id=request.get("connectorId"),
                    status=status,
                )
                return
            remote.status = status
            remote.save(update_fields=["status"])
            return
        RemoteStart.objects.update_or_create(
            station_id=station_pk,
            remote_start_id=request["remoteStartId"],
            defaults={"status": status},
            create_defaults={
                "status": status,
                "id_token_value": request["idToken"]["idToken"],
                "id_token_type": request["idToken"]["type"],
                "evse_id": request.get("evseId"),
            },
        )


def transaction_remote_stop(*, transaction_pk: int, timeout: float | None = None) -> Outcome:
    """Ask the station to stop a transaction (1.6 RemoteStopTransaction, 2.x
    RequestStopTransaction); the station's StopTransaction/Ended records the stop."""
    tx = Transaction.objects.select_related("station").get(pk=transaction_pk)
    if tx.ocpp_version == V16:
        action, payload = "RemoteStopTransaction", {"transactionId": int(tx.transaction_id)}
    else:
        action, payload = "RequestStopTransaction", {"transactionId": tx.transaction_id}
    return station_call(
        identity=tx.station.identity, action=action, payload=payload, timeout=timeout
    )


def transaction_status_request(
    *, identity: str, transaction_id: str | None = None, timeout: float | None = None
) -> Outcome:
    """2.x GetTransactionStatus: is the transaction ongoing, are messages still queued."""
    payload = {"transactionId": transaction_id} if transaction_id else {}
    return station_call(
        identity=identity, action="GetTransactionStatus", payload=payload, timeout=timeout
    )


def remote_start_link_16(tx: Transaction, *, at: datetime) -> None:
    """1.6 carries no remote start id: the latest open remote start for the same idTag (and
    connector, if it named one) within CSMS_REMOTE_START_TIMEOUT, not yet used by another
    transaction, is the one this answers (locked)."""
    window = at - timedelta(seconds=settings.CSMS_REMOTE_START_TIMEOUT)
    pk = store.remote_start_16(
        station_pk=tx.station_id, id_tag=tx.id_token_value, evse_id=tx.evse_id, since=window
    )
    if pk is not None:
        tx.remote_start_request_id = pk

"""State changes of the transactions block: transactions, meter values, reservations and
remote start/stop. Id-token decisions and local lists: `authorization`; what a message does
to a transaction: `rules`; how it is stored: `store`.

Exactly-once: a transaction message delivered twice (a retry, a replay after a reconnect)
changes nothing the second time and gets the answer the first delivery got. Messages are
deduplicated on business keys, never on the OCPP message id (stations reuse ids):
2.x station + transactionId + seqNo; 1.6 StartTransaction station + connector + idTag +
timestamp + meterStart, StopTransaction station + transactionId, MeterValues station +
connector + transactionId + values. Unique constraints back every key, and the transaction
row is locked (select_for_update) while one of its messages is applied, so two concurrent
deliveries cannot both insert. Messages out of order, an Ended without Started, gaps in seqNo
and 1.6 transactionId -1 are stored and flagged in `anomalies`, never dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from commands.services import command_sender
from csms import events
from ocpp_router.datetimes import from_ocpp, to_ocpp, utcnow
from ocpp_router.rpc import V16
from transactions import answers, authorization, ending, remote, reservations, rules, store
from transactions.choices import (
    Anomaly,
    EventKind,
)
from transactions.models import RemoteStart, Transaction, TransactionEvent

# Every call this module sends is recorded as a Command sent by "transactions".
station_call = command_sender("transactions")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventOutcome:
    """What a transaction message did: the answer to give and a CostUpdated to send."""

    answer: dict[str, Any]
    duplicate: bool
    transaction_pk: int | None
    cost_update: dict[str, Any] | None = None


def _publish(kind: str, tx: Transaction, identity: str, **extra: Any) -> None:
    identity = identity or store.station_identity(tx.station_id)
    events.publish(kind, identity, **rules.event_data(tx, **extra))


# --- transactions: 2.0.1 / 2.1 --------------------------------------------------------------

_EVENT_KINDS: dict[str, str] = {
    EventKind.STARTED: "transaction.started",
    EventKind.UPDATED: "transaction.updated",
    EventKind.ENDED: "transaction.ended",
}


def transaction_event_record(
    *,
    station_pk: int,
    version: str,
    payload: dict[str, Any],
    at: datetime | None = None,
    identity: str = "",
) -> EventOutcome:
    """Apply a 2.0.1/2.1 TransactionEventRequest (OCPP 2.0.1 E01-E15, `rules.transaction_event`)
    exactly once. `identity`: the station's, where the caller knows it (else it is read)."""
    at = at or utcnow()
    transaction_id = payload["transactionInfo"]["transactionId"]
    timestamp = from_ocpp(payload["timestamp"]) or at
    event_type = payload["eventType"]
    reservation_id = payload.get("reservationId")
    cost_updates: list[dict[str, Any] | None] = []

    def change(tx: Transaction | None, created: bool) -> store.Write:
        assert tx is not None  # a transaction is created where none is found
        id_token = payload.get("idToken")
        token = None
        if id_token is not None:
            token = authorization.token_decision(
                value=id_token["idToken"],
                type=id_token["type"],
                version=tx.ocpp_version,
                exclude_transaction_pk=tx.pk,
                at=timestamp,
            )
        remote_start = None
        if (remote_start_id := rules.needs_remote_start(tx, payload)) is not None:
            remote_start = RemoteStart.objects.filter(
                station_id=tx.station_id, remote_start_id=remote_start_id
            ).first()
        applied = rules.transaction_event(
            tx,
            created=created,
            payload=payload,
            timestamp=timestamp,
            at=at,
            token=token,
            remote_start=remote_start,
            tariff=(
                store.tariff_for(tx.station_id, (payload.get("evse") or {}).get("id"))
                if created
                else None
            ),
            cost_update_interval=settings.CSMS_COST_UPDATE_INTERVAL,
        )
        applied.event.transaction = tx
        cost_updates[:] = [applied.cost_update]
        # With a reservation, the transaction is saved once the reservation is linked.
        return store.Write(applied.event, applied.rows, save_transaction=reservation_id is None)

    def then(stored: store.Stored) -> EventOutcome:
        tx, event = stored.transaction, stored.write.event
        assert tx is not None
        if stored.duplicate:
            existing = (
                TransactionEvent.objects.filter(transaction=tx, seq_no=event.seq_no)
                .only("answer")
                .first()
            )
            logger.info(
                "Duplicate TransactionEvent %s seqNo %s from station %s: answered again",
                tx.transaction_id,
                event.seq_no,
                tx.station_id,
            )
            answer = existing.answer if existing and existing.answer else {}
            return EventOutcome(answer, True, tx.pk)
        if reservation_id is not None:
            reservations.reservation_link(tx, reservation_id)
            store.save(tx, stored.loaded)
        _publish(
            _EVENT_KINDS[event.kind],
            tx,
            stored.identity,
            seq_no=event.seq_no,
            trigger_reason=event.trigger_reason,
            meter_values=len(stored.write.rows),
        )
        if stored.created:
            ending.supersede_older(tx, at=at)
        return EventOutcome(event.answer, False, tx.pk, cost_updates[0])

    return store.apply(
        store.by_id(station_pk, transaction_id),
        change,
        then,
        identity=identity,
        # The most frequent event (it carries the session's meter values), as a 1.6
        # MeterValues: stored guarded, without a lock, if its transaction is as read.
        guarded_first=event_type == EventKind.UPDATED and reservation_id is None,
        create=lambda: Transaction(
            station_id=station_pk,
            transaction_id=transaction_id,
            ocpp_version=version,
            started_at=timestamp,
            is_active=True,
        ),
        # A Started usually begins a transaction we have not seen: insert it first.
        create_first=event_type == EventKind.STARTED,
    )


# --- transactions: 1.6 ----------------------------------------------------------------------

# What a 1.6 StartTransaction sets on its transaction once it is inserted.
_START_16_LINKS = ("transaction_id", "reservation", "remote_start_request", "anomalies")


def transaction_start_16(
    *,
    station_pk: int,
    connector_id: int,
    id_tag: str,
    meter_start: int,
    timestamp: datetime,
    reservation_id: int | None,
    payload: dict[str, Any],
    at: datetime | None = None,
    identity: str = "",
) -> EventOutcome:
    """Apply a 1.6 StartTransaction exactly once; a repeat gets the same transactionId.

    The start's business key (the transaction's and its event's dedup_key) decides in the
    INSERT whether it is new. A Stop or MeterValues for the transaction cannot have come
    first: the station learns the id from our answer (readings sent with -1 stay unlinked).
    """
    at = at or utcnow()
    key = f"start:{connector_id}:{id_tag}:{to_ocpp(timestamp)}:{meter_start}"
    token: list[answers.TokenInfo] = []  # the id tag's decision, made once

    def create() -> Transaction:
        tx = Transaction(
            station_id=station_pk,
            dedup_key=key,
            ocpp_version=V16,
            # Replaced by the primary key: 1.6 transaction ids are integers.
            transaction_id=f"new-{uuid.uuid4().hex}",
            evse_id=connector_id,
            connector_id=1 if connector_id else 0,
            id_token_value=id_tag,
            started_at=timestamp,
            meter_start=Decimal(meter_start),
            last_event_at=timestamp,
            event_count=1,
        )
        token_info, tx.id_token_id = authorization.token_decision(
            value=id_tag, type="", version=V16, exclude_transaction_pk=None, at=at
        )
        tx.auth_status = answers.status_for_version(token_info.status, V16)
        token[:] = [token_info]
        rules.refresh_cost(tx, at=at, tariff=store.tariff_for(station_pk, connector_id))
        return tx

    def change(tx: Transaction | None, created: bool) -> store.Write:
        assert tx is not None  # a transaction is created where none is found
        answer: dict[str, Any] = {}
        if created:
            tx.transaction_id = str(tx.pk)
            # What the start links is locked after the transaction, as every message locks.
            reservations.reservation_link(tx, reservation_id)
            remote.remote_start_link_16(tx, at=at)
            answer = {"transactionId": tx.pk, "idTagInfo": answers.id_tag_info(token[0])}
        event = TransactionEvent(
            station_id=station_pk,
            transaction=tx,
            kind=EventKind.START_16,
            dedup_key=key,
            timestamp=timestamp,
            payload=payload,
            answer=answer,
            received_at=at,
        )
        return store.Write(
            event,
            [],
            fields=_START_16_LINKS,
            keep_as=store.by_id_16(station_pk, V16, tx.transaction_id),
        )

    def then(stored: store.Stored) -> EventOutcome:
        tx = stored.transaction
        assert tx is not None
        if stored.duplicate:
            start = tx.events.filter(kind=EventKind.START_16).only("answer").first()
            logger.info(
                "Duplicate StartTransaction from station %s: transaction %s answered again",
                station_pk,
                tx.transaction_id,
            )
            return EventOutcome(start.answer if start else {}, True, tx.pk)
        _publish("transaction.started", tx, stored.identity)
        ending.supersede_older(tx, at=at)
        return EventOutcome(stored.write.event.answer, False, tx.pk)

    return store.apply(
        store.by_dedup_key(station_pk, key),
        change,
        then,
        identity=identity,
        create=create,
        create_first=True,
        insert_first=True,
    )


def transaction_stop_16(
    *,
    station_pk: int,
    transaction_id: int,
    id_tag: str,
    meter_stop: int,
    timestamp: datetime,
    reason: str,
    transaction_data: list[dict[str, Any]],
    payload: dict[str, Any],
    at: datetime | None = None,
    identity: str = "",
) -> EventOutcome:
    """Apply a 1.6 StopTransaction exactly once (deduplicated on the transaction id).

    A StopTransaction with transactionId -1, or an id we never gave, is kept as a
    transaction of its own, flagged, so its energy is not lost.
    """
    at = at or utcnow()
    by_id = store.by_id_16(station_pk, V16, str(transaction_id))
    unknown = store.by_dedup_key(
        station_pk, f"stop:{transaction_id}:{to_ocpp(timestamp)}:{meter_stop}"
    )
    store.forget(by_id)

    def create() -> Transaction:
        anomaly = Anomaly.NO_TRANSACTION_ID if transaction_id == -1 else Anomaly.UNKNOWN_TRANSACTION
        return Transaction(
            station_id=station_pk,
            dedup_key=unknown.values[1],
            ocpp_version=V16,
            transaction_id=f"new-{uuid.uuid4().hex}",
            reported_transaction_id=transaction_id,
            id_token_value=id_tag,
            anomalies=[anomaly, Anomaly.STARTED_MISSING],
        )

    def change(tx: Transaction | None, created: bool) -> store.Write:
        assert tx is not None  # a transaction is created where none is found
        if created:
            tx.transaction_id = str(tx.pk)
            logger.warning(
                "StopTransaction for unknown transaction %s from station %s kept as transaction %s",
                transaction_id,
                station_pk,
                tx.pk,
            )
        applied = rules.stop_16(
            tx,
            station_pk=station_pk,
            id_tag=id_tag,
            meter_stop=meter_stop,
            timestamp=timestamp,
            reason=reason,
            transaction_data=transaction_data,
            payload=payload,
            at=at,
            tariff=store.tariff_for(tx.station_id, tx.evse_id) if tx.tariff_id is None else None,
        )
        answer: dict[str, Any] = {}
        if id_tag:
            info = authorization.id_token_authorize(
                value=id_tag, version=V16, exclude_transaction_pk=tx.pk, at=at
            )
            answer["idTagInfo"] = answers.id_tag_info(info)
        applied.event.answer = answer
        return store.Write(applied.event, applied.rows)

    def then(stored: store.Stored) -> EventOutcome:
        tx = stored.transaction
        assert tx is not None
        if stored.duplicate:
            stop = tx.events.filter(kind=EventKind.STOP_16).only("answer").first()
            logger.info(
                "Duplicate StopTransaction %s from station %s answered again",
                tx.transaction_id,
                station_pk,
            )
            return EventOutcome((stop.answer if stop else None) or {}, True, tx.pk)
        _publish("transaction.ended", tx, stored.identity)
        return EventOutcome(stored.write.event.answer, False, tx.pk)

    return store.apply(
        by_id if transaction_id > 0 else unknown,
        change,
        then,
        identity=identity,
        create=create,
        # An id we never gave (or -1): the stop is kept as a transaction of its own.
        create_first=transaction_id <= 0,
        create_key=unknown,
        insert_first=True,
    )


def meter_values_record_16(
    *,
    station_pk: int,
    connector_id: int,
    transaction_id: int | None,
    meter_value: list[dict[str, Any]],
    payload: dict[str, Any],
    at: datetime | None = None,
    identity: str = "",
) -> EventOutcome:
    """Store a 1.6 MeterValues exactly once (deduplicated on connector, transaction id and
    the values with their timestamps). Values with transactionId -1 or an unknown id are
    kept, unlinked, and flagged."""
    now = at or utcnow()
    digest = hashlib.sha256(
        json.dumps([connector_id, transaction_id, meter_value], sort_keys=True).encode()
    ).hexdigest()

    def change(tx: Transaction | None, created: bool) -> store.Write:
        anomalies: list[str] = []
        if transaction_id == -1:
            anomalies.append(Anomaly.NO_TRANSACTION_ID)
        elif transaction_id is not None and tx is None:
            anomalies.append(Anomaly.UNKNOWN_TRANSACTION)
        applied = rules.meter_values_16(
            tx,
            station_pk=station_pk,
            connector_id=connector_id,
            meter_value=meter_value,
            dedup_key=f"meter:{digest}",
            anomalies=anomalies,
            payload=payload,
            at=now,
        )
        return store.Write(applied.event, applied.rows)

    def then(stored: store.Stored) -> EventOutcome:
        tx = stored.transaction
        if stored.duplicate:
            logger.info("Duplicate MeterValues from station %s answered again", station_pk)
            return EventOutcome({}, True, tx.pk if tx else None)
        if tx is not None:
            rows = len(stored.write.rows)
            _publish("transaction.updated", tx, stored.identity, meter_values=rows)
        return EventOutcome({}, False, tx.pk if tx else None)

    # Values outside a transaction are stored in one statement, with no database
    # transaction; in one, a MeterValues is the most frequent message of a session: stored
    # guarded, without a lock, if its transaction is still as read (see store.apply).
    key = None
    if transaction_id is not None and transaction_id != -1:
        key = store.by_id_16(station_pk, V16, str(transaction_id))
    return store.apply(key, change, then, identity=identity, guarded_first=True)


def meter_values_record_2(
    *,
    station_pk: int,
    version: str,
    evse_id: int,
    meter_value: list[dict[str, Any]],
    payload: dict[str, Any],
    at: datetime | None = None,
) -> bool:
    """Store a 2.x MeterValues (values outside transactions) exactly once, deduplicated on
    EVSE and the values with their timestamps. False for a duplicate."""
    at = at or utcnow()
    digest = hashlib.sha256(json.dumps([evse_id, meter_value], sort_keys=True).encode())
    timestamps = [t for t in (from_ocpp(mv.get("timestamp")) for mv in meter_value) if t]
    event = TransactionEvent(
        station_id=station_pk,
        kind=EventKind.METER,
        dedup_key=f"meter2:{digest.hexdigest()}",
        timestamp=min(timestamps, default=at),
        payload=payload,
        answer={},
        received_at=at,
    )
    rows = rules.meter_rows(
        meter_value,
        version=version,
        station_pk=station_pk,
        transaction=None,
        event=event,
        evse_id=evse_id,
        connector_id=None,
    )
    if not store.write(store.Write(event, rows)):
        logger.info("Duplicate MeterValues from station %s answered again", station_pk)
        return False
    return True

"""State changes of the transactions block: authorization, transactions, meter values,
reservations, remote start/stop, local authorization lists and cost.

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
from datetime import datetime, timedelta
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction

from commands.services import StationNotConnected, command_sender
from csms import events
from ocpp_router.datetimes import to_ocpp, utcnow
from ocpp_router.outbound import Outcome
from ocpp_router.rpc import V16
from stations.models import ChargingStation
from transactions import answers, ending, selectors, statements
from transactions.answers import TokenInfo
from transactions.choices import (
    ENERGY_REGISTER,
    RESERVATION_OPEN,
    Anomaly,
    AuthorizationStatus,
    EventKind,
    IdTokenType,
    RequestStatus,
    ReservationStatus,
)
from transactions.models import (
    IdToken,
    LocalAuthList,
    LocalAuthListEntry,
    MeterValue,
    RemoteStart,
    Reservation,
    Tariff,
    Transaction,
    TransactionEvent,
)
from transactions.open_transactions import open_transactions

# Every call this module sends is recorded as a Command sent by "transactions".
station_call = command_sender("transactions")

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
MILLI = Decimal("0.001")
ENERGY_LIMIT = Decimal("1e17")  # Transaction energy columns: 20 digits, 3 after the point


# --- authorization ------------------------------------------------------------------------


def id_token_authorize(
    *,
    value: str,
    type: str = "",
    version: str,
    exclude_transaction_pk: int | None = None,
    at: datetime | None = None,
) -> TokenInfo:
    """Decide the IdTokenInfo for a token (1.6: `type` empty, matched on the value).

    Unknown tokens are Unknown (1.6: Invalid); a token's own status (Blocked, NoCredit, ...)
    wins over its expiry; an expired token is Expired; with CSMS_CONCURRENT_TX_CHECK a token
    already in another active transaction is ConcurrentTx. Statuses are mapped to the
    version's enumeration by `answers`.
    """
    return _authorize(
        value=value,
        type=type,
        version=version,
        exclude_transaction_pk=exclude_transaction_pk,
        at=at,
    )[0]


def _authorize(
    *,
    value: str,
    type: str,
    version: str,
    exclude_transaction_pk: int | None,
    at: datetime | None,
) -> tuple[TokenInfo, int | None]:
    """`id_token_authorize`, and the primary key of the token found (None: no token). The
    token is read at every request, in one statement: an operator's Blocked applies at once."""
    if type == IdTokenType.NO_AUTHORIZATION:
        # 2.x IdTokenEnumType NoAuthorization: a transaction started with no authorization.
        token = statements.id_token_row(
            value=value, type=type, concurrent_check=False, exclude_transaction_pk=None
        )
        return TokenInfo(status=AuthorizationStatus.ACCEPTED), token.pk if token else None
    token = statements.id_token_row(
        value=value,
        type="" if version == V16 else type,
        concurrent_check=settings.CSMS_CONCURRENT_TX_CHECK,
        exclude_transaction_pk=exclude_transaction_pk,
    )
    if token is None:
        unknown = AuthorizationStatus.INVALID if version == V16 else AuthorizationStatus.UNKNOWN
        return TokenInfo(status=unknown), None
    status = token.status
    if status == AuthorizationStatus.ACCEPTED:
        if token.expiry_date and token.expiry_date <= (at or utcnow()):
            status = AuthorizationStatus.EXPIRED
        elif token.in_active_transaction:
            status = AuthorizationStatus.CONCURRENT_TX
    info = TokenInfo(
        status=status,
        expiry=token.expiry_date,
        group_value=token.group_value or "",
        group_type=token.group_type or "",
        language1=token.language1,
        language2=token.language2,
        personal_message=token.personal_message,
        message_format=token.personal_message_format,
        charging_priority=token.charging_priority,
    )
    return info, token.pk


def contract_certificate_status(
    *, certificate: str | None, hash_data: list[dict[str, Any]] | None, at: datetime | None = None
) -> str | None:
    """certificateStatus for a 2.x Authorize carrying a contract certificate (OCPP 2.0.1 C07).

    The CSMS holds no trusted MO/V2G root store and runs no OCSP client, so it cannot
    establish a contract certificate as valid: an unreadable certificate is SignatureError,
    an expired one CertificateExpired, any other one CertChainError (its chain cannot be
    validated); OCSP hash data alone, which we cannot check, is NoCertificateAvailable.
    None when neither was sent. A status other than Accepted makes the token not Accepted.
    """
    if certificate:
        from cryptography import x509

        try:
            cert = x509.load_pem_x509_certificate(certificate.encode())
        except ValueError:
            return "SignatureError"
        if cert.not_valid_after_utc <= (at or utcnow()):
            return "CertificateExpired"
        return "CertChainError"
    if hash_data:
        return "NoCertificateAvailable"
    return None


def authorize(
    *,
    value: str,
    type: str = "",
    version: str,
    certificate: str | None = None,
    hash_data: list[dict[str, Any]] | None = None,
) -> tuple[TokenInfo, str | None]:
    """Authorize request of any version: the token's info and, for 2.x, certificateStatus."""
    info = id_token_authorize(value=value, type=type, version=version)
    cert_status = contract_certificate_status(certificate=certificate, hash_data=hash_data)
    if cert_status not in (None, "Accepted") and info.accepted:
        info = TokenInfo(status=AuthorizationStatus.INVALID)
    return info, cert_status


# --- meter values -------------------------------------------------------------------------


# MeterValue.value holds 30 digits, 9 after the point.
VALUE_PLACES = Decimal("1e-9")
VALUE_LIMIT = Decimal("1e21")
WIDE = Context(prec=40)


def _decimal(value: Any) -> Decimal | None:
    """A sampled value as stored, or None (then kept raw) if it is no number or too large."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or abs(number) >= VALUE_LIMIT:
        return None
    return number.quantize(VALUE_PLACES, context=WIDE)


def meter_rows(
    meter_values: list[dict[str, Any]],
    *,
    version: str,
    station_pk: int,
    transaction: Transaction | None,
    event: TransactionEvent | None,
    evse_id: int | None,
    connector_id: int | None,
) -> list[MeterValue]:
    """MeterValue rows (unsaved) for the meterValue list of a 1.6 or 2.x message."""
    from ocpp_router.datetimes import from_ocpp

    rows = []
    for meter_value in meter_values:
        timestamp = from_ocpp(meter_value.get("timestamp")) or utcnow()
        for sampled in meter_value.get("sampledValue", []):
            signed: Any = None
            if version == V16:
                unit, multiplier = sampled.get("unit", ""), 0
                if sampled.get("format") == "SignedData":
                    signed = {"format": "SignedData", "value": sampled["value"]}
                    value = None
                else:
                    value = _decimal(sampled["value"])
                    if value is None:
                        signed = {"value": sampled["value"]}
            else:
                unit_of_measure = sampled.get("unitOfMeasure", {})
                unit = unit_of_measure.get("unit", "")
                multiplier = unit_of_measure.get("multiplier", 0)
                value = _decimal(sampled["value"])
                signed = sampled.get("signedMeterValue")
                if value is None:
                    signed = {"value": sampled["value"], **(signed or {})}
            rows.append(
                MeterValue(
                    station_id=station_pk,
                    transaction=transaction,
                    event=event,
                    evse_id=evse_id,
                    connector_id=connector_id,
                    timestamp=timestamp,
                    # Both versions: an omitted measurand is Energy.Active.Import.Register.
                    measurand=sampled.get("measurand", ENERGY_REGISTER),
                    phase=sampled.get("phase", ""),
                    location=sampled.get("location", ""),
                    context=sampled.get("context", ""),
                    unit=unit,
                    multiplier=multiplier,
                    value=value,
                    signed_data=signed,
                )
            )
    return rows


def to_wh(value: Decimal, unit: str, multiplier: int = 0) -> Decimal:
    """An energy reading in Wh (units Wh, the default, or kWh; 2.x multiplier is 10^n)."""
    wh = value * (Decimal(10) ** multiplier)
    if unit.lower() == "kwh":
        wh *= 1000
    return wh


def _apply_readings(tx: Transaction, rows: list[MeterValue]) -> None:
    """Take new rows into the transaction's first/last register readings, then recompute
    meter start/stop and energy. Readings are ordered by their timestamps, so messages
    arriving out of order give the same result as in order; 1.6 meterStart/meterStop, when
    reported, win over readings."""
    for row in rows:
        if row.measurand != ENERGY_REGISTER or row.phase or row.value is None:
            continue
        wh = to_wh(row.value, row.unit, row.multiplier)
        if abs(wh) >= ENERGY_LIMIT:
            # No meter counts that far: a garbled reading, kept as a row but not as energy.
            continue
        wh = wh.quantize(MILLI)
        if tx.first_reading_at is None or row.timestamp < tx.first_reading_at:
            tx.first_reading_at, tx.first_reading_wh = row.timestamp, wh
        if tx.last_reading_at is None or row.timestamp >= tx.last_reading_at:
            tx.last_reading_at, tx.last_reading_wh = row.timestamp, wh
    if tx.ocpp_version == V16:
        if Anomaly.STARTED_MISSING in tx.anomalies:
            tx.meter_start = tx.first_reading_wh
        end = tx.meter_stop if tx.meter_stop is not None else tx.last_reading_wh
    else:
        tx.meter_start = tx.first_reading_wh
        if not tx.is_active:
            tx.meter_stop = tx.last_reading_wh
        end = tx.last_reading_wh
    if tx.meter_start is not None and end is not None:
        tx.energy_wh = max(end - tx.meter_start, Decimal(0))


# --- cost -----------------------------------------------------------------------------------


def cost_compute(
    *, tariff: Tariff, energy_wh: Decimal | None, started_at: datetime | None, until: datetime
) -> Decimal:
    """Session fee + energy price + time price, rounded to cents."""
    cost = tariff.session_fee
    if energy_wh:
        cost += energy_wh / 1000 * tariff.price_per_kwh
    if tariff.price_per_minute and started_at:
        minutes = Decimal(max((until - started_at).total_seconds(), 0)) / 60
        cost += minutes * tariff.price_per_minute
    return cost.quantize(CENT)


def _refresh_cost(tx: Transaction, *, at: datetime, pick_tariff: bool = False) -> None:
    """The cost so far; the tariff is chosen when the transaction is first seen and kept."""
    if pick_tariff and tx.tariff_id is None:
        tariff = statements.tariff_for_station(tx.station_id)
        if tariff is not None:
            tx.tariff = tariff
            tx.currency = tariff.currency
    if tx.tariff_id is None:
        return
    until = tx.stopped_at if not tx.is_active and tx.stopped_at else (tx.last_event_at or at)
    tx.total_cost = cost_compute(
        tariff=tx.tariff, energy_wh=tx.energy_wh, started_at=tx.started_at, until=until
    )


# --- transactions: shared -------------------------------------------------------------------
#
# A transaction message is applied in one database transaction of a few statements, each
# written once (transactions.statements): lock the transaction (with its station identity
# and tariff), apply the message in memory, then INSERT its event, whose unique business
# key tells a first delivery from a repeat (ON CONFLICT DO NOTHING: no savepoint), its meter
# values in one INSERT, and UPDATE the transaction. A transaction seen for the first time is
# INSERTed with the message applied; its unique key tells whether a concurrent delivery
# created it first, and then the message is applied to that one.


def _add_anomaly(target: Transaction | TransactionEvent | list[str], anomaly: str) -> None:
    items = target if isinstance(target, list) else target.anomalies
    if anomaly not in items:
        items.append(anomaly)


def _remove_anomaly(tx: Transaction, anomaly: str) -> None:
    if anomaly in tx.anomalies:
        tx.anomalies.remove(anomaly)


def _lock(query: statements.Query, values: list[Any]) -> statements.Locked:
    """The transaction a conflicting INSERT found: a concurrent creator has committed it."""
    locked = statements.transaction_lock(query, values)
    if locked is None:
        raise Transaction.DoesNotExist(f"No transaction {values!r}")
    return locked


def _link_reservation(tx: Transaction, reservation_id: int | None) -> None:
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
        _add_anomaly(tx, Anomaly.UNKNOWN_RESERVATION)
        return
    tx.reservation = reservation
    reservation.status = ReservationStatus.USED
    reservation.save(update_fields=["status", "updated"])


def _link_remote_start_16(tx: Transaction, *, at: datetime) -> None:
    """1.6 carries no remote start id: the latest open remote start for the same idTag (and
    connector, if it named one) within CSMS_REMOTE_START_TIMEOUT, not yet used by another
    transaction, is the one this answers (locked)."""
    window = at - timedelta(seconds=settings.CSMS_REMOTE_START_TIMEOUT)
    row = statements.REMOTE_START_16.first(
        [tx.station_id, tx.id_token_value, *statements.REMOTE_START_OPEN, window, tx.evse_id]
    )
    if row is not None:
        tx.remote_start_request_id = row[0]


def _event_data(tx: Transaction, **extra: Any) -> dict[str, Any]:
    return {
        "transaction_pk": tx.pk,
        "transaction_id": tx.transaction_id,
        "ocpp_version": tx.ocpp_version,
        "evse_id": tx.evse_id,
        "connector_id": tx.connector_id,
        "id_token": tx.id_token_value,
        "meter_start_wh": str(tx.meter_start) if tx.meter_start is not None else None,
        "meter_stop_wh": str(tx.meter_stop) if tx.meter_stop is not None else None,
        "energy_wh": str(tx.energy_wh) if tx.energy_wh is not None else None,
        "total_cost": str(tx.total_cost) if tx.total_cost is not None else None,
        "currency": tx.currency,
        "is_active": tx.is_active,
        "anomalies": list(tx.anomalies),
        **extra,
    }


def _publish(kind: str, tx: Transaction, identity: str, **extra: Any) -> None:
    identity = identity or statements.station_identity(tx.station_id)
    events.publish(kind, identity, **_event_data(tx, **extra))


TX_FIELDS = [
    "id_token",
    "id_token_value",
    "id_token_type",
    "auth_status",
    "stop_id_token_value",
    "is_active",
    "started_at",
    "stopped_at",
    "last_event_at",
    "meter_start",
    "meter_stop",
    "energy_wh",
    "first_reading_at",
    "first_reading_wh",
    "last_reading_at",
    "last_reading_wh",
    "stop_reason",
    "charging_state",
    "trigger_reason",
    "min_seq_no",
    "max_seq_no",
    "event_count",
    "offline",
    "evse_id",
    "connector_id",
    "number_of_phases_used",
    "cable_max_current",
    "time_spent_charging",
    "remote_start_id",
    "remote_start_request",
    "reservation",
    "tariff",
    "total_cost",
    "currency",
    "cost_sent_at",
    "anomalies",
    "updated",
]
_SAVED_FIELDS = ("transaction_id", *TX_FIELDS)
_START_16_LINKS = statements.transaction_update(
    ("transaction_id", "reservation", "remote_start_request", "anomalies")
)


def _update(tx: Transaction, loaded: dict[str, Any] | None) -> tuple[statements.Statement, list]:
    """The UPDATE of the transaction and its values: the fields changed since `loaded` (its
    values as locked), or every field a message may change."""
    tx.updated = utcnow()
    fields = _SAVED_FIELDS if loaded is None else statements.changed(tx, loaded, _SAVED_FIELDS)
    statement = statements.transaction_update(fields)
    return statement, statements.update_values(tx, statement)


def _save(tx: Transaction, loaded: dict[str, Any] | None) -> None:
    statement, values = _update(tx, loaded)
    statement.execute(values)


def _store(
    event: TransactionEvent,
    rows: list[MeterValue],
    tx: Transaction | None = None,
    loaded: dict[str, Any] | None = None,
    *,
    guarded: bool = False,
) -> bool | None:
    """Store a message's event and its meter values and, with `tx`, save the transaction
    (as `_save`): all of it, or nothing and False if the event's business key shows the
    message was stored before. One statement on PostgreSQL (statements.event_store).
    `guarded`: `tx` was read without a lock; None (nothing stored) if it changed since."""
    if tx is None:
        return statements.event_store(event, rows)
    guard = (tx.pk, loaded["updated"]) if guarded and loaded is not None else None
    return statements.event_store(event, rows, *_update(tx, loaded), guard=guard)


def _read_unlocked(query: statements.Query, key: tuple[Any, ...]) -> statements.Locked | None:
    """The transaction `query` (a TX_BY_*_READ) finds for `key`: as this process last stored
    it where it is kept (`open_transactions`), else read without a lock."""
    return open_transactions.take(key) or statements.transaction_lock(query, list(key))


def _keep(key: tuple[Any, ...], tx: Transaction, identity: str) -> None:
    """Keep `tx`, as just stored, for its next message (`open_transactions`), once stored
    for good: at once outside a database transaction, else when it commits."""
    transaction.on_commit(lambda: open_transactions.keep(key, tx, identity))


# --- transactions: 2.0.1 / 2.1 --------------------------------------------------------------


@dataclass(frozen=True)
class EventOutcome:
    """What a transaction message did: the answer to give and a CostUpdated to send."""

    answer: dict[str, Any]
    duplicate: bool
    transaction_pk: int | None
    cost_update: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Applied:
    """A TransactionEvent applied to its transaction in memory: what is left to store."""

    event: TransactionEvent
    answer: dict[str, Any]
    rows: list[MeterValue]
    cost_update: dict[str, Any] | None


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
    """Apply a 2.0.1/2.1 TransactionEventRequest (OCPP 2.0.1 E01-E15) exactly once.
    `identity`: the station's, where the caller knows it (else it is read)."""
    from ocpp_router.datetimes import from_ocpp

    at = at or utcnow()
    key = [station_pk, payload["transactionInfo"]["transactionId"]]
    timestamp = from_ocpp(payload["timestamp"]) or at
    if payload["eventType"] == EventKind.UPDATED and payload.get("reservationId") is None:
        # The most frequent event (it carries the session's meter values), as a 1.6
        # MeterValues: the transaction read without a lock and the event stored with its
        # update in one statement if the transaction is still as read; else as below.
        read = _read_unlocked(statements.TX_BY_ID_READ, tuple(key))
        if read is not None:
            applied = _event_apply(
                read.transaction, created=False, payload=payload, timestamp=timestamp, at=at
            )
            outcome = _event_store(
                read.transaction,
                applied,
                loaded=read.loaded,
                identity=identity or read.identity,
                guarded=True,
            )
            if outcome is not None:
                return outcome
    with transaction.atomic():
        # A Started usually begins a transaction we have not seen: insert it first; other
        # events usually find theirs.
        locked = None
        if payload["eventType"] != EventKind.STARTED:
            locked = statements.transaction_lock(statements.TX_BY_ID, key)
        if locked is None:
            tx = Transaction(
                station_id=station_pk,
                transaction_id=key[1],
                ocpp_version=version,
                started_at=timestamp,
                is_active=True,
            )
            applied = _event_apply(tx, created=True, payload=payload, timestamp=timestamp, at=at)
            if statements.INSERT_TRANSACTION.one(tx):
                outcome = _event_store(tx, applied, loaded=None, identity=identity, created=True)
                assert outcome is not None  # not guarded
                ending.supersede_older(tx, at=at)
                return outcome
            # Stored already (events before this Started, or a concurrent delivery).
            locked = _lock(statements.TX_BY_ID, key)
        tx = locked.transaction
        applied = _event_apply(tx, created=False, payload=payload, timestamp=timestamp, at=at)
        outcome = _event_store(
            tx, applied, loaded=locked.loaded, identity=identity or locked.identity
        )
        assert outcome is not None  # not guarded
        return outcome


def _event_store(
    tx: Transaction,
    applied: _Applied,
    *,
    loaded: dict[str, Any] | None,
    identity: str,
    created: bool = False,
    guarded: bool = False,
) -> EventOutcome | None:
    """Store a TransactionEvent applied to `tx` (`created`: just inserted with it), or
    answer a repeat as the first delivery was answered. `guarded`: `tx` was read without
    a lock; None (nothing stored) if it changed since."""
    event, answer = applied.event, applied.answer
    event.transaction = tx
    reservation_id = applied.event.payload.get("reservationId")
    # A transaction inserted here is saved again only to link its reservation, which is
    # locked after the event is stored.
    save_now = not created and reservation_id is None
    stored = _store(event, applied.rows, tx if save_now else None, loaded, guarded=guarded)
    if stored is None:
        return None
    if not stored:
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
        return EventOutcome(existing.answer if existing and existing.answer else {}, True, tx.pk)
    if reservation_id is not None:
        _link_reservation(tx, reservation_id)
        _save(tx, loaded)
    _publish(
        _EVENT_KINDS[event.kind],
        tx,
        identity,
        seq_no=event.seq_no,
        trigger_reason=event.trigger_reason,
        meter_values=len(applied.rows),
    )
    _keep((tx.station_id, tx.transaction_id), tx, identity)
    return EventOutcome(answer, False, tx.pk, applied.cost_update)


def _event_apply(
    tx: Transaction,
    *,
    created: bool,
    payload: dict[str, Any],
    timestamp: datetime,
    at: datetime,
) -> _Applied:
    """Apply a TransactionEvent to `tx` in memory (`created`: first seen with this event);
    only reads the database. The event row carries the answer."""
    version = tx.ocpp_version
    info = payload["transactionInfo"]
    event_type = payload["eventType"]
    seq_no = payload["seqNo"]
    evse = payload.get("evse") or {}
    id_token = payload.get("idToken")
    event = TransactionEvent(
        station_id=tx.station_id,
        kind=event_type,
        seq_no=seq_no,
        timestamp=timestamp,
        trigger_reason=payload["triggerReason"],
        offline=payload.get("offline", False),
        payload=payload,
        received_at=at,
    )
    # Flags: sequence and arrival order.
    if event.offline:
        _add_anomaly(event, Anomaly.OFFLINE)
        tx.offline = True
        _add_anomaly(tx, Anomaly.OFFLINE)
    if tx.max_seq_no is not None:
        if seq_no < tx.max_seq_no:
            _add_anomaly(event, Anomaly.OUT_OF_ORDER)
            _add_anomaly(tx, Anomaly.OUT_OF_ORDER)
        elif seq_no > tx.max_seq_no + 1:
            _add_anomaly(event, Anomaly.SEQ_GAP)
    tx.max_seq_no = seq_no if tx.max_seq_no is None else max(tx.max_seq_no, seq_no)
    tx.min_seq_no = seq_no if tx.min_seq_no is None else min(tx.min_seq_no, seq_no)
    # Sequence numbers missing between the lowest and highest received; a late event
    # that fills the gap clears the flag.
    if tx.max_seq_no - tx.min_seq_no + 1 > tx.event_count + 1:
        _add_anomaly(tx, Anomaly.SEQ_GAP)
    else:
        _remove_anomaly(tx, Anomaly.SEQ_GAP)

    if event_type == EventKind.STARTED:
        tx.started_at = timestamp
        _remove_anomaly(tx, Anomaly.STARTED_MISSING)
    else:
        if created:
            _add_anomaly(tx, Anomaly.STARTED_MISSING)
        if Anomaly.STARTED_MISSING in tx.anomalies and (
            tx.started_at is None or timestamp < tx.started_at
        ):
            tx.started_at = timestamp
    if not tx.is_active and tx.stopped_at and timestamp > tx.stopped_at:
        _add_anomaly(event, Anomaly.EVENT_AFTER_END)
    if event_type == EventKind.ENDED:
        tx.is_active = False
        tx.stopped_at = timestamp
        # OCPP 2.0.1 TransactionType: stoppedReason may only be omitted when it is Local.
        tx.stop_reason = info.get("stoppedReason", "Local")

    # The latest state the station reported wins, whatever order events arrive in.
    if tx.last_event_at is None or timestamp >= tx.last_event_at:
        tx.last_event_at = timestamp
        tx.trigger_reason = payload["triggerReason"]
        tx.charging_state = info.get("chargingState", tx.charging_state)
        tx.time_spent_charging = info.get("timeSpentCharging", tx.time_spent_charging)
        tx.number_of_phases_used = payload.get("numberOfPhasesUsed", tx.number_of_phases_used)
        tx.cable_max_current = payload.get("cableMaxCurrent", tx.cable_max_current)
    if evse and tx.evse_id is None:
        tx.evse_id = evse["id"]
        tx.connector_id = evse.get("connectorId")

    answer: dict[str, Any] = {}
    if id_token is not None:
        token_info, token_pk = _authorize(
            value=id_token["idToken"],
            type=id_token["type"],
            version=version,
            exclude_transaction_pk=tx.pk,
            at=timestamp,
        )
        # OCPP 2.0.1 E01/E03: an event carrying an idToken is answered with its idTokenInfo.
        answer["idTokenInfo"] = answers.id_token_info(token_info)
        if not tx.id_token_value:
            tx.id_token_value = id_token["idToken"]
            tx.id_token_type = id_token["type"]
            tx.id_token_id = token_pk
            tx.auth_status = token_info.status
        elif id_token["idToken"] != tx.id_token_value:
            tx.stop_id_token_value = id_token["idToken"]

    remote_start_id = info.get("remoteStartId")
    if remote_start_id is not None and tx.remote_start_id is None:
        tx.remote_start_id = remote_start_id
        tx.remote_start_request = RemoteStart.objects.filter(
            station_id=tx.station_id, remote_start_id=remote_start_id
        ).first()

    rows = meter_rows(
        payload.get("meterValue", []),
        version=version,
        station_pk=tx.station_id,
        transaction=tx,
        event=None,
        evse_id=tx.evse_id,
        connector_id=tx.connector_id,
    )
    tx.event_count += 1
    _apply_readings(tx, rows)
    _refresh_cost(tx, at=at, pick_tariff=created)

    cost_update = None
    if tx.total_cost is not None:
        if event_type == EventKind.ENDED:
            # OCPP 2.0.1 I02/I03: the final cost in the Ended answer.
            answer["totalCost"] = float(tx.total_cost)
        elif (
            tx.is_active
            and settings.CSMS_COST_UPDATE_INTERVAL > 0
            and (
                tx.cost_sent_at is None
                or (at - tx.cost_sent_at).total_seconds() >= settings.CSMS_COST_UPDATE_INTERVAL
            )
            and event_type == EventKind.UPDATED
        ):
            cost_update = {
                "totalCost": float(tx.total_cost),
                "transactionId": tx.transaction_id,
            }
            tx.cost_sent_at = at
    event.answer = answer
    return _Applied(event, answer, rows, cost_update)


# --- transactions: 1.6 ----------------------------------------------------------------------


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
    """Apply a 1.6 StartTransaction exactly once; a repeat gets the same transactionId."""
    at = at or utcnow()
    key = f"start:{connector_id}:{id_tag}:{to_ocpp(timestamp)}:{meter_start}"
    with transaction.atomic():
        tx = Transaction(
            station_id=station_pk,
            dedup_key=key,
            ocpp_version=V16,
            # Replaced by the primary key below: 1.6 transaction ids are integers.
            transaction_id=f"new-{uuid.uuid4().hex}",
            evse_id=connector_id,
            connector_id=1 if connector_id else 0,
            id_token_value=id_tag,
            started_at=timestamp,
            meter_start=Decimal(meter_start),
            last_event_at=timestamp,
            event_count=1,
        )
        token_info, tx.id_token_id = _authorize(
            value=id_tag, type="", version=V16, exclude_transaction_pk=None, at=at
        )
        tx.auth_status = answers.status_for_version(token_info.status, V16)
        # A Stop or MeterValues for this transaction cannot have come first: the station
        # learns the id from our answer. Readings sent with -1 stay unlinked.
        _refresh_cost(tx, at=at, pick_tariff=True)
        # The start's business key (dedup_key) decides in the INSERT whether it is new.
        if not statements.INSERT_TRANSACTION.one(tx):
            stored = _lock(statements.TX_BY_DEDUP_KEY, [station_pk, key]).transaction
            start = stored.events.filter(kind=EventKind.START_16).first()
            logger.info(
                "Duplicate StartTransaction from station %s: transaction %s answered again",
                station_pk,
                stored.transaction_id,
            )
            return EventOutcome(start.answer if start else {}, True, stored.pk)
        tx.transaction_id = str(tx.pk)
        # What the start links is locked after the transaction, as every message locks.
        _link_reservation(tx, reservation_id)
        _link_remote_start_16(tx, at=at)
        answer = {"transactionId": tx.pk, "idTagInfo": answers.id_tag_info(token_info)}
        # The event has no business key of its own (the transaction's dedup_key was it):
        # it is always stored, with the transaction's id and links.
        statements.event_store(
            TransactionEvent(
                station_id=station_pk,
                transaction=tx,
                kind=EventKind.START_16,
                timestamp=timestamp,
                payload=payload,
                answer=answer,
                received_at=at,
            ),
            [],
            _START_16_LINKS,
            statements.update_values(tx, _START_16_LINKS),
        )
        _publish("transaction.started", tx, identity)
        _keep((station_pk, V16, tx.transaction_id), tx, identity)
        ending.supersede_older(tx, at=at)
    return EventOutcome(answer, False, tx.pk)


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
    open_transactions.forget((station_pk, V16, str(transaction_id)))
    with transaction.atomic():
        locked = None
        if transaction_id > 0:
            locked = statements.transaction_lock(
                statements.TX_BY_ID_16, [station_pk, V16, str(transaction_id)]
            )
        if locked is None:
            anomaly = (
                Anomaly.NO_TRANSACTION_ID if transaction_id == -1 else (Anomaly.UNKNOWN_TRANSACTION)
            )
            key = f"stop:{transaction_id}:{to_ocpp(timestamp)}:{meter_stop}"
            tx = Transaction(
                station_id=station_pk,
                dedup_key=key,
                ocpp_version=V16,
                transaction_id=f"new-{uuid.uuid4().hex}",
                reported_transaction_id=transaction_id,
                id_token_value=id_tag,
                anomalies=[anomaly, Anomaly.STARTED_MISSING],
            )
            if statements.INSERT_TRANSACTION.one(tx):
                tx.transaction_id = str(tx.pk)
                logger.warning(
                    "StopTransaction for unknown transaction %s from station %s kept as "
                    "transaction %s",
                    transaction_id,
                    station_pk,
                    tx.pk,
                )
            else:
                locked = _lock(statements.TX_BY_DEDUP_KEY, [station_pk, key])
        loaded = None
        if locked is not None:
            tx, identity, loaded = locked.transaction, identity or locked.identity, locked.loaded

        # A second StopTransaction of the transaction conflicts on this event's key.
        event = TransactionEvent(
            station_id=station_pk,
            transaction=tx,
            kind=EventKind.STOP_16,
            dedup_key=f"stop:{tx.transaction_id}",
            timestamp=timestamp,
            payload=payload,
            received_at=at,
        )
        tx.is_active = False
        tx.stopped_at = timestamp
        tx.meter_stop = Decimal(meter_stop)
        # OCPP 1.6 errata: an omitted reason means Local.
        tx.stop_reason = reason or "Local"
        if id_tag and id_tag != tx.id_token_value:
            tx.stop_id_token_value = id_tag
        if tx.last_event_at is None or timestamp >= tx.last_event_at:
            tx.last_event_at = timestamp
        tx.event_count += 1
        rows = meter_rows(
            transaction_data,
            version=V16,
            station_pk=station_pk,
            transaction=tx,
            event=event,
            evse_id=tx.evse_id,
            connector_id=tx.connector_id,
        )
        _apply_readings(tx, rows)
        _refresh_cost(tx, at=at, pick_tariff=tx.tariff_id is None)
        answer: dict[str, Any] = {}
        if id_tag:
            info = id_token_authorize(
                value=id_tag, version=V16, exclude_transaction_pk=tx.pk, at=at
            )
            answer["idTagInfo"] = answers.id_tag_info(info)
        event.answer = answer
        if not _store(event, rows, tx, loaded):
            stop = tx.events.filter(kind=EventKind.STOP_16).first()
            logger.info(
                "Duplicate StopTransaction %s from station %s answered again",
                tx.transaction_id,
                station_pk,
            )
            return EventOutcome((stop.answer if stop else None) or {}, True, tx.pk)
        _publish("transaction.ended", tx, identity)
    return EventOutcome(answer, False, tx.pk)


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
    from ocpp_router.datetimes import from_ocpp

    at = at or utcnow()
    digest = hashlib.sha256(
        json.dumps([connector_id, transaction_id, meter_value], sort_keys=True).encode()
    ).hexdigest()

    key = (station_pk, V16, str(transaction_id))

    def record(query: statements.Query | None) -> EventOutcome | None:
        """The message applied to the transaction `query` finds (None: no transaction)."""
        anomalies: list[str] = []
        tx, loaded, name = None, None, identity
        if transaction_id == -1:
            anomalies.append(Anomaly.NO_TRANSACTION_ID)
        elif query is not None:
            if query is statements.TX_BY_ID_16_READ:
                found = _read_unlocked(query, key)
            else:
                found = statements.transaction_lock(query, list(key))
            if found is None:
                anomalies.append(Anomaly.UNKNOWN_TRANSACTION)
            else:
                tx, name, loaded = found.transaction, name or found.identity, found.loaded
        timestamps = [from_ocpp(mv.get("timestamp")) for mv in meter_value]
        event = TransactionEvent(
            station_id=station_pk,
            transaction=tx,
            kind=EventKind.METER_16,
            dedup_key=f"meter:{digest}",
            timestamp=min((t for t in timestamps if t), default=at),
            anomalies=anomalies,
            payload=payload,
            answer={},
            received_at=at,
        )
        rows = meter_rows(
            meter_value,
            version=V16,
            station_pk=station_pk,
            transaction=tx,
            event=event,
            evse_id=connector_id,
            connector_id=1 if connector_id else 0,
        )
        if tx is not None:
            tx.event_count += 1
            latest = max((t for t in timestamps if t), default=None)
            if latest and (tx.last_event_at is None or latest > tx.last_event_at):
                tx.last_event_at = latest
            _apply_readings(tx, rows)
            _refresh_cost(tx, at=at)
        guarded = query is statements.TX_BY_ID_16_READ
        stored = _store(event, rows, tx, loaded, guarded=guarded)
        if stored is None:
            return None
        if not stored:
            logger.info("Duplicate MeterValues from station %s answered again", station_pk)
            return EventOutcome({}, True, tx.pk if tx else None)
        if tx is not None:
            _publish("transaction.updated", tx, name, meter_values=len(rows))
            _keep(key, tx, name)
        return EventOutcome({}, False, tx.pk if tx else None)

    if transaction_id is None or transaction_id == -1:
        # Values outside a transaction: one statement (see _store), no database transaction.
        outcome = record(None)
    else:
        # The transaction read without a lock, and the message stored with its update in
        # one statement if the transaction is still as read: a MeterValues is the most
        # frequent message of a session. If something changed it meanwhile (another
        # message of the transaction, an operator), the message is applied again to the
        # transaction read under a lock.
        outcome = record(statements.TX_BY_ID_16_READ)
        if outcome is None:
            with transaction.atomic():
                outcome = record(statements.TX_BY_ID_16)
    assert outcome is not None  # a locked transaction cannot change under us
    return outcome


# --- remote start / stop ------------------------------------------------------------------


def _station(identity: str) -> ChargingStation:
    return ChargingStation.objects.get(identity=identity)


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
    station = _station(identity)
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


# --- reservations ---------------------------------------------------------------------------


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
    station = _station(identity)
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
    from ocpp_router.datetimes import from_ocpp

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


# --- local authorization list ---------------------------------------------------------------


def _local_entry(token: IdToken, version: str) -> tuple[str, str, dict[str, Any]]:
    info = id_token_authorize_static(token)
    if version == V16:
        return token.value, "", answers.id_tag_info(info)
    return token.value, token.type, answers.id_token_info(info)


def id_token_authorize_static(token: IdToken) -> TokenInfo:
    """A token's info as a local list carries it (no per-request checks such as ConcurrentTx)."""
    group = token.group_id_token
    return TokenInfo(
        status=token.status,
        expiry=token.expiry_date,
        group_value=group.value if group else "",
        group_type=group.type if group else "",
        language1=token.language1,
        language2=token.language2,
        personal_message=token.personal_message,
        message_format=token.personal_message_format,
        charging_priority=token.charging_priority,
    )


def local_list_build(*, station_pk: int, full: bool) -> tuple[int, list[dict[str, Any]]]:
    """The next list version and the entries of a SendLocalList (Full: every token marked
    for local lists; Differential: what changed since the list the station accepted, with
    removed tokens sent without info, which deletes them)."""
    station = ChargingStation.objects.get(pk=station_pk)
    version = station.protocol or V16
    state, _ = LocalAuthList.objects.get_or_create(station=station)
    wanted = {
        (value, type_): info
        for value, type_, info in (
            _local_entry(token, version) for token in selectors.local_list_tokens()
        )
    }
    if full:
        changes = [(key, info) for key, info in wanted.items()]
    else:
        held = {
            (entry.id_token_value, entry.id_token_type): entry.info
            for entry in LocalAuthListEntry.objects.filter(station=station)
        }
        changes = [(key, info) for key, info in wanted.items() if held.get(key) != info]
        changes += [(key, None) for key in held if key not in wanted]
    entries = []
    for (value, type_), info in sorted(changes, key=lambda item: item[0]):
        if version == V16:
            entry: dict[str, Any] = {"idTag": value}
            if info is not None:
                entry["idTagInfo"] = info
        else:
            entry = {"idToken": {"idToken": value, "type": type_}}
            if info is not None:
                entry["idTokenInfo"] = info
        entries.append(entry)
    return state.version + 1, entries


def local_list_send(*, identity: str, full: bool = True, timeout: float | None = None) -> Outcome:
    """SendLocalList, Full or Differential, built from the tokens; the version is tracked
    per station when the station accepts it."""
    station = _station(identity)
    version, entries = local_list_build(station_pk=station.pk, full=full)
    update_type = "Full" if full else "Differential"
    if station.protocol == V16:
        payload: dict[str, Any] = {"listVersion": version, "updateType": update_type}
    else:
        payload = {"versionNumber": version, "updateType": update_type}
    if entries:
        payload["localAuthorizationList"] = entries
    return station_call(identity=identity, action="SendLocalList", payload=payload, timeout=timeout)


def local_list_record_answer(
    *, station_pk: int, version: str, request: dict[str, Any], status: str
) -> None:
    """Record a SendLocalList answer: on Accepted, the station holds this version and list."""
    with transaction.atomic():
        state, _ = LocalAuthList.objects.select_for_update().get_or_create(station_id=station_pk)
        state.last_status = status
        if status != "Accepted":
            state.save(update_fields=["last_status", "updated"])
            return
        state.version = request["listVersion" if version == V16 else "versionNumber"]
        state.save(update_fields=["version", "last_status", "updated"])
        entries = LocalAuthListEntry.objects.filter(station_id=station_pk)
        if request["updateType"] == "Full":
            entries.delete()
        for item in request.get("localAuthorizationList", []):
            if version == V16:
                value, type_, info = item["idTag"], "", item.get("idTagInfo")
            else:
                value, type_ = item["idToken"]["idToken"], item["idToken"]["type"]
                info = item.get("idTokenInfo")
            if info is None:
                entries.filter(id_token_value=value, id_token_type=type_).delete()
            else:
                LocalAuthListEntry.objects.update_or_create(
                    station_id=station_pk,
                    id_token_value=value,
                    id_token_type=type_,
                    defaults={"info": info},
                )


def local_list_version_request(*, identity: str, timeout: float | None = None) -> Outcome:
    return station_call(
        identity=identity, action="GetLocalListVersion", payload={}, timeout=timeout
    )


def local_list_record_version(*, station_pk: int, reported: int) -> None:
    LocalAuthList.objects.update_or_create(
        station_id=station_pk, defaults={"reported_version": reported}
    )


def auth_cache_clear(*, identity: str, timeout: float | None = None) -> Outcome:
    """ClearCache: the station forgets the tokens it cached (not its local list)."""
    return station_call(identity=identity, action="ClearCache", payload={}, timeout=timeout)


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
    from ocpp_router.datetimes import from_ocpp

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
    rows = meter_rows(
        meter_value,
        version=version,
        station_pk=station_pk,
        transaction=None,
        event=event,
        evse_id=evse_id,
        connector_id=None,
    )
    if not _store(event, rows):
        logger.info("Duplicate MeterValues from station %s answered again", station_pk)
        return False
    return True

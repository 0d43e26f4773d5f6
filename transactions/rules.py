"""What a transaction message does to a transaction, in memory: pure functions, no I/O.

The rules of 2.0.1/2.1 TransactionEvent (`transaction_event`), 1.6 StopTransaction
(`stop_16`) and MeterValues (`meter_values_16`), meter values and energy (`meter_rows`,
`apply_readings`) and the running cost (`cost_compute`, `refresh_cost`). What they need
from the database (the id token's decision, a remote start, a tariff) is read by the caller
and passed in; `store` saves what they changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from ocpp_router.datetimes import from_ocpp, utcnow
from ocpp_router.rpc import V16
from transactions import answers, tariffs
from transactions.answers import TokenInfo
from transactions.choices import ENERGY_REGISTER, Anomaly, EventKind
from transactions.models import MeterValue, RemoteStart, Tariff, Transaction, TransactionEvent

CENT = Decimal("0.01")
MILLI = Decimal("0.001")
ENERGY_LIMIT = Decimal("1e17")  # Transaction energy columns: 20 digits, 3 after the point

# MeterValue.value holds 30 digits, 9 after the point.
VALUE_PLACES = Decimal("1e-9")
VALUE_LIMIT = Decimal("1e21")
WIDE = Context(prec=40)


def add_anomaly(target: Transaction | TransactionEvent | list[str], anomaly: str) -> None:
    items = target if isinstance(target, list) else target.anomalies
    if anomaly not in items:
        items.append(anomaly)


def remove_anomaly(tx: Transaction, anomaly: str) -> None:
    if anomaly in tx.anomalies:
        tx.anomalies.remove(anomaly)


# --- meter values -------------------------------------------------------------------------


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


def apply_readings(tx: Transaction, rows: list[MeterValue]) -> None:
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
    """The total cost, taxes included, under `tariff` (the OCPP 2.1 engine, every version)."""
    return tariffs.tariff_session_cost(
        tariff=tariff, energy_wh=energy_wh, started_at=started_at, until=until
    ).total.incl_tax


def refresh_cost(tx: Transaction, *, at: datetime, tariff: Tariff | None = None) -> None:
    """The cost so far. `tariff`: the one to choose if the transaction has none yet (it is
    chosen when the transaction is first seen and kept)."""
    if tariff is not None and tx.tariff_id is None:
        tx.tariff = tariff
        tx.currency = tariff.currency
    if tx.tariff_id is None:
        return
    until = tx.stopped_at if not tx.is_active and tx.stopped_at else (tx.last_event_at or at)
    tx.total_cost = transaction_cost_compute(tx, until=until)


def transaction_cost_compute(tx: Transaction, *, until: datetime) -> Decimal:
    """The total cost of `tx` (which has a tariff) up to `until`, taxes included: its
    tariff, the tariffs it replaced (2.1 I11) and its reservation priced."""
    return tariffs.transaction_cost(tx, until=until).total.incl_tax


def station_cost(tx: Transaction, details: dict[str, Any] | None, *, ended: bool) -> None:
    """OCPP 2.1 I12: the cost a station calculated locally (costDetails) is kept beside the
    CSMS's; a final one that differs from the CSMS's by more than a cent is flagged."""
    if not details or details.get("failureToCalculate"):
        return
    total = details["totalCost"]["total"]
    amount = total.get("inclTax", total.get("exclTax"))
    if amount is None:
        return
    tx.station_cost = Decimal(str(amount)).quantize(Decimal("0.01"))
    if (
        ended
        and tx.total_cost is not None
        and abs(tx.station_cost - tx.total_cost) > Decimal("0.01")
    ):
        add_anomaly(tx, Anomaly.COST_MISMATCH)


# --- 2.0.1 / 2.1 TransactionEvent -------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    """A message applied to its transaction in memory: its event (carrying the answer),
    its meter values and a CostUpdated to send."""

    event: TransactionEvent
    answer: dict[str, Any]
    rows: list[MeterValue]
    cost_update: dict[str, Any] | None = None


def transaction_event(
    tx: Transaction,
    *,
    created: bool,
    payload: dict[str, Any],
    timestamp: datetime,
    at: datetime,
    token: tuple[TokenInfo, int | None] | None,
    remote_start: RemoteStart | None,
    tariff: Tariff | None,
    cost_update_interval: int,
) -> Applied:
    """Apply a TransactionEventRequest (OCPP 2.0.1 E01-E15) to `tx` (`created`: first seen
    with this event). `token`: the decision for the event's idToken and the token's primary
    key; `remote_start`: the request its remoteStartId names, when `tx` has none yet;
    `tariff`: the one a new transaction takes."""
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
        add_anomaly(event, Anomaly.OFFLINE)
        tx.offline = True
        add_anomaly(tx, Anomaly.OFFLINE)
    if tx.max_seq_no is not None:
        if seq_no < tx.max_seq_no:
            add_anomaly(event, Anomaly.OUT_OF_ORDER)
            add_anomaly(tx, Anomaly.OUT_OF_ORDER)
        elif seq_no > tx.max_seq_no + 1:
            add_anomaly(event, Anomaly.SEQ_GAP)
    tx.max_seq_no = seq_no if tx.max_seq_no is None else max(tx.max_seq_no, seq_no)
    tx.min_seq_no = seq_no if tx.min_seq_no is None else min(tx.min_seq_no, seq_no)
    # Sequence numbers missing between the lowest and highest received; a late event
    # that fills the gap clears the flag.
    if tx.max_seq_no - tx.min_seq_no + 1 > tx.event_count + 1:
        add_anomaly(tx, Anomaly.SEQ_GAP)
    else:
        remove_anomaly(tx, Anomaly.SEQ_GAP)

    if event_type == EventKind.STARTED:
        tx.started_at = timestamp
        remove_anomaly(tx, Anomaly.STARTED_MISSING)
    else:
        if created:
            add_anomaly(tx, Anomaly.STARTED_MISSING)
        if Anomaly.STARTED_MISSING in tx.anomalies and (
            tx.started_at is None or timestamp < tx.started_at
        ):
            tx.started_at = timestamp
    if not tx.is_active and tx.stopped_at and timestamp > tx.stopped_at:
        add_anomaly(event, Anomaly.EVENT_AFTER_END)
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
    if id_token is not None and token is not None:
        token_info, token_pk = token
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
        tx.remote_start_request = remote_start

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
    apply_readings(tx, rows)
    refresh_cost(tx, at=at, tariff=tariff)
    station_cost(tx, payload.get("costDetails"), ended=event_type == EventKind.ENDED)

    cost_update = None
    if tx.total_cost is not None:
        if event_type in (EventKind.ENDED, EventKind.UPDATED):
            # OCPP 2.0.1 I02/I03: the final cost in the Ended answer; the running cost in
            # an Updated answer (TransactionEventResponse.totalCost), the same CostUpdated
            # carries.
            answer["totalCost"] = float(tx.total_cost)
        if (
            event_type == EventKind.UPDATED
            and tx.is_active
            and cost_update_interval > 0
            and (
                tx.cost_sent_at is None
                or (at - tx.cost_sent_at).total_seconds() >= cost_update_interval
            )
        ):
            cost_update = {
                "totalCost": float(tx.total_cost),
                "transactionId": tx.transaction_id,
            }
            tx.cost_sent_at = at
    event.answer = answer
    return Applied(event, answer, rows, cost_update)


def needs_remote_start(tx: Transaction, payload: dict[str, Any]) -> int | None:
    """The remoteStartId a TransactionEvent links `tx` to, if `tx` has none yet."""
    remote_start_id = payload["transactionInfo"].get("remoteStartId")
    if remote_start_id is not None and tx.remote_start_id is None:
        return int(remote_start_id)
    return None


# --- 1.6 ------------------------------------------------------------------------------------


def stop_16(
    tx: Transaction,
    *,
    station_pk: int,
    id_tag: str,
    meter_stop: int,
    timestamp: datetime,
    reason: str,
    transaction_data: list[dict[str, Any]],
    payload: dict[str, Any],
    at: datetime,
    tariff: Tariff | None,
) -> Applied:
    """Apply a 1.6 StopTransaction to `tx` (its answer's idTagInfo is added by the caller).
    `tariff`: the one to choose if `tx` has none."""
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
    apply_readings(tx, rows)
    refresh_cost(tx, at=at, tariff=tariff)
    return Applied(event, {}, rows)


def meter_values_16(
    tx: Transaction | None,
    *,
    station_pk: int,
    connector_id: int,
    meter_value: list[dict[str, Any]],
    dedup_key: str,
    anomalies: list[str],
    payload: dict[str, Any],
    at: datetime,
) -> Applied:
    """Apply a 1.6 MeterValues to `tx` (None: values outside a known transaction)."""
    timestamps = [from_ocpp(mv.get("timestamp")) for mv in meter_value]
    event = TransactionEvent(
        station_id=station_pk,
        transaction=tx,
        kind=EventKind.METER_16,
        dedup_key=dedup_key,
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
        apply_readings(tx, rows)
        refresh_cost(tx, at=at)
    return Applied(event, {}, rows)


def event_data(tx: Transaction, **extra: Any) -> dict[str, Any]:
    """What a transaction.* event published to subscribers carries."""
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

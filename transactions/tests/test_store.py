"""The store's contract (transactions.store): the hand-tuned SQL path writes exactly the rows
plain ORM `save()` writes, so a Django engineer can change a model without learning the SQL.

- Each transaction scenario runs once through the store's SQL and once through an ORM store
  (the same verbs written with `save()`, `select_for_update()` and savepoints), and the
  rows they leave are compared field by field.
- A model on the message path that gains a `save()` override or a signal receiver (which the
  SQL path would skip) fails a test.
- The store's column list is the model's concrete fields.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import IntegrityError, models, transaction
from django.db.models import signals

from ocpp_router.datetimes import to_ocpp, utcnow
from stations.models import ChargingStation
from transactions import services, statements, store
from transactions.choices import EventKind
from transactions.models import (
    IdToken,
    MeterValue,
    RemoteStart,
    Reservation,
    Tariff,
    Transaction,
    TransactionEvent,
)
from transactions.open_transactions import open_transactions
from transactions.statements import loaded_values

pytestmark = pytest.mark.django_db

T0 = utcnow().replace(microsecond=0) - timedelta(hours=3)
AT = T0 + timedelta(hours=2)

MESSAGE_PATH_MODELS = [Transaction, TransactionEvent, MeterValue, Tariff, IdToken]


# --- the ORM store ----------------------------------------------------------------------------


def _orm_read(key: store.Key, *, lock: bool = True) -> store.Locked | None:
    query = Transaction.objects.select_related("tariff", "station")
    if lock:
        query = query.select_for_update(of=("self",))
    tx = query.filter(**dict(zip(key.fields, key.values, strict=True))).first()
    if tx is None:
        return None
    return store.Locked(tx, tx.station.identity, loaded_values(tx))


def _orm_insert(tx: Transaction, key: store.Key) -> bool:
    try:
        with transaction.atomic():
            tx.save(force_insert=True)
    except IntegrityError:
        tx.pk, tx._state.adding = None, True
        return False
    return True


def _orm_event(write: store.Write) -> bool:
    try:
        with transaction.atomic():
            write.event.save(force_insert=True)
    except IntegrityError:
        write.event.pk, write.event._state.adding = None, True
        return False
    for row in write.rows:
        row.event = write.event
        row.save(force_insert=True)
    return True


def _orm_write(
    write: store.Write,
    tx: Transaction | None = None,
    loaded: dict[str, Any] | None = None,
    *,
    guarded: bool = False,
) -> bool | None:
    with transaction.atomic():
        if tx is None or not write.save_transaction:
            return _orm_event(write)
        if guarded and loaded is not None:
            unchanged = Transaction.objects.select_for_update().filter(
                pk=tx.pk, updated=loaded["updated"]
            )
            if not unchanged.exists():
                return None
        if not _orm_event(write):
            return False
        tx.save()
    return True


def _orm_write_links(write: store.Write, tx: Transaction, fields: Any) -> bool:
    with transaction.atomic():
        if not _orm_event(write):
            return False
        tx.save(update_fields=list(fields))
    return True


@pytest.fixture
def orm_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The store's verbs replaced by plain ORM ones, with no transaction kept in memory."""
    monkeypatch.setattr(store, "lock", _orm_read)
    monkeypatch.setattr(store, "_read_unlocked", lambda key: _orm_read(key, lock=False))
    monkeypatch.setattr(store, "insert", _orm_insert)
    monkeypatch.setattr(store, "write", _orm_write)
    monkeypatch.setattr(store, "write_links", _orm_write_links)
    monkeypatch.setattr(store, "save", lambda tx, loaded: tx.save())
    monkeypatch.setattr(store, "keep", lambda key, tx, identity: None)
    open_transactions.clear()
    yield
    open_transactions.clear()


# --- scenarios --------------------------------------------------------------------------------


def _ts(minutes: float) -> str:
    return to_ocpp(T0 + timedelta(minutes=minutes))


def _reading(minutes: float, wh: float) -> list[dict[str, Any]]:
    return [{"timestamp": _ts(minutes), "sampledValue": [{"value": str(wh)}]}]


def _meter_16(station: ChargingStation, transaction_id: int, minutes: float, wh: float) -> None:
    services.meter_values_record_16(
        station_pk=station.pk,
        connector_id=1,
        transaction_id=transaction_id,
        meter_value=_reading(minutes, wh),
        payload={"connectorId": 1, "transactionId": transaction_id},
        at=AT,
    )


def _start_16(station: ChargingStation, minutes: float = 0, tag: str = "PIN") -> int:
    outcome = services.transaction_start_16(
        station_pk=station.pk,
        connector_id=1,
        id_tag=tag,
        meter_start=1000,
        timestamp=T0 + timedelta(minutes=minutes),
        reservation_id=None,
        payload={"connectorId": 1, "idTag": tag},
        at=AT,
    )
    return outcome.answer["transactionId"]


def _stop_16(station: ChargingStation, transaction_id: int, minutes: float, wh: int) -> None:
    services.transaction_stop_16(
        station_pk=station.pk,
        transaction_id=transaction_id,
        id_tag="PIN",
        meter_stop=wh,
        timestamp=T0 + timedelta(minutes=minutes),
        reason="",
        transaction_data=_reading(minutes, wh),
        payload={"transactionId": transaction_id},
        at=AT,
    )


def _event_2(station: ChargingStation, seq_no: int, kind: str, minutes: float, **extra: Any):
    payload = {
        "eventType": kind,
        "timestamp": _ts(minutes),
        "triggerReason": "MeterValuePeriodic",
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": "PIN-1", **extra.pop("info", {})},
        **extra,
    }
    return services.transaction_event_record(
        station_pk=station.pk, version="2.0.1", payload=payload, at=AT
    )


def session_16(station: ChargingStation) -> None:
    tx_id = _start_16(station)
    for minute in (1, 2, 3):
        _meter_16(station, tx_id, minute, 1000 + 500 * minute)
    _stop_16(station, tx_id, 4, 3400)


def duplicates_16(station: ChargingStation) -> None:
    tx_id = _start_16(station)
    assert _start_16(station) == tx_id
    _meter_16(station, tx_id, 1, 1500)
    _meter_16(station, tx_id, 1, 1500)
    _stop_16(station, tx_id, 2, 2000)
    _stop_16(station, tx_id, 2, 2000)


def unknown_16(station: ChargingStation) -> None:
    _meter_16(station, -1, 1, 1500)
    _meter_16(station, 999_999, 1, 1500)
    _stop_16(station, -1, 2, 2000)
    _stop_16(station, 999_999, 2, 2000)


def session_2(station: ChargingStation) -> None:
    _event_2(
        station,
        0,
        "Started",
        0,
        evse={"id": 1, "connectorId": 1},
        idToken={"idToken": "PIN", "type": "ISO14443"},
        meterValue=_reading(0, 1000),
        info={"chargingState": "Charging", "remoteStartId": 7},
    )
    for seq_no in (1, 2, 3):
        _event_2(station, seq_no, "Updated", seq_no, meterValue=_reading(seq_no, 1000 + seq_no))
    _event_2(
        station,
        4,
        "Ended",
        4,
        meterValue=_reading(4, 2000),
        info={"stoppedReason": "EVDisconnected"},
    )


def duplicates_2(station: ChargingStation) -> None:
    for _ in range(2):
        _event_2(station, 0, "Started", 0, idToken={"idToken": "PIN", "type": "ISO14443"})
        _event_2(station, 1, "Updated", 1, meterValue=_reading(1, 1500))
        _event_2(station, 2, "Ended", 2, meterValue=_reading(2, 2000))


def offline_replay_2(station: ChargingStation) -> None:
    # Replayed after a reconnect, late and out of order, with a reservation.
    Reservation.objects.create(
        station=station, reservation_id=5, id_token_value="PIN", expiry=AT + timedelta(hours=1)
    )
    _event_2(station, 2, "Updated", 2, offline=True, meterValue=_reading(2, 1800))
    _event_2(station, 3, "Ended", 3, offline=True, meterValue=_reading(3, 2100))
    _event_2(
        station,
        0,
        "Started",
        0,
        offline=True,
        reservationId=5,
        idToken={"idToken": "PIN", "type": "ISO14443"},
        meterValue=_reading(0, 1000),
    )
    _event_2(station, 1, "Updated", 1, offline=True, meterValue=_reading(1, 1400))
    _event_2(station, 5, "Updated", 5, offline=True)


SCENARIOS: dict[str, Callable[[ChargingStation], None]] = {
    "1.6 start/meter/stop": session_16,
    "1.6 duplicates": duplicates_16,
    "1.6 unknown and -1 transactions": unknown_16,
    "2.x Started/Updated/Ended": session_2,
    "2.x duplicates": duplicates_2,
    "2.x offline replay": offline_replay_2,
}


# --- rows, comparable between runs ------------------------------------------------------------

SKIPPED = {"id", "station", "created", "updated"}
# Each station has its own reservation and remote start (and its reservation its own time).
PER_STATION = {"reservation_id", "remote_start_request_id", "reserved_at"}


def _values(obj: models.Model) -> dict[str, Any]:
    return {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if f.name not in SKIPPED
    }


def _rows(station: ChargingStation) -> dict[str, list[dict[str, Any]]]:
    """The rows a scenario left for `station`, its own primary keys replaced by their order
    (1.6 transaction ids are primary keys)."""
    txs = list(Transaction.objects.filter(station=station).order_by("id"))
    events = list(TransactionEvent.objects.filter(station=station).order_by("id"))
    tx_index = {tx.pk: i for i, tx in enumerate(txs)}
    event_index = {event.pk: i for i, event in enumerate(events)}

    def tx_ref(pk: Any) -> Any:
        return None if pk is None else f"tx{tx_index[pk]}"

    ids = {str(tx.pk): tx_ref(tx.pk) for tx in txs if tx.ocpp_version == "1.6"}

    def text(value: Any) -> Any:
        # The 1.6 ids we gave, where they stand: transaction ids, answers, payloads and the
        # StopTransaction's dedup key.
        if isinstance(value, dict):
            return {k: text(str(v)) if k == "transactionId" else text(v) for k, v in value.items()}
        if isinstance(value, str):
            prefix, _, rest = value.rpartition(":")
            if prefix == "stop" and rest in ids:
                return f"stop:{ids[rest]}"
            if prefix == "meter":
                return "meter:<digest of the values and the transaction id>"
            return ids.get(value, value)
        return value

    transactions = []
    for tx in txs:
        row = _values(tx)
        row["transaction_id"] = text(row["transaction_id"])
        transactions.append(row)
    event_rows = []
    for event in events:
        row = _values(event)
        row["transaction_id"] = tx_ref(row["transaction_id"])
        row["dedup_key"] = text(row["dedup_key"])
        row["payload"], row["answer"] = text(row["payload"]), text(row["answer"])
        event_rows.append(row)
    meter_rows = []
    for value in MeterValue.objects.filter(station=station).order_by("id"):
        row = _values(value)
        row["transaction_id"] = tx_ref(row["transaction_id"])
        row["event_id"] = event_index.get(row["event_id"])
        meter_rows.append(row)
    reservations = [_values(r) for r in Reservation.objects.filter(station=station)]
    return {
        "transactions": transactions,
        "events": event_rows,
        "meter_values": meter_rows,
        "reservations": reservations,
    }


@pytest.fixture
def world() -> None:
    IdToken.objects.create(value="PIN", type="ISO14443")
    Tariff.objects.create(name="Default", price_per_kwh=Decimal("0.30"), session_fee=Decimal(1))


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_store_writes_the_rows_plain_orm_save_writes(name, world, request):
    scenario = SCENARIOS[name]
    sql_station = ChargingStation.objects.create(identity=f"SQL {name}", protocol="2.0.1")
    if "2.x" in name:
        RemoteStart.objects.create(station=sql_station, remote_start_id=7, id_token_value="PIN")
    scenario(sql_station)
    through_sql = _rows(sql_station)

    request.getfixturevalue("orm_store")
    orm_station = ChargingStation.objects.create(identity=f"ORM {name}", protocol="2.0.1")
    if "2.x" in name:
        RemoteStart.objects.create(station=orm_station, remote_start_id=7, id_token_value="PIN")
    scenario(orm_station)
    through_orm = _rows(orm_station)

    assert through_sql["transactions"], "the scenario stored no transaction"
    for table in through_sql:
        assert len(through_sql[table]) == len(through_orm[table]), table
        for sql_row, orm_row in zip(through_sql[table], through_orm[table], strict=True):
            for field, value in sql_row.items():
                if field in PER_STATION:
                    # Each station has its own reservation and remote start: linked or not.
                    assert (orm_row[field] is None) == (value is None), (table, field)
                else:
                    assert orm_row[field] == value, (table, field)


# --- what the SQL path would skip -------------------------------------------------------------


@pytest.mark.parametrize("model", MESSAGE_PATH_MODELS, ids=lambda m: m.__name__)
def test_message_path_models_have_no_save_override(model):
    """The store writes these rows with its own SQL: a `save()` (or `delete()`) of a model's
    own would run for the ORM and never for the message path."""
    assert model.save is models.Model.save, f"{model.__name__}.save() is overridden"
    assert model.save_base is models.Model.save_base
    assert model.delete is models.Model.delete


@pytest.mark.parametrize("model", MESSAGE_PATH_MODELS, ids=lambda m: m.__name__)
def test_message_path_models_have_no_signal_receivers(model):
    """A receiver of a model's save signals would run for the ORM and never for the store."""
    for signal in (signals.pre_save, signals.post_save, signals.pre_init, signals.post_init):
        assert not signal.has_listeners(model), f"{signal} receiver for {model.__name__}"


# --- the column list --------------------------------------------------------------------------


def test_store_saves_every_concrete_field_but_the_inserted_only_ones():
    concrete = [field.name for field in Transaction._meta.concrete_fields]
    assert set(store.INSERTED_ONLY) <= set(concrete)
    assert list(store.SAVED_FIELDS) == [f for f in concrete if f not in store.INSERTED_ONLY]


def test_statements_read_and_insert_every_concrete_field():
    for model, insert in (
        (Transaction, statements.INSERT_TRANSACTION),
        (TransactionEvent, statements.INSERT_EVENT),
        (MeterValue, statements.INSERT_METER_VALUES),
    ):
        meta = model._meta
        assert insert.fields == [f for f in meta.concrete_fields if f is not meta.auto_field]
    columns = statements.TX_BY_ID.columns
    assert columns[: len(Transaction._meta.concrete_fields)] == [
        (Transaction, field.name) for field in Transaction._meta.concrete_fields
    ]


# --- stored before an upgrade -----------------------------------------------------------------


def test_a_start_stored_before_its_event_held_the_key_is_still_answered_as_a_repeat(world):
    """A 1.6 StartTransaction stored when its event carried no business key (before
    migration 0006): once migrated, the station's repeat gets the same transactionId and
    stores nothing."""
    station = ChargingStation.objects.create(identity="Upgraded", protocol="1.6")
    tx_id = _start_16(station)
    TransactionEvent.objects.filter(transaction_id=tx_id, kind=EventKind.START_16).update(
        dedup_key=""
    )
    backfill = importlib.import_module(
        "transactions.migrations.0006_start_16_event_dedup_key"
    ).backfill
    backfill(django_apps, None)

    assert _start_16(station) == tx_id
    assert TransactionEvent.objects.filter(transaction_id=tx_id).count() == 1
    assert Transaction.objects.filter(station=station).count() == 1

"""The transaction path's statements (transactions.statements) read and write what the ORM
would, in fewer round trips; run on PostgreSQL in CI (DATABASE_URL), on SQLite by default."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DataError, connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from ocpp_router.datetimes import to_ocpp, utcnow
from transactions import authorization, services, statements
from transactions.models import IdToken, MeterValue, Tariff, Transaction, TransactionEvent
from transactions.tests.factories import start_16

pytestmark = [pytest.mark.django_db, pytest.mark.station(identity="STMT 1", protocol="1.6")]

T0 = utcnow().replace(microsecond=0) - timedelta(hours=1)


def field_values(obj):
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_locked_transaction_is_the_row_the_orm_reads_with_its_tariff_and_station_identity(
    station,
):
    tariff = Tariff.objects.create(name="T", price_per_kwh=Decimal("0.3120"), station=station)
    stored = Transaction.objects.create(
        station=station,
        ocpp_version="1.6",
        transaction_id="42",
        id_token_value="TAG",
        started_at=T0,
        last_reading_at=T0 + timedelta(minutes=5, microseconds=123456),
        meter_start=Decimal("1000.125"),
        energy_wh=Decimal("12.5"),
        tariff=tariff,
        total_cost=Decimal("3.90"),
        anomalies=["offline", "seq_gap"],
        offline=True,
    )
    locked = statements.transaction_lock(statements.TX_BY_ID_16, [station.pk, "1.6", "42"])
    assert locked is not None
    assert field_values(locked.transaction) == field_values(Transaction.objects.get(pk=stored.pk))
    assert locked.identity == "STMT 1"
    with CaptureQueriesContext(connection) as queries:
        assert field_values(locked.transaction.tariff) == field_values(tariff)
    assert len(queries) == 0
    assert statements.transaction_lock(statements.TX_BY_ID_16, [station.pk, "2.0.1", "42"]) is None


def test_token_lookup_matches_16_idtags_on_the_value_and_2x_tokens_on_value_and_type():
    first = IdToken.objects.create(value="CARD", type="ISO15693")
    IdToken.objects.create(value="CARD", type="ISO14443", status="Blocked")
    row16 = statements.id_token_row(
        value="CARD", type="", concurrent_check=True, exclude_transaction_pk=None
    )
    row2 = statements.id_token_row(
        value="CARD", type="ISO14443", concurrent_check=False, exclude_transaction_pk=None
    )
    assert row16 is not None and row2 is not None
    assert (row16.pk, row16.status) == (first.pk, "Accepted")
    assert row2.status == "Blocked"
    assert (
        statements.id_token_row(
            value="CARD", type="eMAID", concurrent_check=True, exclude_transaction_pk=None
        )
        is None
    )


def test_a_token_the_operator_blocks_is_refused_at_the_next_request():
    IdToken.objects.create(value="LOST", expiry_date=utcnow() + timedelta(days=1))
    assert authorization.id_token_authorize(value="LOST", version="1.6").status == "Accepted"
    IdToken.objects.filter(value="LOST").update(status="Blocked")
    assert authorization.id_token_authorize(value="LOST", version="1.6").status == "Blocked"
    IdToken.objects.filter(value="LOST").update(status="Accepted", expiry_date=T0)
    assert authorization.id_token_authorize(value="LOST", version="1.6").status == "Expired"


def test_concurrent_tx_check_leaves_out_the_transaction_being_applied(station):
    IdToken.objects.create(value="BUSY")
    tx = Transaction.objects.create(
        station=station,
        ocpp_version="1.6",
        transaction_id="1",
        id_token_value="BUSY",
        auth_status="Accepted",
    )
    authorize = authorization.id_token_authorize
    assert authorize(value="BUSY", version="1.6").status == "ConcurrentTx"
    assert authorize(value="BUSY", version="1.6", exclude_transaction_pk=tx.pk).accepted


def test_tariff_lookup_takes_the_station_tariff_before_the_active_default(station):
    assert statements.tariff_for_station(station.pk) is None
    default = Tariff.objects.create(name="Default", price_per_kwh=Decimal("0.30"))
    Tariff.objects.create(name="Old", station=station, price_per_kwh=Decimal("0.1"), active=False)
    assert statements.tariff_for_station(station.pk) == default
    own = Tariff.objects.create(name="Own", station=station, price_per_kwh=Decimal("0.20"))
    found = statements.tariff_for_station(station.pk)
    assert found == own and found.price_per_kwh == Decimal("0.2000")


def test_insert_ignoring_conflicts_tells_a_repeat_from_a_new_row(station):
    def event():
        return TransactionEvent(
            station=station,
            kind="Meter16",
            dedup_key="meter:abc",
            timestamp=T0,
            received_at=T0,
            payload={"connectorId": 1},
        )

    first, repeat = event(), event()
    key = statements.event_key(first)
    assert statements.INSERT_EVENT.one(first, key) and first.pk is not None
    assert not statements.INSERT_EVENT.one(repeat, key) and repeat.pk is None
    assert TransactionEvent.objects.get().payload == {"connectorId": 1}


def test_meter_values_on_a_known_transaction_read_then_store_in_one_statement(station):
    start = start_16(station, T0)
    meter_value = [
        {
            "timestamp": to_ocpp(T0 + timedelta(minutes=1)),
            "sampledValue": [{"value": "1500"}, {"value": "7200", "measurand": "Power.Offered"}],
        }
    ]
    with CaptureQueriesContext(connection) as queries:
        services.meter_values_record_16(
            station_pk=station.pk,
            connector_id=1,
            transaction_id=start.answer["transactionId"],
            meter_value=meter_value,
            payload={},
            identity=station.identity,
        )
    # The test runs in a transaction: an atomic block is a savepoint here.
    statements_run = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
    assert "FOR UPDATE" not in statements_run[0]
    if connection.vendor == "postgresql":
        # Read; then, if the transaction is unchanged, the event, its values and the
        # transaction's UPDATE in one statement.
        assert [sql.split()[0] for sql in statements_run] == ["SELECT", "WITH"]
        update = statements_run[-1].split("UPDATE", 1)[1]
    else:
        expected = ["SELECT", "SELECT", "INSERT", "INSERT", "UPDATE"]
        assert [sql.split()[0] for sql in statements_run] == expected
        update = statements_run[-1]
    assert "energy_wh" in update and "event_count" in update
    assert "id_token_value" not in update and "stop_reason" not in update
    tx = Transaction.objects.get(pk=start.transaction_pk)
    assert (tx.energy_wh, tx.event_count, tx.meter_values.count()) == (Decimal(500), 2, 2)


def _meter_event(station, key="meter:store", transaction=None):
    return TransactionEvent(
        station=station,
        transaction=transaction,
        kind="Meter16",
        dedup_key=key,
        timestamp=T0,
        received_at=T0,
        payload={"connectorId": 1},
    )


def _meter_rows(station, transaction=None):
    return [
        MeterValue(
            station=station,
            transaction=transaction,
            evse_id=1,
            connector_id=1,
            timestamp=T0,
            measurand="Energy.Active.Import.Register",
            unit="kWh",
            value=Decimal("12.3456789012"),
        ),
        MeterValue(
            station=station,
            transaction=transaction,
            evse_id=None,
            connector_id=None,
            timestamp=T0 + timedelta(seconds=1),
            measurand="Voltage",
            phase="L1-N",
            value=None,
            signed_data={"format": "SignedData", "value": "AbC=="},
        ),
    ]


@pytest.mark.parametrize("one_statement_rows", [100, 1])
def test_event_store_writes_the_event_its_values_and_the_update_as_the_orm_would(
    station, monkeypatch, one_statement_rows
):
    # More values than fit one statement are stored in a few (the same rows).
    monkeypatch.setattr(statements, "ONE_STATEMENT_ROWS", one_statement_rows)
    tx = Transaction.objects.create(
        station=station, ocpp_version="1.6", transaction_id="7", id_token_value="TAG"
    )
    tx.energy_wh, tx.event_count = Decimal("500.000"), 3
    update = statements.transaction_update(("energy_wh", "event_count"))
    event, rows = _meter_event(station, transaction=tx), _meter_rows(station, tx)

    assert statements.event_store(event, rows, update, statements.update_values(tx, update))

    stored = TransactionEvent.objects.get()
    assert stored.pk == event.pk and stored.payload == {"connectorId": 1}
    values = list(MeterValue.objects.order_by("timestamp"))
    assert [v.event_id for v in values] == [event.pk, event.pk]
    assert [v.transaction_id for v in values] == [tx.pk, tx.pk]
    # Rounded to the column's nine places, as a plain INSERT rounds it.
    assert values[0].value == Decimal("12.345678901") and values[0].unit == "kWh"
    assert (values[1].evse_id, values[1].value, values[1].phase) == (None, None, "L1-N")
    assert values[1].signed_data == {"format": "SignedData", "value": "AbC=="}
    tx.refresh_from_db()
    assert (tx.energy_wh, tx.event_count) == (Decimal(500), 3)


def test_event_store_of_a_repeat_stores_nothing_and_updates_nothing(station):
    tx = Transaction.objects.create(
        station=station, ocpp_version="1.6", transaction_id="8", event_count=1
    )
    assert statements.event_store(_meter_event(station, transaction=tx), _meter_rows(station, tx))
    tx.event_count = 5
    update = statements.transaction_update(("event_count",))
    repeat = _meter_event(station, transaction=tx)

    stored = statements.event_store(
        repeat, _meter_rows(station, tx), update, statements.update_values(tx, update)
    )

    assert not stored and repeat.pk is None
    assert TransactionEvent.objects.count() == 1 and MeterValue.objects.count() == 2
    tx.refresh_from_db()
    assert tx.event_count == 1


def test_event_store_refuses_a_value_too_long_for_its_column_rather_than_cutting_it(station):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite does not enforce text lengths")
    rows = _meter_rows(station)
    rows[0].measurand = "M" * 65  # the column holds 64

    with pytest.raises(DataError), transaction.atomic():
        statements.event_store(_meter_event(station), rows)

    assert not TransactionEvent.objects.exists() and not MeterValue.objects.exists()


def test_event_store_without_values_stores_the_event(station):
    event = _meter_event(station, key="")
    assert statements.event_store(event, [])
    assert TransactionEvent.objects.get().pk == event.pk


def test_event_store_with_a_guard_stores_nothing_once_the_transaction_changed(station):
    tx = Transaction.objects.create(
        station=station, ocpp_version="1.6", transaction_id="9", event_count=1
    )
    read = statements.transaction_lock(statements.TX_BY_ID_16_READ, [station.pk, "1.6", "9"])
    Transaction.objects.get(pk=tx.pk).save()  # an operator's save: `updated` moves on
    changed = read.transaction
    changed.event_count = 2
    update = statements.transaction_update(("event_count",))

    stored = statements.event_store(
        _meter_event(station, transaction=changed),
        _meter_rows(station, changed),
        update,
        statements.update_values(changed, update),
        guard=(tx.pk, read.loaded["updated"]),
    )

    assert stored is None
    assert not TransactionEvent.objects.exists() and not MeterValue.objects.exists()
    tx.refresh_from_db()
    assert tx.event_count == 1


def test_event_store_with_a_guard_stores_all_while_the_transaction_is_as_read(station):
    Transaction.objects.create(station=station, ocpp_version="1.6", transaction_id="10")
    read = statements.transaction_lock(statements.TX_BY_ID_16_READ, [station.pk, "1.6", "10"])
    read.transaction.event_count = 4
    update = statements.transaction_update(("event_count",))
    event = _meter_event(station, transaction=read.transaction)

    stored = statements.event_store(
        event,
        _meter_rows(station, read.transaction),
        update,
        statements.update_values(read.transaction, update),
        guard=(read.transaction.pk, read.loaded["updated"]),
    )

    assert stored is True and event.pk is not None
    assert MeterValue.objects.filter(event=event).count() == 2
    assert Transaction.objects.get().event_count == 4


def test_meter_values_are_applied_under_a_lock_when_the_transaction_changed_after_the_read(
    station, monkeypatch
):
    start = start_16(station, T0)
    read = statements.transaction_lock
    queries = []

    def read_then_another_writer(query, values):
        queries.append(query)
        found = read(query, values)
        if query is statements.TX_BY_ID_16_READ:
            # Another writer commits between our read and our store.
            Transaction.objects.filter(pk=start.transaction_pk).update(
                event_count=F("event_count") + 5, updated=utcnow()
            )
        return found

    monkeypatch.setattr(statements, "transaction_lock", read_then_another_writer)
    outcome = services.meter_values_record_16(
        station_pk=station.pk,
        connector_id=1,
        transaction_id=start.answer["transactionId"],
        meter_value=[
            {"timestamp": to_ocpp(T0 + timedelta(minutes=1)), "sampledValue": [{"value": "1500"}]}
        ],
        payload={},
    )

    assert queries == [statements.TX_BY_ID_16_READ, statements.TX_BY_ID_16]
    assert not outcome.duplicate
    tx = Transaction.objects.get(pk=start.transaction_pk)
    # The other writer's change kept, this message applied on top of it, once.
    assert (tx.event_count, tx.energy_wh) == (1 + 5 + 1, Decimal(500))
    assert TransactionEvent.objects.filter(kind="Meter16").count() == 1
    assert tx.meter_values.count() == 1

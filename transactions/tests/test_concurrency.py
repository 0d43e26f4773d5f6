"""The same transaction message delivered twice at the same moment (two connections, two
worker threads) is applied once: unique constraints and row locks, not luck. Run on
PostgreSQL in CI (DATABASE_URL), on SQLite by default."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection

from ocpp_router.datetimes import to_ocpp, utcnow
from transactions import services
from transactions.choices import Anomaly
from transactions.models import MeterValue, Transaction, TransactionEvent
from transactions.tests.factories import start_16

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.station(identity="RACE")]

COPIES = 4
T0 = utcnow().replace(microsecond=0)


def at_once(func, **kwargs):
    """Run `func(**kwargs)` in COPIES threads released together; their results."""
    return each_at_once(func, [kwargs] * COPIES)


def each_at_once(func, calls):
    """Run `func(**kwargs)` for each of `calls` in a thread of its own, released together."""
    barrier = threading.Barrier(len(calls))

    def run(kwargs):
        barrier.wait()
        try:
            return func(**kwargs)
        finally:
            close_old_connections()
            connection.close()

    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(run, kwargs) for kwargs in calls]]


def test_e13_concurrent_duplicate_transaction_events_insert_once(station):
    payload = {
        "eventType": "Started",
        "timestamp": to_ocpp(T0),
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "RACE-1"},
        "idToken": {"idToken": "NOBODY", "type": "ISO14443"},
        "meterValue": [{"timestamp": to_ocpp(T0), "sampledValue": [{"value": 10}, {"value": 20}]}],
    }
    outcomes = at_once(
        services.transaction_event_record, station_pk=station.pk, version="2.0.1", payload=payload
    )
    assert sorted(o.duplicate for o in outcomes) == [False] + [True] * (COPIES - 1)
    assert len({str(o.answer) for o in outcomes}) == 1
    assert Transaction.objects.filter(station=station).count() == 1
    assert TransactionEvent.objects.filter(station=station).count() == 1
    assert MeterValue.objects.filter(station=station).count() == 2


def test_e13_concurrent_duplicate_16_start_transactions_get_one_transaction_id(station):
    outcomes = at_once(
        services.transaction_start_16,
        station_pk=station.pk,
        connector_id=1,
        id_tag="TAG",
        meter_start=100,
        timestamp=T0,
        reservation_id=None,
        payload={},
    )
    assert len({o.answer["transactionId"] for o in outcomes}) == 1
    assert sum(not o.duplicate for o in outcomes) == 1
    assert Transaction.objects.filter(station=station).count() == 1
    assert TransactionEvent.objects.filter(station=station).count() == 1


def test_e13_concurrent_duplicate_16_meter_values_store_one_set_of_rows(station):
    meter_value = [
        {"timestamp": to_ocpp(T0 + timedelta(minutes=1)), "sampledValue": [{"value": "5"}]}
    ]
    outcomes = at_once(
        services.meter_values_record_16,
        station_pk=station.pk,
        connector_id=1,
        transaction_id=None,
        meter_value=meter_value,
        payload={},
    )
    assert sum(not o.duplicate for o in outcomes) == 1
    assert MeterValue.objects.filter(station=station).count() == 1


def test_e13_concurrent_duplicate_16_stops_stop_once(station):
    start = start_16(station, T0, meter_start=0)
    outcomes = at_once(
        services.transaction_stop_16,
        station_pk=station.pk,
        transaction_id=start.answer["transactionId"],
        id_tag="",
        meter_stop=800,
        timestamp=T0 + timedelta(minutes=5),
        reason="Local",
        transaction_data=[
            {"timestamp": to_ocpp(T0 + timedelta(minutes=5)), "sampledValue": [{"value": "800"}]}
        ],
        payload={},
    )
    assert sum(not o.duplicate for o in outcomes) == 1
    tx = Transaction.objects.get(pk=start.transaction_pk)
    assert tx.energy_wh == 800 and tx.event_count == 2
    assert MeterValue.objects.filter(transaction=tx).count() == 1


def test_concurrent_meter_values_of_one_transaction_are_all_applied(station):
    # Each is stored in one statement if the transaction is as it read it, else applied
    # again under a lock: none may overwrite another's update.
    start = start_16(station, T0)
    calls = [
        {
            "station_pk": station.pk,
            "connector_id": 1,
            "transaction_id": start.answer["transactionId"],
            "meter_value": [
                {
                    "timestamp": to_ocpp(T0 + timedelta(minutes=n)),
                    "sampledValue": [{"value": str(1000 + 100 * n)}],
                }
            ],
            "payload": {"n": n},
        }
        for n in range(1, COPIES * 2 + 1)
    ]
    outcomes = each_at_once(services.meter_values_record_16, calls)
    assert not any(o.duplicate for o in outcomes)
    tx = Transaction.objects.get(pk=start.transaction_pk)
    assert tx.event_count == 1 + len(calls)
    assert tx.energy_wh == 100 * len(calls)
    assert tx.meter_values.count() == len(calls)


def test_concurrent_transaction_events_of_one_transaction_are_all_applied(station):
    services.transaction_event_record(
        station_pk=station.pk,
        version="2.0.1",
        payload={
            "eventType": "Started",
            "timestamp": to_ocpp(T0),
            "triggerReason": "CablePluggedIn",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "RACE-2"},
            "meterValue": [{"timestamp": to_ocpp(T0), "sampledValue": [{"value": 1000}]}],
        },
    )
    calls = [
        {
            "station_pk": station.pk,
            "version": "2.0.1",
            "payload": {
                "eventType": "Updated",
                "timestamp": to_ocpp(T0 + timedelta(minutes=n)),
                "triggerReason": "MeterValuePeriodic",
                "seqNo": n,
                "transactionInfo": {"transactionId": "RACE-2"},
                "meterValue": [
                    {
                        "timestamp": to_ocpp(T0 + timedelta(minutes=n)),
                        "sampledValue": [{"value": 1000 + 100 * n}],
                    }
                ],
            },
        }
        for n in range(1, COPIES * 2 + 1)
    ]
    outcomes = each_at_once(services.transaction_event_record, calls)
    assert not any(o.duplicate for o in outcomes)
    tx = Transaction.objects.get(station=station)
    assert (tx.event_count, tx.min_seq_no, tx.max_seq_no) == (1 + len(calls), 0, len(calls))
    assert tx.energy_wh == 100 * len(calls)
    assert Anomaly.SEQ_GAP not in tx.anomalies
    assert TransactionEvent.objects.filter(transaction=tx).count() == 1 + len(calls)


def test_concurrent_duplicate_meter_values_of_a_transaction_count_once(station):
    start = start_16(station, T0)
    outcomes = at_once(
        services.meter_values_record_16,
        station_pk=station.pk,
        connector_id=1,
        transaction_id=start.answer["transactionId"],
        meter_value=[
            {"timestamp": to_ocpp(T0 + timedelta(minutes=1)), "sampledValue": [{"value": "1500"}]}
        ],
        payload={},
    )
    assert sum(not o.duplicate for o in outcomes) == 1
    tx = Transaction.objects.get(pk=start.transaction_pk)
    assert (tx.event_count, tx.energy_wh, tx.meter_values.count()) == (2, 500, 1)

"""Open transactions kept between messages (transactions.open_transactions): a MeterValues or
TransactionEvent Updated after one stored by this process skips reading its transaction, and
whatever changed the transaction meanwhile is still applied, never overwritten."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from ocpp_router.datetimes import to_ocpp, utcnow
from transactions import services
from transactions.models import Tariff, Transaction
from transactions.open_transactions import open_transactions
from transactions.tests import factories

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.station(identity="OPEN-1", protocol="1.6"),
]

T0 = utcnow().replace(microsecond=0) - timedelta(hours=1)


def start_16(station):
    return factories.start_16(station, T0, identity=station.identity)


def meter_16(station, tx_pk, minutes, wh):
    values = [
        {
            "timestamp": to_ocpp(T0 + timedelta(minutes=minutes)),
            "sampledValue": [{"value": str(wh), "unit": "Wh"}],
        }
    ]
    return services.meter_values_record_16(
        station_pk=station.pk,
        connector_id=1,
        transaction_id=tx_pk,
        meter_value=values,
        payload={"connectorId": 1, "transactionId": tx_pk, "meterValue": values},
        identity=station.identity,
    )


def counts():
    return open_transactions.hits, open_transactions.misses


def test_meter_values_after_the_start_skip_the_read_and_store_the_same(station):
    Tariff.objects.create(name="T", price_per_kwh=Decimal("0.50"))
    tx_pk = start_16(station).transaction_pk
    hits, misses = counts()
    for minute, wh in ((1, 2000), (2, 3000), (3, 4500)):
        assert not meter_16(station, tx_pk, minute, wh).duplicate
    assert counts() == (hits + 3, misses)
    tx = Transaction.objects.get(pk=tx_pk)
    assert (tx.event_count, tx.energy_wh, tx.total_cost) == (4, 3500, Decimal("1.75"))
    assert tx.last_event_at == T0 + timedelta(minutes=3)
    # A repeat is answered as one, from the transaction kept or read.
    assert meter_16(station, tx_pk, 3, 4500).duplicate
    assert Transaction.objects.get(pk=tx_pk).event_count == 4


def test_a_change_made_elsewhere_meanwhile_is_kept_and_the_message_applied_to_it(station):
    tx_pk = start_16(station).transaction_pk
    meter_16(station, tx_pk, 1, 2000)
    # Another process (or an operator in the admin) changes the transaction: its copy kept
    # here is stale now.
    other = Transaction.objects.get(pk=tx_pk)
    other.event_count += 10
    other.anomalies = [*other.anomalies, "operator-note"]
    other.save()
    hits = open_transactions.hits
    meter_16(station, tx_pk, 2, 5000)
    assert open_transactions.hits == hits + 1  # taken, found stale by the guard, read again
    tx = Transaction.objects.get(pk=tx_pk)
    assert tx.event_count == 13  # 1 start + 1 + 10 elsewhere + 1
    assert tx.anomalies == ["operator-note"] and tx.energy_wh == 4000
    # And the message after it runs from what that one stored.
    meter_16(station, tx_pk, 3, 6000)
    assert open_transactions.hits == hits + 2
    assert Transaction.objects.get(pk=tx_pk).event_count == 14


def test_the_stop_forgets_the_transaction_and_reads_its_tariff_afresh(station):
    tariff = Tariff.objects.create(name="T", price_per_kwh=Decimal("0.50"))
    tx_pk = start_16(station).transaction_pk
    meter_16(station, tx_pk, 1, 3000)
    tariff.price_per_kwh = Decimal("1.00")
    tariff.save()
    services.transaction_stop_16(
        station_pk=station.pk,
        transaction_id=tx_pk,
        id_tag="",
        meter_stop=5000,
        timestamp=T0 + timedelta(minutes=5),
        reason="Local",
        transaction_data=[],
        payload={},
        identity=station.identity,
    )
    assert len(open_transactions) == 0
    tx = Transaction.objects.get(pk=tx_pk)
    assert tx.total_cost == Decimal("4.00") and not tx.is_active  # 4 kWh at the new price


def test_nothing_is_kept_from_a_database_transaction_that_rolls_back(station):
    tx_pk = start_16(station).transaction_pk
    open_transactions.clear()

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        meter_16(station, tx_pk, 1, 2000)
        raise Abort
    assert len(open_transactions) == 0
    meter_16(station, tx_pk, 1, 2000)
    tx = Transaction.objects.get(pk=tx_pk)
    assert (tx.event_count, tx.energy_wh) == (2, 1000)


def test_age_limit_and_size_limit(station, settings):
    tx_pk = start_16(station).transaction_pk
    settings.CSMS_TRANSACTION_CACHE_SECONDS = 0
    hits, misses = counts()
    meter_16(station, tx_pk, 1, 2000)
    assert counts() == (hits, misses + 1)
    settings.CSMS_TRANSACTION_CACHE = 0
    settings.CSMS_TRANSACTION_CACHE_SECONDS = 300
    meter_16(station, tx_pk, 2, 3000)
    assert len(open_transactions) == 0
    assert Transaction.objects.get(pk=tx_pk).energy_wh == 2000


def test_2x_updated_events_skip_the_read_and_the_ended_forgets(station):
    def event(seq_no, event_type, minutes, wh):
        return services.transaction_event_record(
            station_pk=station.pk,
            version="2.0.1",
            identity=station.identity,
            payload={
                "eventType": event_type,
                "timestamp": to_ocpp(T0 + timedelta(minutes=minutes)),
                "triggerReason": "MeterValuePeriodic",
                "seqNo": seq_no,
                "transactionInfo": {"transactionId": "TX-OPEN"},
                "meterValue": [
                    {
                        "timestamp": to_ocpp(T0 + timedelta(minutes=minutes)),
                        "sampledValue": [{"value": wh}],
                    }
                ],
            },
        )

    event(0, "Started", 0, 1000)
    hits, misses = counts()
    event(1, "Updated", 1, 2500)
    event(2, "Updated", 2, 4000)
    assert counts() == (hits + 2, misses)
    event(3, "Ended", 3, 5000)
    assert len(open_transactions) == 0
    tx = Transaction.objects.get(transaction_id="TX-OPEN")
    assert (tx.event_count, tx.energy_wh, tx.max_seq_no, tx.is_active) == (4, 4000, 3, False)

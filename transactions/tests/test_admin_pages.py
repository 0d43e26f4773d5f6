"""Transactions in the operator's admin: the session chart is drawn from the meter values a
station sent, the station page shows what is charging, and remote start/stop sent from the
admin reach the station and show its answer."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse
from ocpp.v16 import call as call16

from dashboard.charts import power_energy_chart_data
from stations.models import ChargingStation
from tests.live import connect, eventually
from tests.operator import csrf_post, http_client, staff_session, station_pk
from tests.test_charts import chart_of
from tests.test_ocpp_core import boot_call
from tests.test_transactions_live import T0, Remote16, remote_station, sampled, ts
from transactions import selectors
from transactions.models import IdToken, MeterValue, Transaction


@sync_to_async
def only_transaction(identity: str) -> Transaction:
    return Transaction.objects.get(station__identity=identity)


def command_url(pk: int, action: str) -> str:
    return reverse("admin:stations_chargingstation_command", args=[pk, action])


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def test_transaction_page_draws_power_and_energy_from_the_meter_values_sent(csms):
    session = await staff_session()
    async with connect(csms, "CHART16", "1.6") as cp, http_client(csms, session) as client:
        await cp.call(boot_call("1.6"))
        start = await cp.call(
            call16.StartTransaction(
                connector_id=1, id_tag="DRIVER", meter_start=1000, timestamp=ts(0)
            )
        )
        tx_id = start.transaction_id
        # Energy only (kWh, then Wh): power is derived from the energy between readings.
        for minutes, value, unit in ((10, "1.5", "kWh"), (20, "2500", "Wh")):
            await cp.call(
                call16.MeterValues(
                    connector_id=1,
                    transaction_id=tx_id,
                    meter_value=[
                        {
                            "timestamp": ts(minutes),
                            "sampled_value": [
                                sampled(value, unit=unit),
                                sampled("230", measurand="Voltage", unit="V"),
                            ],
                        }
                    ],
                )
            )
        tx = await only_transaction("CHART16")
        page = await client.get(reverse("admin:transactions_transaction_change", args=[tx.pk]))
        listing = await client.get(
            reverse("admin:transactions_transaction_changelist") + "?is_active__exact=1"
        )
        meter_url = re.search(r'<a href="([^"]+)">4 meter values</a>', page.text)
        messages_url = re.search(r'<a href="([^"]+)">messages of CHART16 ', page.text)
        assert meter_url and messages_url
        meter_list = await client.get(html.unescape(meter_url.group(1)))

        async def logged():
            # The message log is written in batches: wait for the session's frames.
            found = await client.get(html.unescape(messages_url.group(1)))
            return found if "MeterValues" in found.text else None

        message_list = await eventually(logged)
    assert page.status_code == 200
    # 1000 Wh in 10 minutes is 6 kW; energy counts from meterStart (1000 Wh).
    expected = power_energy_chart_data(
        [(at(10), 6000.0), (at(20), 6000.0)],
        [(at(10), 500.0), (at(20), 1500.0)],
        title=f"Transaction {tx_id}",
    )
    assert 'id="transaction-chart"' in page.text
    assert chart_of(page.text) == expected
    assert "1.500 kWh" in page.text  # energy so far
    assert "DRIVER" in listing.text and "1.500 kWh" in listing.text
    # The linked lists hold the transaction's meter values and the messages they came in.
    assert meter_list.status_code == 200 and "Voltage" in meter_list.text
    assert message_list.status_code == 200
    assert "MeterValues" in message_list.text and "StartTransaction" in message_list.text


@pytest.mark.django_db
def test_power_comes_from_power_values_in_their_units_and_phases_sum():
    station = ChargingStation.objects.create(identity="P-201", protocol="2.0.1")
    tx = Transaction.objects.create(
        station=station, ocpp_version="2.0.1", transaction_id="T-1", started_at=at(0)
    )

    def row(minutes, measurand, value, unit, phase="", multiplier=0):
        MeterValue.objects.create(
            station=station,
            transaction=tx,
            timestamp=at(minutes),
            measurand=measurand,
            phase=phase,
            unit=unit,
            multiplier=multiplier,
            value=Decimal(value),
        )

    row(0, "Energy.Active.Import.Register", "12", "kWh")
    row(0, "Power.Active.Import", "7.4", "kW")
    row(5, "Energy.Active.Import.Register", "12600", "Wh")
    row(5, "Power.Active.Import", "2", "W", phase="L1", multiplier=3)
    row(5, "Power.Active.Import", "2500", "W", phase="L2")
    power, energy = selectors.transaction_power_energy(tx)
    assert power == [(at(0), 7400.0), (at(5), 4500.0)]
    assert energy == [(at(0), 0.0), (at(5), 600.0)]


async def test_f01_f03_admin_remote_start_and_stop_reach_a_16_station_and_show_its_answers(csms):
    session = await staff_session()
    async with (
        connect(csms, "ADMTX16", "1.6", charge_point_class=Remote16) as cp,
        http_client(csms, session) as client,
    ):
        await cp.call(boot_call("1.6"))
        pk = await station_pk("ADMTX16")
        station_page = await client.get(reverse("admin:stations_chargingstation_change", args=[pk]))
        assert command_url(pk, "RemoteStartTransaction") in station_page.text
        assert "No transaction is running." in station_page.text
        # The operator picks a token the CSMS knows; an unknown one is refused unsent.
        await IdToken.objects.acreate(value="OPERATOR-7", status="Accepted")
        form = await client.get(command_url(pk, "RemoteStartTransaction"))
        assert 'list="f__idTag-tokens"' in form.text and '<option value="OPERATOR-7">' in form.text
        refused = await csrf_post(
            client,
            command_url(pk, "RemoteStartTransaction"),
            {"f__idTag": "NOBODY", "f__connectorId": "2"},
        )
        assert "No id token &#x27;NOBODY&#x27; is known" in refused.text
        started = await csrf_post(
            client,
            command_url(pk, "RemoteStartTransaction"),
            {"f__idTag": "OPERATOR-7", "f__connectorId": "2"},
        )
        assert "ADMTX16 answered RemoteStartTransaction: Accepted" in html.unescape(started.text)
        await cp.task
        tx = await only_transaction("ADMTX16")
        assert (tx.id_token_value, tx.evse_id, tx.is_active) == ("OPERATOR-7", 2, True)
        station_page = await client.get(reverse("admin:stations_chargingstation_change", args=[pk]))
        tx_url = reverse("admin:transactions_transaction_change", args=[tx.pk])
        assert 'id="active-transactions"' in station_page.text and tx_url in station_page.text
        stop_link = command_url(pk, "RemoteStopTransaction") + "?f__transactionId="
        assert stop_link + tx.transaction_id in station_page.text
        # The stop form starts from the running transaction.
        stop_form = await client.get(command_url(pk, "RemoteStopTransaction"))
        assert f'name="f__transactionId" value="{tx.transaction_id}"' in stop_form.text
        stopped = await csrf_post(
            client,
            command_url(pk, "RemoteStopTransaction"),
            {"f__transactionId": tx.transaction_id},
        )
        assert "ADMTX16 answered RemoteStopTransaction: Accepted" in html.unescape(stopped.text)
        await cp.task
    tx = await only_transaction("ADMTX16")
    assert not tx.is_active and tx.stop_reason == "Remote"


async def test_f01_f03_admin_request_start_and_stop_reach_a_201_station(csms):
    session = await staff_session()
    async with (
        connect(csms, "ADMTX201", "2.0.1", charge_point_class=remote_station("2.0.1")) as cp,
        http_client(csms, session) as client,
    ):
        await cp.call(boot_call("2.0.1"))
        pk = await station_pk("ADMTX201")
        await IdToken.objects.acreate(value="OPERATOR", type="Central", status="Accepted")
        start_form = await client.get(command_url(pk, "RequestStartTransaction"))
        assert 'name="f__remoteStartId"' in start_form.text
        started = await csrf_post(
            client,
            command_url(pk, "RequestStartTransaction"),
            {
                "f__remoteStartId": "41",
                "f__idToken__idToken": "OPERATOR",
                "f__idToken__type": "Central",
                "f__evseId": "1",
            },
        )
        assert "ADMTX201 answered RequestStartTransaction: Accepted" in html.unescape(started.text)
        await cp.task
        tx = await only_transaction("ADMTX201")
        assert tx.remote_start_id == 41 and tx.is_active
        stop_form = await client.get(command_url(pk, "RequestStopTransaction"))
        assert 'name="f__transactionId" value="R-1"' in stop_form.text
        picked = await client.get(
            command_url(pk, "RequestStopTransaction") + "?f__transactionId=OTHER-9"
        )
        assert 'name="f__transactionId" value="OTHER-9"' in picked.text
        stopped = await csrf_post(
            client, command_url(pk, "RequestStopTransaction"), {"f__transactionId": "R-1"}
        )
        assert "ADMTX201 answered RequestStopTransaction: Accepted" in html.unescape(stopped.text)
        await cp.task
    tx = await only_transaction("ADMTX201")
    assert not tx.is_active and tx.stop_reason == "Remote"

"""Authorization, transactions, meter values, reservations, remote start/stop and local lists,
end to end: the `ocpp` package's ChargePoint against the real server, for every version."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call as call21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from csms import events
from ocpp_router.datetimes import to_ocpp, utcnow
from stations.models import ChargingStation
from tests.live import connect, eventually
from tests.test_ocpp_core import boot_call
from transactions import authorization, remote, reservations
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

V2 = ["2.0.1", "2.1"]
CALLS = {"2.0.1": call201, "2.1": call21}
T0 = utcnow().replace(microsecond=0) - timedelta(hours=1)


def ts(minutes: float) -> str:
    return to_ocpp(T0 + timedelta(minutes=minutes))


@sync_to_async
def make_token(value: str, **fields) -> IdToken:
    return IdToken.objects.create(value=value, **fields)


@sync_to_async
def make_tariff(**fields) -> Tariff:
    return Tariff.objects.create(name="Standard", **fields)


@sync_to_async
def transactions_of(identity: str) -> list[Transaction]:
    return list(
        Transaction.objects.filter(station__identity=identity)
        .order_by("id")
        .select_related("reservation", "remote_start_request")
    )


@sync_to_async
def meter_rows(**filters) -> list[MeterValue]:
    return list(MeterValue.objects.filter(**filters).order_by("timestamp", "id"))


@sync_to_async
def count(model, **filters) -> int:
    return model.objects.filter(**filters).count()


async def service(csms, func, **kwargs):
    """Run a sync service the way a view does: its station calls travel the server's layer."""
    return await csms.run(sync_to_async(func, thread_sensitive=False)(**kwargs))


@pytest.fixture
def published():
    seen: list[events.Event] = []
    events.subscribe(seen.append)
    yield seen
    events._subscribers.remove(seen.append)


def sampled(value, *, unit=None, measurand=None, context=None, version="1.6"):
    item: dict = {"value": str(value) if version == "1.6" else value}
    if measurand:
        item["measurand"] = measurand
    if context:
        item["context"] = context
    if unit:
        if version == "1.6":
            item["unit"] = unit
        else:
            item["unit_of_measure"] = {"unit": unit}
    return item


# --- OCPP 1.6 ---------------------------------------------------------------------------------


async def test_c01_e01_e06_16_full_session_authorize_start_meter_values_stop(csms, published):
    await make_token("TAG-1")
    await make_tariff(price_per_kwh=Decimal("0.30"), session_fee=Decimal("1.00"), currency="EUR")
    async with connect(csms, "TX16", "1.6") as cp:
        await cp.call(boot_call("1.6"))
        auth = await cp.call(call16.Authorize(id_tag="TAG-1"))
        assert auth.id_tag_info == {"status": "Accepted"}
        start = await cp.call(
            call16.StartTransaction(
                connector_id=1, id_tag="TAG-1", meter_start=1000, timestamp=ts(0)
            )
        )
        assert start.id_tag_info["status"] == "Accepted"
        tx_id = start.transaction_id
        assert isinstance(tx_id, int)
        await cp.call(
            call16.MeterValues(
                connector_id=1,
                transaction_id=tx_id,
                meter_value=[
                    {
                        "timestamp": ts(5),
                        "sampled_value": [
                            sampled(3000, unit="Wh"),
                            sampled(16.0, measurand="Current.Import", unit="A"),
                        ],
                    },
                    {"timestamp": ts(10), "sampled_value": [sampled("5.5", unit="kWh")]},
                ],
            )
        )
        # A second token while the first is charging; then the same token again.
        concurrent = await cp.call(call16.Authorize(id_tag="TAG-1"))
        assert concurrent.id_tag_info["status"] == "ConcurrentTx"
        stop = await cp.call(
            call16.StopTransaction(
                meter_stop=11000,
                timestamp=ts(20),
                transaction_id=tx_id,
                reason="EVDisconnected",
                id_tag="TAG-1",
                transaction_data=[
                    {
                        "timestamp": ts(20),
                        "sampled_value": [sampled(11000, context="Transaction.End")],
                    }
                ],
            )
        )
        assert stop.id_tag_info["status"] == "Accepted"

    [tx] = await transactions_of("TX16")
    assert tx.transaction_id == str(tx_id)
    assert (tx.evse_id, tx.connector_id, tx.id_token_value) == (1, 1, "TAG-1")
    assert tx.started_at == T0 and tx.stopped_at == T0 + timedelta(minutes=20)
    assert (tx.meter_start, tx.meter_stop, tx.energy_wh) == (1000, 11000, 10000)
    assert tx.stop_reason == "EVDisconnected" and not tx.is_active
    assert tx.total_cost == Decimal("4.00") and tx.currency == "EUR"  # 1.00 + 10 kWh * 0.30
    assert tx.anomalies == []
    rows = await meter_rows(transaction=tx)
    assert [(r.measurand, r.value, r.unit) for r in rows] == [
        ("Energy.Active.Import.Register", 3000, "Wh"),
        ("Current.Import", 16, "A"),
        ("Energy.Active.Import.Register", Decimal("5.5"), "kWh"),
        ("Energy.Active.Import.Register", 11000, ""),
    ]
    kinds = [e.kind for e in published if e.kind.startswith("transaction.")]
    assert kinds == ["transaction.started", "transaction.updated", "transaction.ended"]
    [ended] = [e for e in published if e.kind == "transaction.ended"]
    assert ended.station == "TX16" and ended.data["transaction_id"] == str(tx_id)
    assert ended.data["energy_wh"] == "10000.000" and ended.data["id_token"] == "TAG-1"
    assert ended.data["total_cost"] == "4.00"


async def test_j02_16_meter_values_use_the_transaction_kept_and_see_an_operator_change(csms):
    """The server keeps the transaction it stored for the next MeterValues
    (transactions.open_transactions); a change made meanwhile elsewhere is not lost."""
    from transactions.open_transactions import open_transactions

    await make_token("TAG-K")

    def meter(tx_id, minutes, wh):
        return call16.MeterValues(
            connector_id=1,
            transaction_id=tx_id,
            meter_value=[{"timestamp": ts(minutes), "sampled_value": [sampled(wh, unit="Wh")]}],
        )

    @sync_to_async
    def operator_edit(pk):
        tx = Transaction.objects.get(pk=pk)
        tx.anomalies = ["checked-by-operator"]
        tx.save()

    async with connect(csms, "TXKEEP", "1.6") as cp:
        await cp.call(boot_call("1.6"))
        start = await cp.call(
            call16.StartTransaction(connector_id=1, id_tag="TAG-K", meter_start=0, timestamp=ts(0))
        )
        hits = open_transactions.hits
        await cp.call(meter(start.transaction_id, 1, 1000))
        await cp.call(meter(start.transaction_id, 2, 2000))
        assert open_transactions.hits == hits + 2
        await operator_edit(start.transaction_id)
        await cp.call(meter(start.transaction_id, 3, 3000))
    [tx] = await transactions_of("TXKEEP")
    assert (tx.event_count, tx.energy_wh) == (4, 3000)
    assert tx.anomalies == ["checked-by-operator"] and tx.is_active


async def test_c01_16_authorize_answers_each_status_in_the_16_enumeration(csms):
    await make_token("OK")
    await make_token("BLOCKED", status="Blocked")
    await make_token("OLD", expiry_date=utcnow() - timedelta(days=1))
    await make_token("BROKE", status="NoCredit")
    async with connect(csms, "AUTH16", "1.6") as cp:
        await cp.call(boot_call("1.6"))
        statuses = {}
        for tag in ["OK", "BLOCKED", "OLD", "BROKE", "NOBODY"]:
            statuses[tag] = (await cp.call(call16.Authorize(id_tag=tag))).id_tag_info["status"]
    # 1.6 has no NoCredit and no Unknown: both are Invalid.
    assert statuses == {
        "OK": "Accepted",
        "BLOCKED": "Blocked",
        "OLD": "Expired",
        "BROKE": "Invalid",
        "NOBODY": "Invalid",
    }


async def test_e13_16_duplicates_change_nothing_and_get_the_same_answer(csms):
    await make_token("DUP")
    async with connect(csms, "DUP16", "1.6") as cp:
        await cp.call(boot_call("1.6"))
        start = call16.StartTransaction(
            connector_id=2, id_tag="DUP", meter_start=0, timestamp=ts(0)
        )
        first = await cp.call(start, unique_id="1")
        # The same message id again (a retry) and a fresh id (a replay after reconnect).
        again = await cp.call(start, unique_id="1")
        replay = await cp.call(start)
        assert first.transaction_id == again.transaction_id == replay.transaction_id
        assert again.id_tag_info == first.id_tag_info == {"status": "Accepted"}
        meter = call16.MeterValues(
            connector_id=2,
            transaction_id=first.transaction_id,
            meter_value=[{"timestamp": ts(1), "sampled_value": [sampled(500)]}],
        )
        await cp.call(meter)
        await cp.call(meter)
        stop = call16.StopTransaction(
            meter_stop=900, timestamp=ts(2), transaction_id=first.transaction_id
        )
        await cp.call(stop)
        await cp.call(stop)
    [tx] = await transactions_of("DUP16")
    assert tx.energy_wh == 900 and tx.stop_reason == "Local"
    assert await count(MeterValue, transaction=tx) == 1
    assert await count(TransactionEvent, transaction=tx) == 3


async def test_e13_16_transaction_id_minus_one_is_kept_and_flagged(csms):
    async with connect(csms, "MINUS16", "1.6") as cp:
        await cp.call(boot_call("1.6"))
        await cp.call(
            call16.MeterValues(
                connector_id=1,
                transaction_id=-1,
                meter_value=[{"timestamp": ts(1), "sampled_value": [sampled(100)]}],
            )
        )
        await cp.call(
            call16.MeterValues(
                connector_id=1, meter_value=[{"timestamp": ts(1), "sampled_value": [sampled(7)]}]
            )
        )
        stop = call16.StopTransaction(meter_stop=700, timestamp=ts(3), transaction_id=-1)
        answer = await cp.call(stop)
        await cp.call(stop)
        assert answer is not None
    [tx] = await transactions_of("MINUS16")
    assert tx.reported_transaction_id == -1 and not tx.is_active
    assert tx.meter_stop == 700
    assert set(tx.anomalies) == {"no_transaction_id", "started_missing"}
    loose = await sync_to_async(list)(
        TransactionEvent.objects.filter(station__identity="MINUS16", kind="Meter16").order_by("id")
    )
    assert [e.anomalies for e in loose] == [["no_transaction_id"], []]
    assert await count(MeterValue, station__identity="MINUS16", transaction=None) == 2


class Remote16(ChargePoint16):
    @on("RemoteStartTransaction")
    async def on_remote_start(self, id_tag, connector_id=None, **kwargs):
        async def start():
            await asyncio.sleep(0.05)
            self.started = await self.call(
                call16.StartTransaction(
                    connector_id=connector_id or 1, id_tag=id_tag, meter_start=0, timestamp=ts(0)
                )
            )

        self.task = asyncio.create_task(start())
        return result16.RemoteStartTransaction(status="Accepted")

    @on("RemoteStopTransaction")
    async def on_remote_stop(self, transaction_id, **kwargs):
        async def stop():
            await asyncio.sleep(0.05)
            await self.call(
                call16.StopTransaction(
                    meter_stop=2500,
                    timestamp=ts(30),
                    transaction_id=transaction_id,
                    reason="Remote",
                )
            )

        self.task = asyncio.create_task(stop())
        return result16.RemoteStopTransaction(status="Accepted")


async def test_f01_f03_16_remote_start_links_the_transaction_and_remote_stop_ends_it(csms):
    await make_token("APP-USER")
    async with connect(csms, "REMOTE16", "1.6", charge_point_class=Remote16) as cp:
        await cp.call(boot_call("1.6"))
        outcome, remote_start = await service(
            csms,
            remote.transaction_remote_start,
            identity="REMOTE16",
            id_token_value="APP-USER",
            evse_id=2,
        )
        assert outcome.ok and outcome.response == {"status": "Accepted"}
        await cp.task
        [tx] = await transactions_of("REMOTE16")
        assert tx.remote_start_request_id == remote_start.pk and tx.evse_id == 2
        assert (
            await sync_to_async(RemoteStart.objects.get)(pk=remote_start.pk)
        ).status == "Accepted"
        stop = await service(csms, remote.transaction_remote_stop, transaction_pk=tx.pk)
        assert stop.ok
        await cp.task
    [tx] = await transactions_of("REMOTE16")
    assert not tx.is_active and tx.stop_reason == "Remote" and tx.energy_wh == 2500


class Reserving16(ChargePoint16):
    @on("ReserveNow")
    async def on_reserve(self, **kwargs):
        self.reservation = kwargs
        return result16.ReserveNow(status="Accepted")

    @on("CancelReservation")
    async def on_cancel(self, reservation_id, **kwargs):
        return result16.CancelReservation(status="Accepted")

    @on("SendLocalList")
    async def on_send_local_list(self, **kwargs):
        self.lists = [*getattr(self, "lists", []), kwargs]
        return result16.SendLocalList(status="Accepted")

    @on("GetLocalListVersion")
    async def on_get_version(self, **kwargs):
        return result16.GetLocalListVersion(list_version=self.lists[-1]["list_version"])

    @on("ClearCache")
    async def on_clear_cache(self, **kwargs):
        return result16.ClearCache(status="Accepted")


async def test_h01_h02_h03_16_reservation_is_used_by_the_transaction_and_cancel_works(csms):
    async with connect(csms, "RES16", "1.6", charge_point_class=Reserving16) as cp:
        await cp.call(boot_call("1.6"))
        outcome, reservation = await service(
            csms,
            reservations.reservation_reserve,
            identity="RES16",
            id_token_value="GUEST",
            evse_id=1,
            expiry=utcnow() + timedelta(minutes=15),
        )
        assert outcome.ok and reservation.status == "Accepted"
        assert cp.reservation["reservation_id"] == reservation.reservation_id
        await cp.call(
            call16.StartTransaction(
                connector_id=1,
                id_tag="GUEST",
                meter_start=0,
                timestamp=ts(0),
                reservation_id=reservation.reservation_id,
            )
        )
        _, other = await service(
            csms,
            reservations.reservation_reserve,
            identity="RES16",
            id_token_value="LATER",
            expiry=utcnow() + timedelta(minutes=15),
        )
        cancel = await service(csms, reservations.reservation_cancel, reservation_pk=other.pk)
        assert cancel.ok
    [tx] = await transactions_of("RES16")
    assert tx.reservation_id == reservation.pk and tx.reservation.status == "Used"
    assert (await sync_to_async(Reservation.objects.get)(pk=other.pk)).status == "Cancelled"


async def test_d01_d02_16_local_list_full_then_differential_tracks_the_version(csms):
    await make_token("L1", in_local_list=True)
    await make_token("L2", in_local_list=True, status="Blocked")
    await make_token("NOT-LOCAL")
    async with connect(csms, "LIST16", "1.6", charge_point_class=Reserving16) as cp:
        await cp.call(boot_call("1.6"))
        full = await service(csms, authorization.local_list_send, identity="LIST16", full=True)
        assert full.ok
        assert cp.lists[0]["update_type"] == "Full" and cp.lists[0]["list_version"] == 1
        assert [e["id_tag"] for e in cp.lists[0]["local_authorization_list"]] == ["L1", "L2"]
        # One token changes, one leaves the list, one joins.
        await sync_to_async(IdToken.objects.filter(value="L2").update)(status="Accepted")
        await sync_to_async(IdToken.objects.filter(value="L1").update)(in_local_list=False)
        await make_token("L3", in_local_list=True)
        diff = await service(csms, authorization.local_list_send, identity="LIST16", full=False)
        assert diff.ok
        assert cp.lists[1]["update_type"] == "Differential" and cp.lists[1]["list_version"] == 2
        assert cp.lists[1]["local_authorization_list"] == [
            {"id_tag": "L1"},
            {"id_tag": "L2", "id_tag_info": {"status": "Accepted"}},
            {"id_tag": "L3", "id_tag_info": {"status": "Accepted"}},
        ]
        version = await service(csms, authorization.local_list_version_request, identity="LIST16")
        assert version.response == {"listVersion": 2}
        assert (await service(csms, authorization.auth_cache_clear, identity="LIST16")).ok
    state = await sync_to_async(LocalAuthList.objects.get)(station__identity="LIST16")
    assert (state.version, state.reported_version) == (2, 2)
    held = await sync_to_async(list)(
        LocalAuthListEntry.objects.filter(station__identity="LIST16").values_list(
            "id_token_value", flat=True
        )
    )
    assert sorted(held) == ["L2", "L3"]


# --- OCPP 2.0.1 / 2.1 ------------------------------------------------------------------------


def tx_event(version, event_type, seq_no, minutes, tx_id, **kwargs):
    info = {"transaction_id": tx_id, **kwargs.pop("info", {})}
    return CALLS[version].TransactionEvent(
        event_type=event_type,
        timestamp=ts(minutes),
        trigger_reason=kwargs.pop("trigger_reason", "Authorized"),
        seq_no=seq_no,
        transaction_info=info,
        **kwargs,
    )


def energy(version, minutes, wh, context=None, unit=None):
    return [
        {
            "timestamp": ts(minutes),
            "sampled_value": [
                sampled(wh, context=context, unit=unit, version=version),
                sampled(230.0, measurand="Voltage", unit="V", version=version),
            ],
        }
    ]


@pytest.mark.parametrize("version", V2)
async def test_e01_e06_i03_2x_full_session_answers_id_token_info_and_total_cost(
    csms, version, published
):
    await make_token("CARD-1", type="ISO14443", personal_message="Hello", language1="en")
    await make_tariff(
        price_per_kwh=Decimal("0.25"), price_per_minute=Decimal("0.10"), currency="EUR"
    )
    identity = f"TX-{version}"
    token = {"id_token": "CARD-1", "type": "ISO14443"}
    async with connect(csms, identity, version) as cp:
        await cp.call(boot_call(version))
        auth = await cp.call(CALLS[version].Authorize(id_token=token))
        assert auth.id_token_info["status"] == "Accepted"
        assert auth.id_token_info["personal_message"] == {
            "format": "UTF8",
            "content": "Hello",
            "language": "en",
        }
        started = await cp.call(
            tx_event(
                version,
                "Started",
                0,
                0,
                "TXN-A",
                id_token=token,
                evse={"id": 1, "connector_id": 1},
                meter_value=energy(version, 0, 2000, context="Transaction.Begin"),
                info={"charging_state": "Charging"},
                number_of_phases_used=3,
                cable_max_current=32,
            )
        )
        assert started.id_token_info["status"] == "Accepted"
        assert started.total_cost is None
        await cp.call(
            tx_event(
                version,
                "Updated",
                1,
                10,
                "TXN-A",
                trigger_reason="MeterValuePeriodic",
                meter_value=energy(version, 10, 4.5, unit="kWh"),
            )
        )
        ended = await cp.call(
            tx_event(
                version,
                "Ended",
                2,
                20,
                "TXN-A",
                trigger_reason="EVDeparted",
                meter_value=energy(version, 20, 8000, context="Transaction.End"),
                info={"stopped_reason": "EVDisconnected", "charging_state": "Idle"},
            )
        )
        # 6 kWh * 0.25 + 20 min * 0.10
        assert ended.total_cost == 3.5
    [tx] = await transactions_of(identity)
    assert (tx.transaction_id, tx.ocpp_version, tx.evse_id, tx.connector_id) == (
        "TXN-A",
        version,
        1,
        1,
    )
    assert (tx.meter_start, tx.meter_stop, tx.energy_wh) == (2000, 8000, 6000)
    assert tx.stop_reason == "EVDisconnected" and tx.charging_state == "Idle"
    assert (tx.number_of_phases_used, tx.cable_max_current, tx.max_seq_no) == (3, 32, 2)
    assert tx.total_cost == Decimal("3.50") and tx.anomalies == [] and not tx.is_active
    assert len(await meter_rows(transaction=tx)) == 6
    kinds = [e.kind for e in published if e.kind.startswith("transaction.")]
    assert kinds == ["transaction.started", "transaction.updated", "transaction.ended"]
    [ended_event] = [e for e in published if e.kind == "transaction.ended"]
    assert ended_event.data["total_cost"] == "3.50" and ended_event.data["energy_wh"] == "6000.000"


@pytest.mark.parametrize("version", V2)
async def test_c01_c07_2x_authorize_statuses_and_contract_certificate(csms, version):
    await make_token("GOOD", type="ISO14443")
    await make_token("BLOCK", type="ISO14443", status="Blocked")
    await make_token("EXP", type="ISO14443", expiry_date=utcnow() - timedelta(hours=1))
    await make_token("POOR", type="ISO14443", status="NoCredit")
    await make_token("EMAID1", type="eMAID")
    identity = f"AUTH-{version}"
    async with connect(csms, identity, version) as cp:
        await cp.call(boot_call(version))

        async def status(value, type_="ISO14443", **extra):
            answer = await cp.call(
                CALLS[version].Authorize(id_token={"id_token": value, "type": type_}, **extra)
            )
            return answer.id_token_info["status"], answer.certificate_status

        assert await status("GOOD") == ("Accepted", None)
        assert await status("BLOCK") == ("Blocked", None)
        assert await status("EXP") == ("Expired", None)
        assert await status("POOR") == ("NoCredit", None)
        assert await status("NOBODY") == ("Unknown", None)
        # The same value with another type is another token.
        assert await status("GOOD", "KeyCode") == ("Unknown", None)
        # OCPP 2.0.1 C07: a contract the CSMS cannot validate is not accepted.
        hash_data = [
            {
                "hash_algorithm": "SHA256",
                "issuer_name_hash": "a" * 64,
                "issuer_key_hash": "b" * 64,
                "serial_number": "1234",
                "responder_url": "http://ocsp.invalid",
            }
        ]
        # The `ocpp` package spells the field differently per version.
        field = {
            "2.0.1": "iso15118_certificate_hash_data",
            "2.1": "iso_15118_certificate_hash_data",
        }
        assert await status("EMAID1", "eMAID", **{field[version]: hash_data}) == (
            "Invalid",
            "NoCertificateAvailable",
        )
        assert await status("EMAID1", "eMAID", certificate="not a certificate") == (
            "Invalid",
            "SignatureError",
        )


@pytest.mark.parametrize("version", V2)
async def test_e12_2x_offline_replay_out_of_order_with_gap_is_stored_and_flagged(csms, version):
    identity = f"OFF-{version}"
    async with connect(csms, identity, version) as cp:
        await cp.call(boot_call(version))
    await eventually(lambda: _offline(identity))
    # The whole session happened offline; the queue is delivered after the reconnect, in
    # the wrong order, and seqNo 2 never comes.
    async with connect(csms, identity, version) as cp:
        ended = tx_event(
            version,
            "Ended",
            3,
            30,
            "OFF-1",
            offline=True,
            trigger_reason="EVDeparted",
            meter_value=energy(version, 30, 9000),
            info={"stopped_reason": "Local"},
        )
        answer = await cp.call(ended)
        assert answer is not None
        await cp.call(
            tx_event(
                version,
                "Updated",
                1,
                10,
                "OFF-1",
                offline=True,
                trigger_reason="MeterValuePeriodic",
                meter_value=energy(version, 10, 4000),
            )
        )
        await cp.call(
            tx_event(
                version,
                "Started",
                0,
                0,
                "OFF-1",
                offline=True,
                evse={"id": 2},
                id_token={"id_token": "X", "type": "Local"},
                meter_value=energy(version, 0, 1000),
            )
        )
    [tx] = await transactions_of(identity)
    assert not tx.is_active
    assert tx.started_at == T0 and tx.stopped_at == T0 + timedelta(minutes=30)
    assert (tx.meter_start, tx.meter_stop, tx.energy_wh) == (1000, 9000, 8000)
    assert tx.offline and tx.evse_id == 2 and tx.id_token_value == "X"
    assert set(tx.anomalies) == {"offline", "out_of_order", "seq_gap"}
    events_ = await sync_to_async(list)(tx.events.order_by("seq_no").values_list("seq_no", "kind"))
    assert events_ == [(0, "Started"), (1, "Updated"), (3, "Ended")]
    assert await count(MeterValue, transaction=tx) == 6


@pytest.mark.parametrize("version", V2)
async def test_e12_2x_ended_without_started_and_gap_are_flagged(csms, version):
    identity = f"GAP-{version}"
    async with connect(csms, identity, version) as cp:
        await cp.call(boot_call(version))
        await cp.call(tx_event(version, "Updated", 4, 5, "G-1", meter_value=energy(version, 5, 50)))
        await cp.call(tx_event(version, "Updated", 7, 6, "G-1"))
        await cp.call(tx_event(version, "Ended", 8, 7, "G-1", meter_value=energy(version, 7, 80)))
    [tx] = await transactions_of(identity)
    assert set(tx.anomalies) == {"started_missing", "seq_gap"}
    assert tx.started_at == T0 + timedelta(minutes=5) and tx.energy_wh == 30


@pytest.mark.parametrize("version", V2)
async def test_e13_2x_duplicate_event_changes_nothing_and_is_answered_again(csms, version):
    await make_token("DUPE", type="ISO14443")
    identity = f"DUP-{version}"
    async with connect(csms, identity, version) as cp:
        await cp.call(boot_call(version))
        started = tx_event(
            version,
            "Started",
            0,
            0,
            "D-1",
            id_token={"id_token": "DUPE", "type": "ISO14443"},
            meter_value=energy(version, 0, 100),
        )
        first = await cp.call(started, unique_id="7")
        again = await cp.call(started, unique_id="7")
        replay = await cp.call(started)
        # A duplicate is not the token's second transaction: still Accepted, not ConcurrentTx.
        assert first.id_token_info == again.id_token_info == replay.id_token_info
        assert first.id_token_info["status"] == "Accepted"
    [tx] = await transactions_of(identity)
    assert tx.event_count == 1 and await count(MeterValue, transaction=tx) == 2


def remote_station(version: str) -> type:
    """A 2.x station that starts and stops as asked and accepts reservations."""
    base = {"2.0.1": ChargePoint201, "2.1": ChargePoint21}[version]
    results = {"2.0.1": result201, "2.1": result21}[version]

    class RemoteStation(base):
        @on("RequestStartTransaction")
        async def on_request_start(self, id_token, remote_start_id, evse_id=None, **kwargs):
            async def start():
                await asyncio.sleep(0.05)
                await self.call(
                    tx_event(
                        version,
                        "Started",
                        0,
                        0,
                        "R-1",
                        trigger_reason="RemoteStart",
                        id_token=id_token,
                        evse={"id": evse_id or 1},
                        info={"remote_start_id": remote_start_id},
                    )
                )

            self.task = asyncio.create_task(start())
            return results.RequestStartTransaction(status="Accepted")

        @on("RequestStopTransaction")
        async def on_request_stop(self, transaction_id, **kwargs):
            async def stop():
                await asyncio.sleep(0.05)
                await self.call(
                    tx_event(
                        version,
                        "Ended",
                        1,
                        5,
                        transaction_id,
                        trigger_reason="RemoteStop",
                        info={"stopped_reason": "Remote"},
                    )
                )

            self.task = asyncio.create_task(stop())
            return results.RequestStopTransaction(status="Accepted")

        @on("GetTransactionStatus")
        async def on_status(self, transaction_id=None, **kwargs):
            return results.GetTransactionStatus(messages_in_queue=False, ongoing_indicator=True)

        @on("ReserveNow")
        async def on_reserve(self, **kwargs):
            return results.ReserveNow(status="Accepted")

        @on("CostUpdated")
        async def on_cost(self, total_cost, transaction_id, **kwargs):
            self.costs = [*getattr(self, "costs", []), (transaction_id, total_cost)]
            return results.CostUpdated()

    return RemoteStation


Remote2 = remote_station("2.0.1")


@pytest.mark.parametrize("version", V2)
async def test_f01_f03_2x_request_start_links_remote_start_id_and_request_stop_ends(csms, version):
    await make_token("REMOTE-2", type="Central")
    async with connect(
        csms, f"REMOTE-{version}", version, charge_point_class=remote_station(version)
    ) as cp:
        await cp.call(boot_call(version))
        outcome, remote_start = await service(
            csms,
            remote.transaction_remote_start,
            identity=f"REMOTE-{version}",
            id_token_value="REMOTE-2",
            id_token_type="Central",
            evse_id=3,
        )
        assert outcome.ok and remote_start.remote_start_id
        await cp.task
        status = await service(
            csms,
            remote.transaction_status_request,
            identity=f"REMOTE-{version}",
            transaction_id="R-1",
        )
        assert status.response == {"messagesInQueue": False, "ongoingIndicator": True}
        [tx] = await transactions_of(f"REMOTE-{version}")
        assert tx.remote_start_id == remote_start.remote_start_id
        assert tx.remote_start_request_id == remote_start.pk and tx.evse_id == 3
        assert (await service(csms, remote.transaction_remote_stop, transaction_pk=tx.pk)).ok
        await cp.task
    [tx] = await transactions_of(f"REMOTE-{version}")
    assert not tx.is_active and tx.stop_reason == "Remote"


@pytest.mark.parametrize("version", V2)
async def test_h01_h03_2x_reservation_used_by_transaction_and_status_update(csms, version):
    async with connect(
        csms, f"RES-{version}", version, charge_point_class=remote_station(version)
    ) as cp:
        await cp.call(boot_call(version))
        _, used = await service(
            csms,
            reservations.reservation_reserve,
            identity=f"RES-{version}",
            id_token_value="R",
            evse_id=1,
            expiry=utcnow() + timedelta(minutes=10),
        )
        _, expired = await service(
            csms,
            reservations.reservation_reserve,
            identity=f"RES-{version}",
            id_token_value="S",
            evse_id=2,
            expiry=utcnow() + timedelta(minutes=10),
        )
        assert used.status == expired.status == "Accepted"
        await cp.call(
            tx_event(
                version,
                "Started",
                0,
                0,
                "RV-1",
                reservation_id=used.reservation_id,
                id_token={"id_token": "R", "type": "ISO14443"},
                evse={"id": 1},
            )
        )
        await cp.call(
            CALLS[version].ReservationStatusUpdate(
                reservation_id=expired.reservation_id, reservation_update_status="Expired"
            )
        )
    [tx] = await transactions_of(f"RES-{version}")
    assert tx.reservation_id == used.pk and tx.reservation.status == "Used"
    assert (await sync_to_async(Reservation.objects.get)(pk=expired.pk)).status == "Expired"


async def test_i02_201_running_cost_is_sent_with_cost_updated(csms, settings):
    settings.CSMS_COST_UPDATE_INTERVAL = 1
    await make_tariff(price_per_kwh=Decimal("0.50"))
    async with connect(csms, "COST201", "2.0.1", charge_point_class=Remote2) as cp:
        await cp.call(boot_call("2.0.1"))
        await cp.call(tx_event("2.0.1", "Started", 0, 0, "C-1", meter_value=energy("2.0.1", 0, 0)))
        await cp.call(
            tx_event(
                "2.0.1",
                "Updated",
                1,
                1,
                "C-1",
                trigger_reason="MeterValuePeriodic",
                meter_value=energy("2.0.1", 1, 2000),
            )
        )
        await eventually(lambda: getattr(cp, "costs", None))
        # Within the interval: no second CostUpdated.
        await cp.call(
            tx_event(
                "2.0.1",
                "Updated",
                2,
                2,
                "C-1",
                trigger_reason="MeterValuePeriodic",
                meter_value=energy("2.0.1", 2, 3000),
            )
        )
        await asyncio.sleep(0.2)
    assert cp.costs == [("C-1", 1.0)]
    [tx] = await transactions_of("COST201")
    assert tx.total_cost == Decimal("1.50") and tx.cost_sent_at is not None


@pytest.mark.parametrize("version", V2)
async def test_e11_2x_killed_socket_mid_transaction_then_reconnect_loses_and_doubles_nothing(
    csms, version
):
    identity = f"KILL-{version}"
    async with connect(csms, identity, version) as cp:
        await cp.call(boot_call(version))
        await cp.call(tx_event(version, "Started", 0, 0, "K-1", meter_value=energy(version, 0, 0)))
        # The CSMS stores this one, but the socket dies before the station reads the answer.
        await cp._send(
            _frame(
                "k-1",
                tx_event(
                    version,
                    "Updated",
                    1,
                    5,
                    "K-1",
                    trigger_reason="MeterValuePeriodic",
                    meter_value=energy(version, 5, 500),
                ),
            )
        )
        await eventually(
            lambda: count(TransactionEvent, transaction__transaction_id="K-1", seq_no=1)
        )
        cp._connection.transport.abort()
    await eventually(lambda: _offline(identity))
    async with connect(csms, identity, version) as cp:
        # The station retries what it never saw answered, then goes on.
        await cp.call(
            tx_event(
                version,
                "Updated",
                1,
                5,
                "K-1",
                trigger_reason="MeterValuePeriodic",
                meter_value=energy(version, 5, 500),
            ),
            unique_id="k-1",
        )
        await cp.call(
            tx_event(
                version,
                "Updated",
                2,
                10,
                "K-1",
                trigger_reason="MeterValuePeriodic",
                meter_value=energy(version, 10, 1000),
            )
        )
        await cp.call(
            tx_event(
                version,
                "Ended",
                3,
                15,
                "K-1",
                trigger_reason="EVDeparted",
                meter_value=energy(version, 15, 1500),
            )
        )
    [tx] = await transactions_of(identity)
    assert tx.energy_wh == 1500 and not tx.is_active and tx.anomalies == []
    assert await count(TransactionEvent, transaction=tx) == 4
    assert await count(MeterValue, transaction=tx) == 8


def _frame(message_id: str, payload) -> str:
    """A raw CALL frame for a payload dataclass, as the `ocpp` package would send it."""
    import json
    from dataclasses import asdict

    from ocpp.charge_point import remove_nones, snake_to_camel_case

    body = snake_to_camel_case(remove_nones(asdict(payload)))
    return json.dumps([2, message_id, type(payload).__name__, body])


@sync_to_async
def _offline(identity: str) -> bool:
    return not ChargingStation.objects.get(identity=identity).is_online


async def test_e11_16_killed_socket_mid_transaction_then_reconnect_loses_and_doubles_nothing(csms):
    async with connect(csms, "KILL16", "1.6") as cp:
        await cp.call(boot_call("1.6"))
        start = call16.StartTransaction(
            connector_id=1, id_tag="K", meter_start=100, timestamp=ts(0)
        )
        tx_id = (await cp.call(start)).transaction_id
        meter = call16.MeterValues(
            connector_id=1,
            transaction_id=tx_id,
            meter_value=[{"timestamp": ts(5), "sampled_value": [sampled(600)]}],
        )
        await cp._send(_frame("m-1", meter))
        await eventually(lambda: count(MeterValue, transaction__transaction_id=str(tx_id)))
        cp._connection.transport.abort()
    await eventually(lambda: _offline("KILL16"))
    async with connect(csms, "KILL16", "1.6") as cp:
        await cp.call(meter, unique_id="m-1")
        await cp.call(start)  # a station unsure its start got through sends it again
        await cp.call(
            call16.StopTransaction(meter_stop=1100, timestamp=ts(10), transaction_id=tx_id)
        )
    [tx] = await transactions_of("KILL16")
    assert tx.energy_wh == 1000 and not tx.is_active
    assert await count(MeterValue, transaction=tx) == 1
    assert await count(TransactionEvent, transaction=tx) == 3


async def test_j02_21_transaction_event_with_signed_meter_value_keeps_it_verbatim(csms):
    signed = {
        "signed_meter_data": "QUJD",
        "signing_method": "ECDSA-secp256r1-SHA256",
        "encoding_method": "OCMF",
        "public_key": "UEs=",
    }
    async with connect(csms, "SIGN21", "2.1") as cp:
        await cp.call(boot_call("2.1"))
        await cp.call(
            tx_event(
                "2.1",
                "Started",
                0,
                0,
                "S-1",
                meter_value=[
                    {
                        "timestamp": ts(0),
                        "sampled_value": [
                            {
                                "value": 12.5,
                                "unit_of_measure": {"unit": "kWh", "multiplier": 0},
                                "signed_meter_value": signed,
                            }
                        ],
                    }
                ],
            )
        )
    [row] = await meter_rows(transaction__transaction_id="S-1")
    assert row.signed_data == {
        "signedMeterData": "QUJD",
        "signingMethod": "ECDSA-secp256r1-SHA256",
        "encodingMethod": "OCMF",
        "publicKey": "UEs=",
    }
    assert row.value == Decimal("12.5") and row.unit == "kWh"


async def test_f01_21_request_start_on_21_station(csms):
    class Remote21(ChargePoint21):
        @on("RequestStartTransaction")
        async def on_request_start(self, **kwargs):
            self.request = kwargs
            return result21.RequestStartTransaction(status="Rejected")

    async with connect(csms, "REMOTE21", "2.1", charge_point_class=Remote21) as cp:
        await cp.call(boot_call("2.1"))
        outcome, remote_start = await service(
            csms, remote.transaction_remote_start, identity="REMOTE21", id_token_value="T"
        )
    assert outcome.ok and cp.request["remote_start_id"] == remote_start.remote_start_id
    assert remote_start.status == "Rejected"

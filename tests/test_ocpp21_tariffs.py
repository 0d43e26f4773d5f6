"""OCPP 2.1 tariffs and cost end to end (Part 2 section I): tariffs a station holds per EVSE
and as its default (I07 SetDefaultTariff, I09 GetTariffs, I10 ClearTariffs), the cost of a
transaction priced by the tariff the station holds (I12: TransactionEvent costDetails,
CostUpdated, the Ended answer), a tariff changed while the transaction runs (I11) and the
reservation prices of a TariffType. The station is the `ocpp` package's 2.1 ChargePoint
holding the tariffs it is sent, against the live server."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from ocpp.routing import on
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call as call21
from ocpp.v21 import call_result as result21

from ocpp_router.datetimes import to_ocpp, utcnow
from stations.models import ChargingStation
from tests.live import connect, eventually
from transactions import reservations
from transactions.choices import Anomaly
from transactions.models import StationTariff, Tariff, Transaction

pytestmark = pytest.mark.django_db(transaction=True)

EVSE1 = {
    "tariffId": "T-EVSE1",
    "currency": "EUR",
    "energy": {"prices": [{"priceKwh": 0.50}], "taxRates": [{"type": "VAT", "tax": 21}]},
}
ALL_EVSES = {"tariffId": "T-ALL", "currency": "EUR", "energy": {"prices": [{"priceKwh": 0.20}]}}


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


class TariffStation(ChargePoint21):
    """A 2.1 station doing local cost calculation: it holds the default tariffs it is sent
    per EVSE (0: all), reports and clears them as asked, takes a transaction's new tariff
    and keeps the running cost the CSMS sends."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.defaults: dict[int, dict[str, Any]] = {}
        self.transaction_tariffs: dict[str, dict[str, Any]] = {}
        self.costs: list[tuple[str, float]] = []

    @on("SetDefaultTariff")
    async def on_set_default_tariff(self, evse_id, tariff, **kwargs):
        self.defaults[evse_id] = tariff
        return result21.SetDefaultTariff(status="Accepted")

    @on("GetTariffs")
    async def on_get_tariffs(self, evse_id, **kwargs):
        held = {evse: t for evse, t in self.defaults.items() if not evse_id or evse == evse_id}
        if not held:
            return result21.GetTariffs(status="NoTariff")
        return result21.GetTariffs(
            status="Accepted",
            tariff_assignments=[
                {"tariff_id": t["tariff_id"], "tariff_kind": "DefaultTariff", "evse_ids": [evse]}
                for evse, t in sorted(held.items())
            ],
        )

    @on("ClearTariffs")
    async def on_clear_tariffs(self, tariff_ids=None, evse_id=None, **kwargs):
        results = []
        for evse, tariff in list(self.defaults.items()):
            if tariff_ids and tariff["tariff_id"] not in tariff_ids:
                continue
            if evse_id is not None and evse != evse_id:
                continue
            del self.defaults[evse]
            results.append({"tariff_id": tariff["tariff_id"], "status": "Accepted"})
        return result21.ClearTariffs(
            clear_tariffs_result=results or [{"status": "NoTariff"}],
        )

    @on("ChangeTransactionTariff")
    async def on_change_transaction_tariff(self, transaction_id, tariff, **kwargs):
        self.transaction_tariffs[transaction_id] = tariff
        return result21.ChangeTransactionTariff(status="Accepted")

    @on("CostUpdated")
    async def on_cost_updated(self, total_cost, transaction_id, **kwargs):
        self.costs.append((transaction_id, total_cost))
        return result21.CostUpdated()

    @on("ReserveNow")
    async def on_reserve_now(self, **kwargs):
        return result21.ReserveNow(status="Accepted")

    async def event(
        self,
        kind: str,
        seq_no: int,
        transaction_id: str,
        *,
        evse: int,
        wh: int,
        at: str,
        **extra: Any,
    ):
        trigger = {"Started": "Authorized", "Updated": "MeterValuePeriodic"}.get(
            kind, "StopAuthorized"
        )
        return await self.call(
            call21.TransactionEvent(
                event_type=kind,
                timestamp=at,
                trigger_reason=trigger,
                seq_no=seq_no,
                transaction_info={"transaction_id": transaction_id},
                evse={"id": evse},
                meter_value=[{"timestamp": at, "sampled_value": [{"value": wh}]}],
                **extra,
            )
        )


class _Booted:
    def __init__(self, csms, identity: str):
        self._cm = connect(csms, identity, "2.1", charge_point_class=TariffStation)

    async def __aenter__(self) -> TariffStation:
        cp = await self._cm.__aenter__()
        await cp.call(
            call21.BootNotification(
                charging_station={"vendor_name": "Acme", "model": "X21"}, reason="PowerUp"
            )
        )
        return cp

    async def __aexit__(self, *exc):
        return await self._cm.__aexit__(*exc)


def _held(identity: str) -> set[tuple[int, str, bool]]:
    return {
        (row.evse_id, row.tariff_id, row.priced_id is not None)
        for row in StationTariff.objects.filter(station__identity=identity, transaction_id="")
    }


async def _session(cp: TariffStation, transaction_id: str, *, evse: int, wh: int):
    """A whole transaction of `wh` Wh on `evse`, 10:00 to 11:00: the Ended answer."""
    await cp.event("Started", 0, transaction_id, evse=evse, wh=0, at="2026-12-07T10:00:00Z")
    return await cp.event("Ended", 1, transaction_id, evse=evse, wh=wh, at="2026-12-07T11:00:00Z")


async def _transaction(transaction_id: str) -> Transaction:
    return await db(Transaction.objects.select_related("tariff").get, transaction_id=transaction_id)


async def test_i07_default_tariff_of_an_evse_prices_the_transactions_on_it(csms):
    await db(Tariff.objects.create, name="CSMS default", currency="EUR", price_per_kwh="0.10")
    async with _Booted(csms, "I07-EVSE") as cp:
        for evse, tariff in ((1, EVSE1), (0, ALL_EVSES)):
            outcome = await csms.call(
                "I07-EVSE", "SetDefaultTariff", {"evseId": evse, "tariff": tariff}
            )
            assert outcome.response == {"status": "Accepted"}
        assert await db(_held, "I07-EVSE") == {(1, "T-EVSE1", True), (0, "T-ALL", True)}
        on_evse1 = await _session(cp, "TX-E1", evse=1, wh=10_000)
        on_evse2 = await _session(cp, "TX-E2", evse=2, wh=10_000)
    # EVSE 1: its own tariff, 10 kWh x 0.50 x 1.21; EVSE 2: the station's tariff for all.
    assert on_evse1.total_cost == pytest.approx(6.05)
    assert on_evse2.total_cost == pytest.approx(2.00)
    tx1, tx2 = await _transaction("TX-E1"), await _transaction("TX-E2")
    assert (tx1.tariff.definition["tariffId"], tx1.total_cost) == ("T-EVSE1", Decimal("6.05"))
    assert (tx2.tariff.definition["tariffId"], tx2.total_cost) == ("T-ALL", Decimal("2.00"))


async def test_i07_a_csms_tariff_of_an_evse_is_sent_to_that_evse(csms):
    from transactions.tariffs import tariff_send_default

    async with _Booted(csms, "I07-CSMS") as cp:
        station = await db(ChargingStation.objects.get, identity="I07-CSMS")
        tariff = await db(
            Tariff.objects.create,
            name="EVSE 2",
            station=station,
            evse_id=2,
            currency="EUR",
            price_per_kwh=Decimal("0.40"),
        )
        answers = await csms.run(
            sync_to_async(tariff_send_default)(tariff_pk=tariff.pk, origin="test")
        )
        assert answers == [("I07-CSMS", "Accepted")]
        assert set(cp.defaults) == {2}
        ended = await _session(cp, "TX-CSMS", evse=2, wh=5_000)
    assert ended.total_cost == pytest.approx(2.00)


async def test_csms_tariffs_per_evse_price_1_6_connectors_and_2_0_1_evses(csms):
    """Without tariffs held by the station: the CSMS's tariff of the EVSE (1.6: connector),
    else of the station, else the default."""
    from ocpp.v16 import call as call16

    from transactions.models import IdToken

    await db(IdToken.objects.create, value="TAG-EVSE", type="Central", status="Accepted")
    await db(Tariff.objects.create, name="Default", currency="EUR", price_per_kwh="0.10")
    async with connect(csms, "EVSE-16", "1.6") as cp:
        await cp.call(call16.BootNotification(charge_point_vendor="Acme", charge_point_model="X"))
        station = await db(ChargingStation.objects.get, identity="EVSE-16")
        await db(Tariff.objects.create, name="Own", station=station, price_per_kwh="0.20")
        await db(
            Tariff.objects.create, name="Fast", station=station, evse_id=2, price_per_kwh="0.60"
        )
        totals = []
        for connector in (1, 2):
            started = await cp.call(
                call16.StartTransaction(
                    connector_id=connector,
                    id_tag="TAG-EVSE",
                    meter_start=0,
                    timestamp="2026-12-07T10:00:00Z",
                )
            )
            await cp.call(
                call16.StopTransaction(
                    transaction_id=started.transaction_id,
                    meter_stop=10_000,
                    timestamp="2026-12-07T11:00:00Z",
                )
            )
            tx = await db(Transaction.objects.get, transaction_id=str(started.transaction_id))
            totals.append(tx.total_cost)
    assert totals == [Decimal("2.00"), Decimal("6.00")]


async def test_i09_get_tariffs_answer_makes_the_record_what_the_station_holds(csms):
    async with _Booted(csms, "I09-GET"):
        await csms.call("I09-GET", "SetDefaultTariff", {"evseId": 1, "tariff": EVSE1})
        await csms.call("I09-GET", "SetDefaultTariff", {"evseId": 0, "tariff": ALL_EVSES})
        station = await db(ChargingStation.objects.get, identity="I09-GET")
        # A tariff the CSMS believes the station holds, which it does not.
        await db(
            StationTariff.objects.create,
            station=station,
            evse_id=2,
            tariff_id="T-GONE",
            currency="EUR",
            tariff={},
            status="Accepted",
            updated=utcnow(),
        )
        outcome = await csms.call("I09-GET", "GetTariffs", {"evseId": 0})
    assert outcome.response["status"] == "Accepted"
    assert await db(_held, "I09-GET") == {(1, "T-EVSE1", True), (0, "T-ALL", True)}


async def test_i10_cleared_tariffs_no_longer_price_new_transactions(csms):
    await db(Tariff.objects.create, name="CSMS default", currency="EUR", price_per_kwh="0.10")
    async with _Booted(csms, "I10-CLEAR") as cp:
        await csms.call("I10-CLEAR", "SetDefaultTariff", {"evseId": 1, "tariff": EVSE1})
        await csms.call("I10-CLEAR", "SetDefaultTariff", {"evseId": 0, "tariff": ALL_EVSES})
        await csms.call("I10-CLEAR", "ClearTariffs", {"tariffIds": ["T-EVSE1"]})
        assert await db(_held, "I10-CLEAR") == {(0, "T-ALL", True)}
        after_one = await _session(cp, "TX-C1", evse=1, wh=10_000)
        await csms.call("I10-CLEAR", "ClearTariffs", {})
        assert await db(_held, "I10-CLEAR") == set()
        after_all = await _session(cp, "TX-C2", evse=1, wh=10_000)
        outcome = await csms.call("I10-CLEAR", "GetTariffs", {"evseId": 0})
    assert outcome.response["status"] == "NoTariff"
    assert after_one.total_cost == pytest.approx(2.00)  # the station's tariff for all EVSEs
    assert after_all.total_cost == pytest.approx(1.00)  # the CSMS's default again


async def test_i12_cost_updated_ended_cost_and_the_stations_cost_details_agree(csms, settings):
    settings.CSMS_COST_UPDATE_INTERVAL = 1
    async with _Booted(csms, "I12-COST") as cp:
        await csms.call("I12-COST", "SetDefaultTariff", {"evseId": 1, "tariff": EVSE1})
        await cp.event("Started", 0, "TX-I12", evse=1, wh=0, at="2026-12-07T10:00:00Z")
        updated = await cp.event(
            "Updated", 1, "TX-I12", evse=1, wh=5_000, at="2026-12-07T10:30:00Z"
        )
        await eventually(lambda: cp.costs)
        details = {
            "total_cost": {
                "currency": "EUR",
                "type_of_cost": "NormalCost",
                "energy": {"excl_tax": 5.0, "incl_tax": 6.05},
                "total": {"excl_tax": 5.0, "incl_tax": 6.05},
            },
            "total_usage": {"energy": 10_000, "charging_time": 3600, "idle_time": 0},
        }
        ended = await cp.event(
            "Ended",
            2,
            "TX-I12",
            evse=1,
            wh=10_000,
            at="2026-12-07T11:00:00Z",
            cost_details=details,
        )
        # A station that calculates another cost than the CSMS's is flagged.
        await cp.event("Started", 0, "TX-I12-B", evse=1, wh=0, at="2026-12-07T12:00:00Z")
        wrong = {**details, "total_cost": {**details["total_cost"], "total": {"incl_tax": 9.99}}}
        await cp.event(
            "Ended", 1, "TX-I12-B", evse=1, wh=10_000, at="2026-12-07T13:00:00Z", cost_details=wrong
        )
    # 5 kWh x 0.50 x 1.21 running; 10 kWh final, as the station calculated it.
    assert updated.total_cost == pytest.approx(3.03)
    assert cp.costs == [("TX-I12", pytest.approx(3.03))]
    assert ended.total_cost == pytest.approx(6.05)
    tx = await _transaction("TX-I12")
    assert (tx.total_cost, tx.station_cost) == (Decimal("6.05"), Decimal("6.05"))
    assert Anomaly.COST_MISMATCH not in tx.anomalies
    other = await _transaction("TX-I12-B")
    assert other.station_cost == Decimal("9.99") and Anomaly.COST_MISMATCH in other.anomalies


async def test_i11_change_transaction_tariff_prices_before_and_after_the_change_apart(csms):
    old = {
        "tariffId": "T-OLD",
        "currency": "EUR",
        "energy": {"prices": [{"priceKwh": 0.50}]},
        "chargingTime": {"prices": [{"priceMinute": 0.10}]},
        "fixedFee": {"prices": [{"priceFixed": 1.00}]},
    }
    new = {
        "tariffId": "T-NEW",
        "currency": "EUR",
        "energy": {"prices": [{"priceKwh": 0.25}]},
        "chargingTime": {"prices": [{"priceMinute": 0.20}]},
        "fixedFee": {"prices": [{"priceFixed": 5.00}]},
    }
    now = utcnow()
    async with _Booted(csms, "I11-CHG") as cp:
        await csms.call("I11-CHG", "SetDefaultTariff", {"evseId": 1, "tariff": old})
        await cp.event(
            "Started", 0, "TX-I11", evse=1, wh=0, at=to_ocpp(now - timedelta(minutes=30))
        )
        await cp.event("Updated", 1, "TX-I11", evse=1, wh=4_000, at=to_ocpp(now))
        outcome = await csms.call(
            "I11-CHG", "ChangeTransactionTariff", {"transactionId": "TX-I11", "tariff": new}
        )
        assert outcome.response == {"status": "Accepted"}
        assert cp.transaction_tariffs["TX-I11"]["tariff_id"] == "T-NEW"
        ended = await cp.event(
            "Ended", 2, "TX-I11", evse=1, wh=10_000, at=to_ocpp(now + timedelta(minutes=30))
        )
    # Before: 1.00 fixed + 4 kWh x 0.50 + 30 min x 0.10; after: 6 kWh x 0.25 + 30 min x 0.20
    # (the fixed fee is the session's, once).
    assert ended.total_cost == pytest.approx(1.0 + 2.0 + 3.0 + 1.5 + 6.0, abs=0.02)
    tx = await _transaction("TX-I11")
    [change] = tx.tariff_history
    assert (change["tariff"]["tariffId"], change["energyWh"]) == ("T-OLD", "4000.000")
    assert tx.tariff.definition["tariffId"] == "T-NEW"
    row = await db(StationTariff.objects.get, station__identity="I11-CHG", transaction_id="TX-I11")
    assert (row.tariff_id, row.priced_id) == ("T-NEW", tx.tariff_id)


async def test_h01_reservation_time_and_fixed_prices_of_a_21_tariff_are_charged(csms):
    tariff = {
        "tariffId": "T-RES",
        "currency": "EUR",
        "energy": {"prices": [{"priceKwh": 0.30}]},
        "reservationTime": {"prices": [{"priceMinute": 0.10}]},
        "reservationFixed": {"prices": [{"priceFixed": 1.00}]},
    }
    async with _Booted(csms, "H01-RES") as cp:
        await csms.call("H01-RES", "SetDefaultTariff", {"evseId": 0, "tariff": tariff})
        _, reservation = await csms.run(
            sync_to_async(reservations.reservation_reserve, thread_sensitive=False)(
                identity="H01-RES",
                id_token_value="RES-TOKEN",
                evse_id=1,
                expiry=utcnow() + timedelta(hours=1),
            )
        )
        assert reservation.status == "Accepted"
        start = reservation.created + timedelta(minutes=20)
        await cp.event(
            "Started",
            0,
            "TX-RES",
            evse=1,
            wh=0,
            at=to_ocpp(start),
            reservation_id=reservation.reservation_id,
            id_token={"id_token": "RES-TOKEN", "type": "ISO14443"},
        )
        ended = await cp.event(
            "Ended", 1, "TX-RES", evse=1, wh=10_000, at=to_ocpp(start + timedelta(minutes=60))
        )
    # 20 min reserved x 0.10 + 1.00 reservation fee + 10 kWh x 0.30
    assert ended.total_cost == pytest.approx(2.0 + 1.0 + 3.0, abs=0.01)
    tx = await _transaction("TX-RES")
    assert tx.reserved_at == reservation.created

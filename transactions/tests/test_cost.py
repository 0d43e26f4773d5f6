"""The OCPP 2.1 cost engine: worked examples and hypothesis properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from transactions.cost import Usage, flat_tariff, session_cost, split_session_cost, with_tax

START = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # a Monday


def _usage(minutes: int, wh: int, *, start: datetime = START, charging: bool = True) -> Usage:
    return Usage(start, start + timedelta(minutes=minutes), Decimal(wh), charging)


def test_energy_time_fixed_and_vat():
    tariff = {
        "tariffId": "T",
        "currency": "EUR",
        "energy": {"prices": [{"priceKwh": 0.30}], "taxRates": [{"type": "VAT", "tax": 21}]},
        "chargingTime": {"prices": [{"priceMinute": 0.02}]},
        "idleTime": {"prices": [{"priceMinute": 0.10}]},
        "fixedFee": {"prices": [{"priceFixed": 1.0}]},
    }
    usage = [_usage(60, 10_000), _usage(30, 0, start=START + timedelta(hours=1), charging=False)]
    cost = session_cost(tariff, usage)
    assert cost.energy.excl_tax == Decimal("3.00")
    assert cost.energy.incl_tax == Decimal("3.63")
    assert cost.charging_time.excl_tax == Decimal("1.20")
    assert cost.idle_time.excl_tax == Decimal("3.00")
    assert cost.total.excl_tax == Decimal("8.20")
    assert cost.total.incl_tax == Decimal("8.83")
    assert cost.total_usage() == {"energy": 10000.0, "chargingTime": 3600, "idleTime": 1800}
    assert cost.total_cost()["total"] == {"exclTax": 8.2, "inclTax": 8.83}


def test_time_of_day_prices_split_a_period_at_the_boundary():
    tariff = {
        "tariffId": "T",
        "currency": "EUR",
        "energy": {
            "prices": [
                {
                    "priceKwh": 0.50,
                    "conditions": {"startTimeOfDay": "08:30", "endTimeOfDay": "20:00"},
                },
                {"priceKwh": 0.20},
            ]
        },
    }
    cost = session_cost(tariff, [_usage(60, 10_000)])  # 08:00-09:00: half cheap, half peak
    assert cost.total.excl_tax == Decimal("3.50")


def test_day_of_week_and_energy_thresholds():
    tariff = {
        "tariffId": "T",
        "currency": "EUR",
        "energy": {
            "prices": [
                {"priceKwh": 0.10, "conditions": {"dayOfWeek": ["Saturday", "Sunday"]}},
                {"priceKwh": 0.40, "conditions": {"maxEnergy": 5000}},
                {"priceKwh": 0.25},
            ]
        },
    }
    periods = [_usage(30, 5000), _usage(30, 5000, start=START + timedelta(minutes=30))]
    assert session_cost(tariff, periods).total.excl_tax == Decimal("3.25")
    saturday = START + timedelta(days=5)
    assert session_cost(tariff, [_usage(60, 10_000, start=saturday)]).total.excl_tax == Decimal(
        "1.00"
    )


def test_min_and_max_cost_bound_the_total():
    base = {"tariffId": "T", "currency": "EUR", "energy": {"prices": [{"priceKwh": 1}]}}
    low = {**base, "minCost": {"exclTax": 5, "inclTax": 6}}
    high = {**base, "maxCost": {"exclTax": 2, "inclTax": 2}}
    assert session_cost(low, [_usage(10, 1000)]).total.excl_tax == Decimal("5.00")
    assert session_cost(high, [_usage(10, 9000)]).total.excl_tax == Decimal("2.00")


def test_stacked_taxes_compound():
    rates = [{"type": "VAT", "tax": 10}, {"type": "extra", "tax": 10, "stack": 1}]
    assert with_tax(Decimal(100), rates) == Decimal(121)


def test_flat_price_is_the_former_formula():
    tariff = flat_tariff(
        tariff_id="1",
        currency="EUR",
        price_per_kwh=Decimal("0.25"),
        price_per_minute=Decimal("0.05"),
        session_fee=Decimal("1.50"),
    )
    cost = session_cost(tariff, [_usage(90, 12_345)])
    assert cost.total.excl_tax == (Decimal("1.50") + Decimal("3.08625") + Decimal("4.5")).quantize(
        Decimal("0.01")
    )


prices = st.decimals(min_value=0, max_value=5, places=3)
energies = st.integers(min_value=0, max_value=100_000)
durations = st.integers(min_value=0, max_value=600)


def _tariff(kwh: Decimal, minute: Decimal, fixed: Decimal, vat: int) -> dict:
    return {
        "tariffId": "P",
        "currency": "EUR",
        "energy": {"prices": [{"priceKwh": float(kwh)}], "taxRates": [{"type": "VAT", "tax": vat}]},
        "chargingTime": {"prices": [{"priceMinute": float(minute)}]},
        "fixedFee": {"prices": [{"priceFixed": float(fixed)}]},
    }


@settings(max_examples=60, deadline=None)
@given(prices, prices, prices, st.integers(0, 30), durations, energies, energies)
def test_property_cost_grows_with_energy_and_tax_never_lowers_it(
    kwh, minute, fixed, vat, minutes, wh, more
):
    tariff = _tariff(kwh, minute, fixed, vat)
    cost = session_cost(tariff, [_usage(minutes, wh)])
    bigger = session_cost(tariff, [_usage(minutes, wh + more)])
    assert bigger.total.excl_tax >= cost.total.excl_tax
    assert cost.total.incl_tax >= cost.total.excl_tax >= 0


@settings(max_examples=60, deadline=None)
@given(prices, prices, durations, energies, st.integers(0, 600), st.floats(0.01, 0.99))
def test_property_splitting_a_period_costs_the_same(kwh, minute, minutes, wh, offset, share):
    """Without conditions the cost depends only on the totals, however the session is cut."""
    tariff = _tariff(kwh, minute, Decimal(0), 0)
    start = START + timedelta(minutes=offset)
    whole = session_cost(tariff, [_usage(minutes, wh, start=start)])
    cut = start + timedelta(minutes=minutes * share)
    first_wh = Decimal(wh) * Decimal(str(share))
    parts = [
        Usage(start, cut, first_wh),
        Usage(cut, start + timedelta(minutes=minutes), Decimal(wh) - first_wh),
    ]
    assert abs(session_cost(tariff, parts).total.excl_tax - whole.total.excl_tax) <= Decimal("0.01")


@settings(max_examples=60, deadline=None)
@given(prices, durations, energies, st.decimals(0, 20, places=2), st.decimals(0, 20, places=2))
def test_property_total_stays_within_min_and_max_cost(kwh, minutes, wh, low, span):
    high = low + span
    tariff = {
        **_tariff(kwh, Decimal(0), Decimal(0), 0),
        "minCost": {"exclTax": float(low), "inclTax": float(low)},
        "maxCost": {"exclTax": float(high), "inclTax": float(high)},
    }
    total = session_cost(tariff, [_usage(minutes, wh)]).total
    assert low <= total.excl_tax <= high
    assert low <= total.incl_tax <= high


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 23), st.integers(1, 23), durations, energies, prices, prices)
def test_property_time_of_day_prices_partition_the_day(hour, span, minutes, wh, peak, off):
    """A peak window and its complement price every Wh exactly once."""
    begin, end = f"{hour:02d}:00", f"{(hour + span) % 24:02d}:00"
    tariff = {
        "tariffId": "D",
        "currency": "EUR",
        "energy": {
            "prices": [
                {
                    "priceKwh": float(peak),
                    "conditions": {"startTimeOfDay": begin, "endTimeOfDay": end},
                },
                {"priceKwh": float(off)},
            ]
        },
    }
    total = session_cost(tariff, [_usage(minutes, wh)]).total.excl_tax
    cheapest, dearest = sorted([peak, off])
    assert _round(Decimal(wh) / 1000 * cheapest) - Decimal("0.01") <= total
    assert total <= _round(Decimal(wh) / 1000 * dearest) + Decimal("0.01")


def _round(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def test_i11_a_changed_tariff_prices_its_own_part_and_the_session_goes_on():
    old = {
        "currency": "EUR",
        "energy": {"prices": [{"priceKwh": 0.50}], "taxRates": [{"type": "VAT", "tax": 20}]},
        "fixedFee": {"prices": [{"priceFixed": 1.0}]},
    }
    # The new tariff is cheaper past 4 kWh of the session: energy counts from its start.
    new = {
        "currency": "EUR",
        "energy": {
            "prices": [
                {"priceKwh": 0.40, "conditions": {"maxEnergy": 4000}},
                {"priceKwh": 0.20},
            ]
        },
        "fixedFee": {"prices": [{"priceFixed": 9.0}]},
        "maxCost": {"exclTax": 100},
    }
    before = _usage(30, 4_000)
    after = _usage(30, 6_000, start=START + timedelta(minutes=30))
    cost = split_session_cost([(old, [before]), (new, [after])])
    # 1.00 fixed (the session's, once) + 4 kWh x 0.50 (+20%) + 6 kWh x 0.20
    assert cost.fixed.excl_tax == Decimal("1.0")
    assert cost.energy.excl_tax == Decimal("3.20")
    assert cost.energy.incl_tax == Decimal("3.60")
    assert cost.total.excl_tax == Decimal("4.20")
    assert cost.energy_wh == Decimal(10_000)


def test_reservation_time_and_fee_are_priced_once_from_the_reservation():
    tariff = {
        "currency": "EUR",
        "energy": {"prices": [{"priceKwh": 0.30}]},
        "reservationTime": {
            "prices": [{"priceMinute": 0.10}],
            "taxRates": [{"type": "VAT", "tax": 10}],
        },
        "reservationFixed": {"prices": [{"priceFixed": 0.50}]},
    }
    reserved = (START - timedelta(minutes=15), START)
    cost = session_cost(tariff, [_usage(60, 10_000)], reservation=reserved)
    assert cost.reservation_time.excl_tax == Decimal("1.5")
    assert cost.reservation_time.incl_tax == Decimal("1.65")
    assert cost.reservation_fixed.excl_tax == Decimal("0.5")
    assert cost.total.excl_tax == Decimal("5.00")
    assert cost.total_cost()["reservationTime"] == {"exclTax": 1.5, "inclTax": 1.65}
    # Without a reservation, its prices are not charged.
    assert session_cost(tariff, [_usage(60, 10_000)]).total.excl_tax == Decimal("3.00")

"""Running cost on a timer (OCPP 2.0.1 I02.FR.01) against the live server."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tests.live import connect
from tests.test_ocpp_core import boot_call
from tests.test_transactions_live import (
    energy,
    make_tariff,
    remote_station,
    service,
    transactions_of,
    tx_event,
)
from transactions.running_cost import cost_updates_send


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_i02_fr_01_cost_updated_goes_out_on_the_interval_without_an_event(
    csms, settings, version
):
    settings.CSMS_COST_UPDATE_INTERVAL = 1
    await make_tariff(price_per_kwh=Decimal("0.50"))
    identity = f"I02-{version}"
    async with connect(csms, identity, version, charge_point_class=remote_station(version)) as cp:
        await cp.call(boot_call(version))
        await cp.call(tx_event(version, "Started", 0, 0, "T-1", meter_value=energy(version, 0, 0)))
        await cp.call(
            tx_event(
                version,
                "Updated",
                1,
                1,
                "T-1",
                trigger_reason="MeterValuePeriodic",
                meter_value=energy(version, 1, 2000),
            )
        )
        await asyncio.sleep(0.1)
        # The event's own CostUpdated; the job sends nothing inside the interval after it.
        sent_by_events = list(getattr(cp, "costs", []))
        assert sent_by_events == [("T-1", 1.0)]
        assert await service(csms, cost_updates_send) == 0
        # The station sends nothing more; the job sends the cost once the interval has passed.
        await asyncio.sleep(1.1)
        assert await service(csms, cost_updates_send) == 1
        # Inside the interval again: nothing.
        assert await service(csms, cost_updates_send) == 0
    assert cp.costs == [("T-1", 1.0), ("T-1", 1.0)]
    [tx] = await transactions_of(identity)
    assert tx.total_cost == Decimal("1.00")


async def test_i02_no_cost_updated_for_an_ended_transaction(csms, settings):
    settings.CSMS_COST_UPDATE_INTERVAL = 1
    await make_tariff(price_per_kwh=Decimal("0.50"))
    async with connect(csms, "I02-END", "2.0.1", charge_point_class=remote_station("2.0.1")) as cp:
        await cp.call(boot_call("2.0.1"))
        await cp.call(tx_event("2.0.1", "Started", 0, 0, "E-1", meter_value=energy("2.0.1", 0, 0)))
        answer = await cp.call(
            tx_event("2.0.1", "Ended", 1, 1, "E-1", meter_value=energy("2.0.1", 1, 4000))
        )
        assert answer.total_cost == 2.0
        await asyncio.sleep(1.1)
        assert await service(csms, cost_updates_send) == 0
    assert getattr(cp, "costs", []) == []

"""Load management end to end: `ocpp` package stations on a live server share a site's limit,
as the profiles they received show."""

from __future__ import annotations

import asyncio
import time
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

from ocpp_router.datetimes import to_ocpp, utcnow
from smartcharging import balancing, engine
from smartcharging.models import Grant, Site, SiteMember
from stations.models import ChargingStation
from tests.live import connect, eventually
from tests.test_ocpp_core import boot_call
from transactions.models import IdToken


@pytest.fixture
async def fast_rounds(settings, csms):
    """Rounds a few milliseconds after an event, profiles 0.2 s apart per station; the
    engine's rounds end with the test."""
    settings.CSMS_SMART_CHARGING_DEBOUNCE = 0.05
    settings.CSMS_SMART_CHARGING_MIN_INTERVAL = 0.2
    settings.CSMS_SMART_CHARGING_SETTLE = 0.05
    settings.CSMS_SMART_CHARGING_INTERVAL = 3600
    yield settings
    await csms.run(engine.engine.stop())
    engine.membership.invalidate()


class Station16(ChargePoint16):
    """Keeps every SetChargingProfile it accepted, with the moment it did."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received: list[tuple[float, str, int, float]] = []

    @on("SetChargingProfile")
    async def on_set(self, connector_id, cs_charging_profiles):
        profile = cs_charging_profiles
        limit = profile["charging_schedule"]["charging_schedule_period"][0]["limit"]
        self.received.append(
            (time.monotonic(), profile["charging_profile_purpose"], connector_id, float(limit))
        )
        return result16.SetChargingProfile(status="Accepted")

    def tx_limit(self) -> float | None:
        limits = [limit for _, purpose, _, limit in self.received if purpose == "TxProfile"]
        return limits[-1] if limits else None


@sync_to_async
def make_site(identities: list[str], limit: str) -> Site:
    site = Site.objects.create(name="Depot", limit=Decimal(limit))
    for identity in identities:
        station = ChargingStation.objects.get(identity=identity)
        station.evses.get_or_create(evse_id=1)
        SiteMember.objects.create(site=site, station=station)
    engine.membership.invalidate()
    return site


async def start(cp, tag: str) -> int:
    answer = await cp.call(
        call16.StartTransaction(
            connector_id=1, id_tag=tag, meter_start=0, timestamp=to_ocpp(utcnow())
        )
    )
    assert answer.id_tag_info["status"] == "Accepted"
    return answer.transaction_id


def tx_profile_sums(stations: list[Station16]) -> list[float]:
    """At every profile received, the sum of the TxProfile limits the stations then held."""
    events = sorted(
        (at, index, limit)
        for index, cp in enumerate(stations)
        for at, purpose, _, limit in cp.received
        if purpose == "TxProfile"
    )
    held: dict[int, float] = {}
    sums = []
    for _, index, limit in events:
        held[index] = limit
        sums.append(sum(held.values()))
    return sums


async def test_four_stations_on_a_32_a_site_get_8_a_each_and_three_get_their_share_back(
    csms, fast_rounds
):
    identities = [f"LM-{n}" for n in range(1, 5)]
    for n in range(4):
        await sync_to_async(IdToken.objects.create)(value=f"LM-TAG-{n}")
    async with (
        connect(csms, identities[0], "1.6", charge_point_class=Station16) as a,
        connect(csms, identities[1], "1.6", charge_point_class=Station16) as b,
        connect(csms, identities[2], "1.6", charge_point_class=Station16) as c,
        connect(csms, identities[3], "1.6", charge_point_class=Station16) as d,
    ):
        stations = [a, b, c, d]
        await asyncio.gather(*(cp.call(boot_call("1.6")) for cp in stations))
        await make_site(identities, "32")

        tx_a = await start(a, "LM-TAG-0")
        await eventually(lambda: a.tx_limit() == 32.0)
        await start(b, "LM-TAG-1")
        await eventually(lambda: a.tx_limit() == b.tx_limit() == 16.0)
        await start(c, "LM-TAG-2")
        tx_d = await start(d, "LM-TAG-3")
        await eventually(lambda: [cp.tx_limit() for cp in stations] == [8.0] * 4)
        # Every station holds the offline fallback: the site's 32 A over its four EVSEs.
        for cp in stations:
            assert ("TxDefaultProfile", 0, 8.0) in [r[1:] for r in cp.received]

        await d.call(
            call16.StopTransaction(
                meter_stop=1000, timestamp=to_ocpp(utcnow()), transaction_id=tx_d
            )
        )
        await eventually(lambda: [cp.tx_limit() for cp in stations[:3]] == [10.6] * 3)
        # Lower grants go out before higher ones: the TxProfiles held never sum above 32 A.
        assert max(tx_profile_sums(stations[:3])) <= 32.0
        assert d.tx_limit() == 8.0

        @sync_to_async
        def grant_of_a():
            grant = Grant.objects.get(transaction__transaction_id=str(tx_a))
            return grant.current, grant.accepted_current, grant.status

        async def accepted() -> bool:
            return await grant_of_a() == (Decimal("10.6"), Decimal("10.6"), "Accepted")

        await eventually(accepted)


def station_2x(version: str):
    base = CHARGE_POINTS[version]
    result = RESULTS[version]

    class Station2(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.received: list[tuple[str, int, float]] = []

        @on("SetChargingProfile")
        async def on_set(self, evse_id, charging_profile, **kwargs):
            schedule = charging_profile["charging_schedule"][0]
            limit = float(schedule["charging_schedule_period"][0]["limit"])
            self.received.append((charging_profile["charging_profile_purpose"], evse_id, limit))
            return result.SetChargingProfile(status="Accepted")

        def tx_limits(self) -> list[float]:
            return [limit for purpose, _, limit in self.received if purpose == "TxProfile"]

    return Station2


CHARGE_POINTS = {"2.0.1": ChargePoint201, "2.1": ChargePoint21}
RESULTS = {"2.0.1": result201, "2.1": result21}
CALLS = {"2.0.1": call201, "2.1": call21}
AC_NEEDS = {
    "requested_energy_transfer": "AC_three_phase",
    "ac_charging_parameters": {
        "energy_amount": 20000,
        "ev_min_current": 6,
        "ev_max_current": 16,
        "ev_max_voltage": 400,
    },
}


def ev_schedule(limit: float) -> dict:
    return {
        "id": 1,
        "charging_rate_unit": "A",
        "charging_schedule_period": [{"start_period": 0, "limit": limit}],
    }


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_k15_k16_k17_ev_charging_needs_get_a_schedule_within_the_ev_limits_and_the_grant(
    csms, fast_rounds, version
):
    calls = CALLS[version]
    identity = f"ISO-{version}"
    await sync_to_async(IdToken.objects.create)(value="ISO-TAG", type="ISO14443")
    async with connect(csms, identity, version, charge_point_class=station_2x(version)) as cp:
        await cp.call(boot_call(version))
        await make_site([identity], "32")
        # K15.FR.05: no transaction on the EVSE yet: the schedule follows once it starts.
        early = await cp.call(calls.NotifyEVChargingNeeds(evse_id=1, charging_needs=AC_NEEDS))
        assert early.status == "Processing"
        await cp.call(
            calls.TransactionEvent(
                event_type="Started",
                timestamp=to_ocpp(utcnow()),
                trigger_reason="Authorized",
                seq_no=0,
                transaction_info={"transaction_id": "ISO-TX-1"},
                evse={"id": 1, "connector_id": 1},
                id_token={"id_token": "ISO-TAG", "type": "ISO14443"},
            )
        )
        # Within the EV's 16 A although the site could give 32 A.
        await eventually(lambda: cp.tx_limits() == [16.0])

        # K15.FR.03: Accepted, and the schedule is sent again for the EV to take.
        answer = await cp.call(calls.NotifyEVChargingNeeds(evse_id=1, charging_needs=AC_NEEDS))
        assert answer.status == "Accepted"
        await eventually(lambda: cp.tx_limits() == [16.0, 16.0])

        # K15.FR.11: an EV schedule within the grant is Accepted, and nothing follows.
        within = await cp.call(
            calls.NotifyEVChargingSchedule(
                time_base=to_ocpp(utcnow()), evse_id=1, charging_schedule=ev_schedule(16.0)
            )
        )
        assert within.status == "Accepted"
        # K16: beyond it, Rejected and the CSMS renegotiates with a new profile.
        beyond = await cp.call(
            calls.NotifyEVChargingSchedule(
                time_base=to_ocpp(utcnow()), evse_id=1, charging_schedule=ev_schedule(24.0)
            )
        )
        assert beyond.status == "Rejected"
        assert beyond.status_info["reason_code"] == "ExceedsGrant"
        await eventually(lambda: cp.tx_limits() == [16.0, 16.0, 16.0])

        # An EVSE in no site: no schedule will follow (K15.FR.04; 2.1 NoChargingProfile).
        await sync_to_async(SiteMember.objects.filter(station__identity=identity).delete)()
        outside = await cp.call(calls.NotifyEVChargingNeeds(evse_id=1, charging_needs=AC_NEEDS))
        assert outside.status == ("NoChargingProfile" if version == "2.1" else "Rejected")
        assert outside.status_info["reason_code"] == "NoLoadManagement"


class PriorityStation21(station_2x("2.1")):  # type: ignore[misc]
    """A 2.1 station that answers UsePriorityCharging as told (`priority_answer`)."""

    priority_answer = "Accepted"

    @on("UsePriorityCharging")
    async def on_use_priority_charging(self, transaction_id, activate, **kwargs):
        return result21.UsePriorityCharging(status=self.priority_answer)


async def _start_21(cp, transaction_id: str, tag: str) -> None:
    await cp.call(
        call21.TransactionEvent(
            event_type="Started",
            timestamp=to_ocpp(utcnow()),
            trigger_reason="Authorized",
            seq_no=0,
            transaction_info={"transaction_id": transaction_id},
            evse={"id": 1, "connector_id": 1},
            id_token={"id_token": tag, "type": "ISO14443"},
        )
    )


async def test_k21_k22_priority_charging_requested_remotely_or_locally_reshares_the_site(
    csms, fast_rounds
):
    for tag in ("PRIO-A", "PRIO-B"):
        await sync_to_async(IdToken.objects.create)(value=tag, type="ISO14443")
    async with (
        connect(csms, "PRIO-A", "2.1", charge_point_class=PriorityStation21) as a,
        connect(csms, "PRIO-B", "2.1", charge_point_class=PriorityStation21) as b,
    ):
        await asyncio.gather(a.call(boot_call("2.1")), b.call(boot_call("2.1")))
        await make_site(["PRIO-A", "PRIO-B"], "40")
        await _start_21(a, "TX-A", "PRIO-A")
        await _start_21(b, "TX-B", "PRIO-B")
        await eventually(lambda: a.tx_limits()[-1:] == b.tx_limits()[-1:] == [20.0])

        # K22: the driver asked for priority at the station, which notifies the CSMS: its
        # session is filled to the EVSE's 32 A, the other keeps the rest.
        await b.call(call21.NotifyPriorityCharging(transaction_id="TX-B", activated=True))
        await eventually(lambda: (a.tx_limits()[-1], b.tx_limits()[-1]) == (8.0, 32.0))

        # K21: a remote request the station refuses changes nothing.
        a.priority_answer = "Rejected"
        refused = await csms.call(
            "PRIO-A", "UsePriorityCharging", {"transactionId": "TX-A", "activate": True}
        )
        assert refused.response == {"status": "Rejected"}
        await asyncio.sleep(0.5)
        assert (a.tx_limits()[-1], b.tx_limits()[-1]) == (8.0, 32.0)

        # K21: accepted, both sessions have priority and share alike again.
        a.priority_answer = "Accepted"
        accepted = await csms.call(
            "PRIO-A", "UsePriorityCharging", {"transactionId": "TX-A", "activate": True}
        )
        assert accepted.response == {"status": "Accepted"}
        await eventually(lambda: a.tx_limits()[-1] == b.tx_limits()[-1] == 20.0)

        # K22: the station ends priority charging: the other session now comes first.
        await b.call(call21.NotifyPriorityCharging(transaction_id="TX-B", activated=False))
        await eventually(lambda: (a.tx_limits()[-1], b.tx_limits()[-1]) == (32.0, 8.0))

        # K28: a station pulling the update of its profile gets the engine's grant.
        pulled = await b.call(
            call21.PullDynamicScheduleUpdate(charging_profile_id=balancing.TX_PROFILE_ID + 1)
        )
        assert (pulled.status, pulled.schedule_update) == ("Accepted", {"limit": 8.0})


class DynamicStation21(station_2x("2.1")):  # type: ignore[misc]
    """A 2.1 station that keeps the kind of each profile and takes UpdateDynamicSchedule
    for a Dynamic profile it holds (Rejected for any other)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kinds: dict[int, str] = {}
        self.updates: list[tuple[int, float]] = []

    @on("SetChargingProfile")
    async def on_set(self, evse_id, charging_profile, **kwargs):
        self.kinds[charging_profile["id"]] = charging_profile["charging_profile_kind"]
        return await super().on_set(evse_id, charging_profile, **kwargs)

    @on("UpdateDynamicSchedule")
    async def on_update_dynamic_schedule(self, charging_profile_id, schedule_update, **kwargs):
        if self.kinds.get(charging_profile_id) != "Dynamic":
            return result21.UpdateDynamicSchedule(status="Rejected")
        self.updates.append((charging_profile_id, float(schedule_update["limit"])))
        return result21.UpdateDynamicSchedule(status="Accepted")

    def limit(self) -> float | None:
        """The limit the station applies now: its TxProfile's, as last updated."""
        events = [*self.tx_limits()[-1:], *[limit for _, limit in self.updates[-1:]]]
        return events[-1] if events else None


async def test_k28_grants_reach_a_dynamic_profile_as_update_dynamic_schedule(csms, fast_rounds):
    fast_rounds.CSMS_SMART_CHARGING_DYNAMIC = True
    for tag in ("DYN-A", "DYN-B"):
        await sync_to_async(IdToken.objects.create)(value=tag, type="ISO14443")
    async with (
        connect(csms, "DYN-A", "2.1", charge_point_class=DynamicStation21) as a,
        connect(csms, "DYN-B", "2.1", charge_point_class=DynamicStation21) as b,
    ):
        await asyncio.gather(a.call(boot_call("2.1")), b.call(boot_call("2.1")))
        await make_site(["DYN-A", "DYN-B"], "32")
        await _start_21(a, "TX-DA", "DYN-A")
        await eventually(lambda: a.tx_limits() == [32.0])
        assert a.kinds[balancing.TX_PROFILE_ID + 1] == "Dynamic"

        # The second session halves A's grant: an update of A's Dynamic profile, no new one.
        await _start_21(b, "TX-DB", "DYN-B")
        await eventually(lambda: a.limit() == b.limit() == 16.0)
        assert a.tx_limits() == [32.0]
        assert a.updates == [(balancing.TX_PROFILE_ID + 1, 16.0)]

        @sync_to_async
        def recorded():
            from smartcharging.models import DynamicScheduleUpdate

            return list(
                DynamicScheduleUpdate.objects.filter(station__identity="DYN-A").values_list(
                    "origin", "status", "schedule_update"
                )
            )

        assert await recorded() == [("csms", "Accepted", {"limit": 16.0})]

        # A station that no longer holds the profile as Dynamic refuses the update: it gets
        # a new profile.
        a.kinds.clear()
        await b.call(
            call21.TransactionEvent(
                event_type="Ended",
                timestamp=to_ocpp(utcnow()),
                trigger_reason="StopAuthorized",
                seq_no=1,
                transaction_info={"transaction_id": "TX-DB"},
                evse={"id": 1, "connector_id": 1},
            )
        )
        await eventually(lambda: a.tx_limits() == [32.0, 32.0])
        assert a.updates == [(balancing.TX_PROFILE_ID + 1, 16.0)]
        assert a.kinds[balancing.TX_PROFILE_ID + 1] == "Dynamic"

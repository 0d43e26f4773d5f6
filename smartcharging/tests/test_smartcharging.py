"""Smart charging end to end: profiles set, replaced, cleared and reported, limits, schedules."""

from __future__ import annotations

import asyncio
import copy

from asgiref.sync import sync_to_async
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from smartcharging.models import ChargingLimit, ChargingProfile, CompositeSchedule, EvChargingNeeds
from tests.live import connect, eventually
from tests.test_ocpp_core import boot_call

SCHEDULE_16 = {
    "chargingRateUnit": "A",
    "chargingSchedulePeriod": [
        {"startPeriod": 0, "limit": 16.0},
        {"startPeriod": 3600, "limit": 8.5},
    ],
}


def profile_16(profile_id: int, stack_level: int = 0, purpose: str = "TxDefaultProfile") -> dict:
    return {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": profile_id,
            "stackLevel": stack_level,
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Absolute",
            "chargingSchedule": copy.deepcopy(SCHEDULE_16),
        },
    }


class Station16(ChargePoint16):
    @on("SetChargingProfile")
    async def on_set(self, connector_id, cs_charging_profiles):
        limit = cs_charging_profiles["charging_schedule"]["charging_schedule_period"][0]["limit"]
        return result16.SetChargingProfile(status="Accepted" if limit <= 32 else "Rejected")

    @on("ClearChargingProfile")
    async def on_clear(self, **criteria):
        return result16.ClearChargingProfile(status="Accepted")

    @on("GetCompositeSchedule")
    async def on_composite(self, connector_id, duration, charging_rate_unit=None):
        return result16.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start="2026-11-25T10:00:00Z",
            charging_schedule={**SCHEDULE_16, "duration": duration},
        )


@sync_to_async
def profiles(identity: str) -> list[tuple]:
    return list(
        ChargingProfile.objects.filter(station__identity=identity)
        .order_by("id")
        .values_list("profile_id", "stack_level", "status")
    )


async def test_k01_1_6_profiles_are_recorded_replaced_and_cleared(csms):
    async with connect(csms, "SC-16", "1.6", charge_point_class=Station16) as cp:
        await cp.call(boot_call("1.6"))
        first = await csms.call("SC-16", "SetChargingProfile", profile_16(1))
        assert first.response == {"status": "Accepted"}
        # Same purpose and stack level on the same connector replaces the first profile.
        await csms.call("SC-16", "SetChargingProfile", profile_16(2))
        rejected = profile_16(3, stack_level=1)
        rejected["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] = (
            63
        )
        await csms.call("SC-16", "SetChargingProfile", rejected)
        assert await profiles("SC-16") == [
            (1, 0, "Cleared"),
            (2, 0, "Accepted"),
            (3, 1, "Rejected"),
        ]

        await csms.call("SC-16", "ClearChargingProfile", {"id": 2})
        assert await profiles("SC-16") == [(1, 0, "Cleared"), (2, 0, "Cleared"), (3, 1, "Rejected")]

        outcome = await csms.call(
            "SC-16", "GetCompositeSchedule", {"connectorId": 1, "duration": 7200}
        )
        assert outcome.ok
        schedule = await sync_to_async(CompositeSchedule.objects.get)(station__identity="SC-16")
        assert schedule.status == "Accepted"
        assert schedule.schedule["duration"] == 7200


PROFILE_201 = {
    "id": 7,
    "stackLevel": 1,
    "chargingProfilePurpose": "ChargingStationMaxProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": [
        {
            "id": 1,
            "chargingRateUnit": "W",
            "startSchedule": "2026-11-25T10:00:00Z",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
        }
    ],
}


class Station201(ChargePoint201):
    @on("SetChargingProfile")
    async def on_set(self, evse_id, charging_profile, **kwargs):
        return result201.SetChargingProfile(status="Accepted")

    @on("GetChargingProfiles")
    async def on_get(self, request_id, charging_profile, **kwargs):
        self.report_request = request_id
        return result201.GetChargingProfiles(status="Accepted")


async def test_k09_2_0_1_reported_profiles_limits_and_ev_needs_are_stored(csms):
    async with connect(csms, "SC-201", "2.0.1", charge_point_class=Station201) as cp:
        await cp.call(boot_call("2.0.1"))
        await csms.call(
            "SC-201", "SetChargingProfile", {"evseId": 0, "chargingProfile": PROFILE_201}
        )
        assert await profiles("SC-201") == [(7, 1, "Accepted")]

        outcome = await csms.call(
            "SC-201", "GetChargingProfiles", {"requestId": 42, "chargingProfile": {"stackLevel": 1}}
        )
        assert outcome.response["status"] == "Accepted"
        assert cp.report_request == 42
        await cp.call(
            call201.ReportChargingProfiles(
                request_id=42,
                charging_limit_source="CSO",
                evse_id=0,
                charging_profile=[
                    {
                        "id": 7,
                        "stack_level": 1,
                        "charging_profile_purpose": "ChargingStationMaxProfile",
                        "charging_profile_kind": "Absolute",
                        "charging_schedule": [
                            {
                                "id": 1,
                                "charging_rate_unit": "W",
                                "charging_schedule_period": [{"start_period": 0, "limit": 11000.0}],
                            }
                        ],
                    }
                ],
            )
        )
        assert await profiles("SC-201") == [(7, 1, "Accepted"), (7, 1, "Reported")]

        await cp.call(
            call201.NotifyChargingLimit(
                charging_limit={"charging_limit_source": "EMS", "is_grid_critical": True}, evse_id=1
            )
        )
        await cp.call(call201.ClearedChargingLimit(charging_limit_source="EMS", evse_id=1))
        limit = await sync_to_async(ChargingLimit.objects.get)(station__identity="SC-201")
        assert limit.is_grid_critical is True
        assert limit.cleared is not None

        answer = await cp.call(
            call201.NotifyEVChargingNeeds(
                evse_id=1,
                charging_needs={
                    "requested_energy_transfer": "AC_three_phase",
                    "ac_charging_parameters": {
                        "energy_amount": 20000,
                        "ev_min_current": 6,
                        "ev_max_current": 32,
                        "ev_max_voltage": 400,
                    },
                },
            )
        )
        # In no site with load management: no schedule will follow (K15.FR.04).
        assert answer.status == "Rejected"
        needs = await sync_to_async(EvChargingNeeds.objects.get)(station__identity="SC-201")
        assert needs.needs["acChargingParameters"]["evMaxCurrent"] == 32


async def test_profiles_of_two_stations_do_not_mix(csms):
    async with (
        connect(csms, "SC-A", "1.6", charge_point_class=Station16) as a,
        connect(csms, "SC-B", "1.6", charge_point_class=Station16) as b,
    ):
        await asyncio.gather(a.call(boot_call("1.6")), b.call(boot_call("1.6")))
        await asyncio.gather(
            csms.call("SC-A", "SetChargingProfile", profile_16(1)),
            csms.call("SC-B", "SetChargingProfile", profile_16(1)),
        )
        await csms.call("SC-A", "ClearChargingProfile", {"id": 1})
    await eventually(lambda: profiles("SC-B"))
    assert await profiles("SC-A") == [(1, 0, "Cleared")]
    assert await profiles("SC-B") == [(1, 0, "Accepted")]

"""OCPP handlers of the smart charging block (functional block K)."""

from __future__ import annotations

from typing import Any

from ocpp_router.datetimes import from_ocpp, utcnow
from ocpp_router.registry import ocpp_handler, ocpp_result, ocpp_sendable
from ocpp_router.rpc import V16, V21, V201
from ocpp_router.session import CallContext, ResultContext
from smartcharging import services
from smartcharging.choices import Origin

V2 = (V201, V21)


@ocpp_result(V16, "SetChargingProfile")
@ocpp_result(V201, "SetChargingProfile")
@ocpp_result(V21, "SetChargingProfile")
def set_charging_profile_result(
    ctx: ResultContext, request: dict[str, Any], response: dict[str, Any]
) -> None:
    services.charging_profile_set_result(
        station_pk=ctx.station_pk, version=ctx.version, request=request, response=response
    )


@ocpp_result(V16, "ClearChargingProfile")
@ocpp_result(V201, "ClearChargingProfile")
@ocpp_result(V21, "ClearChargingProfile")
def clear_charging_profile_result(
    ctx: ResultContext, request: dict[str, Any], response: dict[str, Any]
) -> None:
    services.charging_profile_clear_result(
        station_pk=ctx.station_pk, version=ctx.version, request=request, response=response
    )


@ocpp_result(V16, "GetCompositeSchedule")
@ocpp_result(V201, "GetCompositeSchedule")
@ocpp_result(V21, "GetCompositeSchedule")
def get_composite_schedule_result(
    ctx: ResultContext, request: dict[str, Any], response: dict[str, Any]
) -> None:
    services.composite_schedule_result(
        station_pk=ctx.station_pk, version=ctx.version, request=request, response=response
    )


for _version in V2:
    # The station answers with ReportChargingProfiles calls, handled below.
    ocpp_sendable(_version, "GetChargingProfiles")


@ocpp_handler(V201, "ReportChargingProfiles")
@ocpp_handler(V21, "ReportChargingProfiles")
def report_charging_profiles(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.charging_profiles_reported(
        station_pk=ctx.station_pk,
        version=ctx.version,
        evse_id=payload["evseId"],
        limit_source=payload["chargingLimitSource"],
        profiles=payload["chargingProfile"],
    )
    return {}


@ocpp_handler(V201, "NotifyChargingLimit")
@ocpp_handler(V21, "NotifyChargingLimit")
def notify_charging_limit(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    limit = payload["chargingLimit"]
    services.charging_limit_notified(
        station_pk=ctx.station_pk,
        evse_id=payload.get("evseId"),
        source=limit["chargingLimitSource"],
        is_grid_critical=limit.get("isGridCritical"),
        schedules=payload.get("chargingSchedule"),
        at=utcnow(),
    )
    return {}


@ocpp_handler(V201, "ClearedChargingLimit")
@ocpp_handler(V21, "ClearedChargingLimit")
def cleared_charging_limit(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.charging_limit_cleared(
        station_pk=ctx.station_pk,
        evse_id=payload.get("evseId"),
        source=payload["chargingLimitSource"],
        at=utcnow(),
    )
    return {}


@ocpp_handler(V201, "NotifyEVChargingNeeds")
@ocpp_handler(V21, "NotifyEVChargingNeeds")
def notify_ev_charging_needs(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.ev_charging_needs_record(
        station_pk=ctx.station_pk,
        evse_id=payload["evseId"],
        needs=payload["chargingNeeds"],
        max_schedule_tuples=payload.get("maxScheduleTuples"),
        at=utcnow(),
    )
    return services.ev_charging_needs_answer(
        station_pk=ctx.station_pk, version=ctx.version, evse_id=payload["evseId"]
    )


@ocpp_handler(V201, "NotifyEVChargingSchedule")
@ocpp_handler(V21, "NotifyEVChargingSchedule")
def notify_ev_charging_schedule(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.ev_charging_schedule_record(
        station_pk=ctx.station_pk,
        evse_id=payload["evseId"],
        time_base=from_ocpp(payload["timeBase"]),
        schedule=payload["chargingSchedule"],
        at=utcnow(),
    )
    return services.ev_charging_schedule_check(
        station_pk=ctx.station_pk, evse_id=payload["evseId"], schedule=payload["chargingSchedule"]
    )


# --- OCPP 2.1: DER control (section R), dynamic schedules, priority charging,
# aFRR and allowed energy transfer ------------------------------------------------------


@ocpp_result(V21, "SetDERControl")
def set_der_control_result(
    ctx: ResultContext, request: dict[str, Any], response: dict[str, Any]
) -> None:
    services.der_control_set_result(
        station_pk=ctx.station_pk, request=request, response=response, at=utcnow()
    )


@ocpp_result(V21, "ClearDERControl")
def clear_der_control_result(
    ctx: ResultContext, request: dict[str, Any], response: dict[str, Any]
) -> None:
    services.der_control_clear_result(
        station_pk=ctx.station_pk, request=request, response=response, at=utcnow()
    )


@ocpp_result(V21, "GetDERControl")
def get_der_control_result(
    ctx: ResultContext, request: dict[str, Any], response: dict[str, Any]
) -> None:
    """Accepted: the controls follow in ReportDERControl. NotFound: the station holds none
    of those asked for, so none of them is in force."""
    if response["status"] == "NotFound":
        services.der_controls_not_held(station_pk=ctx.station_pk, request=request, at=utcnow())


@ocpp_handler(V21, "ReportDERControl")
def report_der_control(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.der_controls_reported(station_pk=ctx.station_pk, report=payload, at=utcnow())
    return {}


@ocpp_handler(V21, "NotifyDERAlarm")
def notify_der_alarm(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.der_alarm_record(
        station_pk=ctx.station_pk, identity=ctx.session.station_id, payload=payload, at=utcnow()
    )
    return {}


@ocpp_handler(V21, "NotifyDERStartStop")
def notify_der_start_stop(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.der_start_stop_record(
        station_pk=ctx.station_pk, identity=ctx.session.station_id, payload=payload, at=utcnow()
    )
    return {}


@ocpp_handler(V21, "PullDynamicScheduleUpdate")
def pull_dynamic_schedule_update(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    return services.dynamic_schedule_answer(
        station_pk=ctx.station_pk, charging_profile_id=payload["chargingProfileId"], at=utcnow()
    )


@ocpp_result(V21, "UpdateDynamicSchedule")
def update_dynamic_schedule_result(
    ctx: ResultContext, request: dict[str, Any], response: dict[str, Any]
) -> None:
    services.dynamic_schedule_update_result(
        station_pk=ctx.station_pk, request=request, response=response, at=utcnow()
    )


@ocpp_handler(V21, "NotifyPriorityCharging")
def notify_priority_charging(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.priority_charging_record(
        station_pk=ctx.station_pk,
        transaction_id=payload["transactionId"],
        activated=payload["activated"],
        origin=Origin.STATION,
        at=utcnow(),
    )
    return {}


@ocpp_result(V21, "UsePriorityCharging")
def use_priority_charging_result(
    ctx: ResultContext, request: dict[str, Any], response: dict[str, Any]
) -> None:
    services.priority_charging_record(
        station_pk=ctx.station_pk,
        transaction_id=request["transactionId"],
        activated=request["activate"],
        origin=Origin.CSMS,
        status=response["status"],
        at=utcnow(),
    )


@ocpp_result(V21, "AFRRSignal")
@ocpp_result(V21, "NotifyAllowedEnergyTransfer")
def grid_signal_result(
    ctx: ResultContext, request: dict[str, Any], response: dict[str, Any]
) -> None:
    services.grid_signal_record(
        station_pk=ctx.station_pk,
        action=ctx.action,
        request=request,
        status=response["status"],
        at=utcnow(),
    )

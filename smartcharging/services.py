"""Smart charging state: profiles the CSMS set or the station reported, limits, schedules."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q

from csms import events
from ocpp_router.datetimes import from_ocpp
from ocpp_router.rpc import V16, V21
from smartcharging.choices import (
    DERControlStatus,
    DEREventKind,
    GrantStatus,
    Origin,
    ProfileStatus,
)
from smartcharging.models import (
    ChargingLimit,
    ChargingProfile,
    CompositeSchedule,
    DERControl,
    DEREvent,
    DynamicScheduleUpdate,
    EvChargingNeeds,
    EvChargingSchedule,
    Grant,
    GridSignal,
    PriorityCharging,
    Site,
)

logger = logging.getLogger(__name__)


def _profile_fields(profile: dict[str, Any], version: str) -> dict[str, Any]:
    """Model fields of a wire-format profile (1.6 csChargingProfiles or 2.x chargingProfile)."""
    return {
        "profile_id": profile["chargingProfileId"] if version == V16 else profile["id"],
        "stack_level": profile["stackLevel"],
        "purpose": profile["chargingProfilePurpose"],
        "kind": profile["chargingProfileKind"],
        "recurrency_kind": profile.get("recurrencyKind", ""),
        "valid_from": from_ocpp(profile.get("validFrom")),
        "valid_to": from_ocpp(profile.get("validTo")),
        "transaction_id": str(profile.get("transactionId", "")),
        "schedules": profile["chargingSchedule"],
    }


def charging_profile_set_result(
    *, station_pk: int, version: str, request: dict[str, Any], response: dict[str, Any]
) -> ChargingProfile:
    """Record a SetChargingProfile the station answered.

    An accepted profile replaces the one with the same id (OCPP 2.0.1 K01.FR.05), and in
    1.6 the one with the same purpose and stack level on the same connector (1.6 section 3.13.2).
    """
    if version == V16:
        evse_id, profile = request["connectorId"], request["csChargingProfiles"]
    else:
        evse_id, profile = request["evseId"], request["chargingProfile"]
    fields = _profile_fields(profile, version)
    status = response["status"]
    with transaction.atomic():
        if status == ProfileStatus.ACCEPTED:
            replaced = Q(profile_id=fields["profile_id"])
            if version == V16:
                replaced |= Q(
                    evse_id=evse_id, purpose=fields["purpose"], stack_level=fields["stack_level"]
                )
            ChargingProfile.objects.select_for_update().filter(
                replaced, station_id=station_pk, status=ProfileStatus.ACCEPTED
            ).update(status=ProfileStatus.CLEARED)
        return ChargingProfile.objects.create(
            station_id=station_pk,
            evse_id=evse_id,
            status=status,
            status_info=response.get("statusInfo"),
            protocol=version,
            **fields,
        )


def charging_profile_clear_result(
    *, station_pk: int, version: str, request: dict[str, Any], response: dict[str, Any]
) -> int:
    """Mark the profiles a ClearChargingProfile removed; returns how many."""
    if response["status"] != "Accepted":
        return 0
    if version == V16:
        profile_id = request.get("id")
        criteria = {
            "evse_id": request.get("connectorId"),
            "purpose": request.get("chargingProfilePurpose"),
            "stack_level": request.get("stackLevel"),
        }
    else:
        profile_id = request.get("chargingProfileId")
        given = request.get("chargingProfileCriteria", {})
        criteria = {
            "evse_id": given.get("evseId"),
            "purpose": given.get("chargingProfilePurpose"),
            "stack_level": given.get("stackLevel"),
        }
    matching = ChargingProfile.objects.filter(station_id=station_pk, status=ProfileStatus.ACCEPTED)
    if profile_id is not None:
        matching = matching.filter(profile_id=profile_id)
    else:
        matching = matching.filter(**{k: v for k, v in criteria.items() if v is not None})
    with transaction.atomic():
        return matching.select_for_update().update(status=ProfileStatus.CLEARED)


def composite_schedule_result(
    *, station_pk: int, version: str, request: dict[str, Any], response: dict[str, Any]
) -> CompositeSchedule:
    if version == V16:
        evse_id = response.get("connectorId", request["connectorId"])
        schedule = response.get("chargingSchedule")
        start = from_ocpp(response.get("scheduleStart"))
    else:
        evse_id = request["evseId"]
        schedule = response.get("schedule")
        start = from_ocpp(schedule.get("scheduleStart")) if schedule else None
    return CompositeSchedule.objects.create(
        station_id=station_pk,
        evse_id=evse_id,
        requested_duration=request["duration"],
        status=response["status"],
        schedule_start=start,
        schedule=schedule,
    )


def charging_profiles_reported(
    *,
    station_pk: int,
    version: str,
    evse_id: int,
    limit_source: str,
    profiles: list[dict[str, Any]],
) -> list[ChargingProfile]:
    """Store the profiles a station reported (ReportChargingProfiles), replacing its last report
    of the same profile ids."""
    rows = [
        ChargingProfile(
            station_id=station_pk,
            evse_id=evse_id,
            status=ProfileStatus.REPORTED,
            limit_source=limit_source,
            protocol=version,
            **_profile_fields(profile, version),
        )
        for profile in profiles
    ]
    with transaction.atomic():
        ChargingProfile.objects.filter(
            station_id=station_pk,
            status=ProfileStatus.REPORTED,
            evse_id=evse_id,
            profile_id__in=[row.profile_id for row in rows],
        ).delete()
        return ChargingProfile.objects.bulk_create(rows)


def charging_limit_notified(
    *,
    station_pk: int,
    evse_id: int | None,
    source: str,
    is_grid_critical: bool | None,
    schedules: list[dict[str, Any]] | None,
    at: datetime,
) -> ChargingLimit:
    return ChargingLimit.objects.create(
        station_id=station_pk,
        evse_id=evse_id,
        source=source,
        is_grid_critical=is_grid_critical,
        schedules=schedules,
        reported=at,
    )


def charging_limit_cleared(
    *, station_pk: int, evse_id: int | None, source: str, at: datetime
) -> int:
    """Close the open limits of `source` (on `evse_id`, or everywhere when it is None)."""
    open_limits = ChargingLimit.objects.filter(
        station_id=station_pk, source=source, cleared__isnull=True
    )
    if evse_id is not None:
        open_limits = open_limits.filter(evse_id=evse_id)
    with transaction.atomic():
        return open_limits.select_for_update().update(cleared=at)


def ev_charging_needs_record(
    *,
    station_pk: int,
    evse_id: int,
    needs: dict[str, Any],
    max_schedule_tuples: int | None,
    at: datetime,
) -> EvChargingNeeds:
    return EvChargingNeeds.objects.create(
        station_id=station_pk,
        evse_id=evse_id,
        needs=needs,
        max_schedule_tuples=max_schedule_tuples,
        received=at,
    )


def ev_charging_schedule_record(
    *,
    station_pk: int,
    evse_id: int,
    time_base: datetime | None,
    schedule: dict[str, Any],
    at: datetime,
) -> EvChargingSchedule:
    return EvChargingSchedule.objects.create(
        station_id=station_pk, evse_id=evse_id, time_base=time_base, schedule=schedule, received=at
    )


def ev_charging_needs_answer(*, station_pk: int, version: str, evse_id: int) -> dict[str, Any]:
    """The answer to NotifyEVChargingNeeds: Accepted only when a schedule will follow.

    OCPP 2.0.1 K15.FR.03: Accepted when the CSMS provides a schedule, which it sends at once
    (a TxProfile within the EV's limits and the site's grant); K15.FR.05: Processing when it
    will, later (the EVSE is in a site but its transaction has not started: the profile goes
    out when it does); K15.FR.04: Rejected when it will not (the EVSE is in no site with
    load management). OCPP 2.1 says NoChargingProfile for the last case.
    """
    from smartcharging import balancing
    from transactions.models import Transaction

    member = balancing.member_site(station_pk=station_pk, evse_id=evse_id)
    if member is None:
        status = "NoChargingProfile" if version == V21 else "Rejected"
        return {
            "status": status,
            "statusInfo": {
                "reasonCode": "NoLoadManagement",
                "additionalInfo": "The EVSE is in no site with load management: the CSMS "
                "sends no charging schedule",
            },
        }
    active = Transaction.objects.filter(
        station_id=station_pk, evse_id=evse_id, is_active=True
    ).exists()
    if not active:
        return {"status": "Processing"}
    balancing.grant_resend(station_pk=station_pk, evse_id=evse_id)
    site_changed(site_pk=member.site_id)
    return {"status": "Accepted"}


def ev_charging_schedule_check(
    *, station_pk: int, evse_id: int, schedule: dict[str, Any]
) -> dict[str, Any]:
    """Check the schedule the EV chose (NotifyEVChargingSchedule) against the session's
    grant (K15.FR.11 Accepted within it); beyond it, Rejected and the CSMS sends its
    profile again, which makes the station renegotiate with the EV (K16)."""
    from smartcharging import balancing
    from smartcharging.models import Grant

    grant = (
        Grant.objects.filter(station_id=station_pk, evse_id=evse_id, transaction__is_active=True)
        .select_related("site")
        .first()
    )
    if grant is None:
        return {"status": "Accepted"}
    site = grant.site
    allowed = float(grant.current)
    for period in schedule.get("chargingSchedulePeriod", []):
        limit = float(period["limit"])
        if schedule.get("chargingRateUnit") == "W":
            limit /= site.voltage * (period.get("numberPhases") or site.phases)
        if limit > allowed + 0.05:
            balancing.grant_resend(station_pk=station_pk, evse_id=evse_id)
            site_changed(site_pk=site.pk)
            return {
                "status": "Rejected",
                "statusInfo": {
                    "reasonCode": "ExceedsGrant",
                    "additionalInfo": f"{limit:.1f} A per phase at {period['startPeriod']} s "
                    f"exceeds the {allowed:.1f} A the site grants; a new profile follows",
                },
            }
    return {"status": "Accepted"}


def site_changed(*, site_pk: int) -> None:
    """A site, its groups or its members changed: share it again once this commits."""
    from smartcharging import engine

    transaction.on_commit(lambda: engine.notify_site(site_pk))


def site_consumption_report(*, site_pk: int, value: Decimal, at: datetime) -> Site:
    """Record the site's other consumption (the building without the chargers, in the
    site's unit), as an energy manager posts it; the site is shared again at once."""
    with transaction.atomic():
        site = Site.objects.select_for_update().get(pk=site_pk)
        site.other_consumption = value
        site.other_consumption_at = at
        site.save(update_fields=["other_consumption", "other_consumption_at"])
        site_changed(site_pk=site_pk)
    return site


# --- OCPP 2.1 DER control (section R) -----------------------------------------------------

# SetDERControlRequest / ReportDERControlRequest field of each control type; within a
# ReportDERControl item the control sits under `inner`.
_DER_FIELDS: dict[str, tuple[str, str]] = {
    "enterService": ("EnterService", "enterService"),
    "fixedPFAbsorb": ("FixedPFAbsorb", "fixedPF"),
    "fixedPFInject": ("FixedPFInject", "fixedPF"),
    "fixedVar": ("FixedVar", "fixedVar"),
    "freqDroop": ("FreqDroop", "freqDroop"),
    "gradient": ("Gradients", "gradient"),
    "limitMaxDischarge": ("LimitMaxDischarge", "limitMaxDischarge"),
}


def _der_settings(request: dict[str, Any]) -> dict[str, Any]:
    for name in ("curve", *_DER_FIELDS):
        if name in request:
            return request[name]
    return {}


def der_control_set_result(
    *, station_pk: int, request: dict[str, Any], response: dict[str, Any], at: datetime
) -> DERControl:
    """SetDERControl answered: the control as sent with the station's status; the ids the
    station says it superseded (supersededIds) are marked so."""
    settings = _der_settings(request)
    with transaction.atomic():
        control, _ = DERControl.objects.update_or_create(
            station_id=station_pk,
            control_id=request["controlId"],
            defaults={
                "control_type": request["controlType"],
                "is_default": request["isDefault"],
                "priority": settings.get("priority"),
                "settings": settings,
                "status": response["status"],
                "status_info": response.get("statusInfo"),
                "updated": at,
            },
        )
        superseded = response.get("supersededIds", [])
        if response["status"] == DERControlStatus.ACCEPTED and superseded:
            DERControl.objects.filter(station_id=station_pk, control_id__in=superseded).update(
                status=DERControlStatus.SUPERSEDED, active=False, updated=at
            )
    return control


def der_control_clear_result(
    *, station_pk: int, request: dict[str, Any], response: dict[str, Any], at: datetime
) -> int:
    """ClearDERControl Accepted: the matching controls (by id, else type and default flag)
    no longer hold at the station."""
    if response["status"] != DERControlStatus.ACCEPTED:
        return 0
    controls = DERControl.objects.filter(station_id=station_pk).exclude(
        status=DERControlStatus.CLEARED
    )
    if "controlId" in request:
        controls = controls.filter(control_id=request["controlId"])
    else:
        controls = controls.filter(is_default=request["isDefault"])
        if "controlType" in request:
            controls = controls.filter(control_type=request["controlType"])
    return controls.update(status=DERControlStatus.CLEARED, active=False, updated=at)


def der_controls_not_held(*, station_pk: int, request: dict[str, Any], at: datetime) -> int:
    """GetDERControl NotFound: the controls matching the request are no longer held."""
    controls = DERControl.objects.filter(station_id=station_pk).exclude(
        status__in=[DERControlStatus.CLEARED, DERControlStatus.REJECTED]
    )
    if "controlId" in request:
        controls = controls.filter(control_id=request["controlId"])
    if "controlType" in request:
        controls = controls.filter(control_type=request["controlType"])
    if "isDefault" in request:
        controls = controls.filter(is_default=request["isDefault"])
    return controls.update(status=DERControlStatus.CLEARED, active=False, updated=at)


def der_controls_reported(*, station_pk: int, report: dict[str, Any], at: datetime) -> int:
    """ReportDERControl (the answer to GetDERControl): every control the station holds."""
    count = 0
    with transaction.atomic():
        for field, (control_type, inner) in {"curve": ("", "curve"), **_DER_FIELDS}.items():
            for item in report.get(field, []):
                settings = item[inner]
                DERControl.objects.update_or_create(
                    station_id=station_pk,
                    control_id=item["id"],
                    defaults={
                        "control_type": item.get("curveType", control_type),
                        "is_default": item.get("isDefault", False),
                        "priority": settings.get("priority"),
                        "settings": settings,
                        "status": DERControlStatus.SUPERSEDED
                        if item.get("isSuperseded")
                        else DERControlStatus.REPORTED,
                        "updated": at,
                    },
                )
                count += 1
    return count


def der_alarm_record(
    *, station_pk: int, identity: str, payload: dict[str, Any], at: datetime
) -> DEREvent:
    """NotifyDERAlarm: stored and raised as the event `der.alarm` (webhooks, dashboard)."""
    with transaction.atomic():
        event = DEREvent.objects.create(
            station_id=station_pk,
            kind=DEREventKind.ALARM,
            control_type=payload["controlType"],
            grid_event_fault=payload.get("gridEventFault", ""),
            alarm_ended=payload.get("alarmEnded", False),
            extra_info=payload.get("extraInfo", ""),
            timestamp=from_ocpp(payload["timestamp"]),
            received_at=at,
        )
        transaction.on_commit(
            lambda: events.publish(
                "der.alarm",
                identity,
                control_type=event.control_type,
                grid_event_fault=event.grid_event_fault,
                alarm_ended=event.alarm_ended,
                timestamp=payload["timestamp"],
            )
        )
    return event


def der_start_stop_record(
    *, station_pk: int, identity: str, payload: dict[str, Any], at: datetime
) -> DEREvent:
    """NotifyDERStartStop: the control's `active` flag, its superseded ones, an event."""
    started = payload["started"]
    superseded = payload.get("supersededIds", [])
    with transaction.atomic():
        control = (
            DERControl.objects.select_for_update()
            .filter(station_id=station_pk, control_id=payload["controlId"])
            .first()
        )
        if control is not None:
            control.active = started
            control.updated = at
            control.save(update_fields=["active", "updated"])
        if superseded:
            DERControl.objects.filter(station_id=station_pk, control_id__in=superseded).update(
                status=DERControlStatus.SUPERSEDED, active=False, updated=at
            )
        event = DEREvent.objects.create(
            station_id=station_pk,
            kind=DEREventKind.STARTED if started else DEREventKind.STOPPED,
            control_id=payload["controlId"],
            control_type=control.control_type if control else "",
            superseded_ids=superseded,
            timestamp=from_ocpp(payload["timestamp"]),
            received_at=at,
        )
        transaction.on_commit(
            lambda: events.publish(
                f"der.{event.kind}", identity, control_id=event.control_id, superseded=superseded
            )
        )
    return event


# --- OCPP 2.1 dynamic schedules , priority charging, grid signals -----

_UPDATE_FIELDS = (
    "limit",
    "limit_L2",
    "limit_L3",
    "dischargeLimit",
    "dischargeLimit_L2",
    "dischargeLimit_L3",
    "setpoint",
    "setpoint_L2",
    "setpoint_L3",
    "setpointReactive",
    "setpointReactive_L2",
    "setpointReactive_L3",
)


def dynamic_schedule_answer(*, station_pk: int, charging_profile_id: int, at: datetime) -> dict:
    """PullDynamicScheduleUpdate: the limit the smart-charging engine grants the profile's
    session when it has one, else the latest update the station accepted, else the first
    period of the stored profile; Rejected for a profile the CSMS does not know."""
    profile = (
        ChargingProfile.objects.filter(station_id=station_pk, profile_id=charging_profile_id)
        .exclude(status=ProfileStatus.CLEARED)
        .order_by("-updated")
        .first()
    )
    grant = (
        Grant.objects.filter(
            station_id=station_pk,
            profile_id=charging_profile_id,
            transaction__is_active=True,
        )
        .exclude(status=GrantStatus.FAILED)
        .first()
    )
    update: dict[str, Any] | None = None
    if grant is not None:
        update = {"limit": float(grant.current)}
    elif profile is not None:
        pushed = (
            DynamicScheduleUpdate.objects.filter(
                station_id=station_pk,
                charging_profile_id=charging_profile_id,
                origin=Origin.CSMS,
                status="Accepted",
            )
            .order_by("-at")
            .first()
        )
        if pushed is not None:
            update = pushed.schedule_update
        else:
            schedules = profile.schedules if isinstance(profile.schedules, list) else []
            periods = schedules[0].get("chargingSchedulePeriod", []) if schedules else []
            if periods:
                update = {k: periods[0][k] for k in _UPDATE_FIELDS if k in periods[0]}
    status = "Accepted" if update else "Rejected"
    DynamicScheduleUpdate.objects.create(
        station_id=station_pk,
        charging_profile_id=charging_profile_id,
        origin=Origin.STATION,
        schedule_update=update or {},
        status=status,
        at=at,
    )
    if update:
        return {"status": status, "scheduleUpdate": update}
    return {"status": status, "statusInfo": {"reasonCode": "UnknownProfile"}}


def dynamic_schedule_update_result(
    *, station_pk: int, request: dict[str, Any], response: dict[str, Any], at: datetime
) -> DynamicScheduleUpdate:
    return DynamicScheduleUpdate.objects.create(
        station_id=station_pk,
        charging_profile_id=request["chargingProfileId"],
        origin=Origin.CSMS,
        schedule_update=request["scheduleUpdate"],
        status=response["status"],
        at=at,
    )


def priority_charging_record(
    *,
    station_pk: int,
    transaction_id: str,
    activated: bool,
    origin: str,
    status: str = "",
    at: datetime,
) -> PriorityCharging:
    from smartcharging import balancing
    from transactions.models import Transaction

    tx = (
        Transaction.objects.filter(station_id=station_pk, transaction_id=transaction_id)
        .only("pk", "evse_id")
        .first()
    )
    with transaction.atomic():
        row = PriorityCharging.objects.create(
            station_id=station_pk,
            transaction=tx,
            transaction_ref=transaction_id,
            activated=activated,
            origin=origin,
            status=status,
            at=at,
        )
        # The site's sessions are shared again: a prioritised one comes first.
        member = balancing.member_site(station_pk=station_pk, evse_id=tx.evse_id) if tx else None
        if member is not None:
            site_changed(site_pk=member.site_id)
    return row


def grid_signal_record(
    *, station_pk: int, action: str, request: dict[str, Any], status: str, at: datetime
) -> GridSignal:
    """AFRRSignal / NotifyAllowedEnergyTransfer as sent, with the station's answer."""
    timestamp = request.get("timestamp")
    return GridSignal.objects.create(
        station_id=station_pk,
        action=action,
        transaction_id=request.get("transactionId", ""),
        signal=request.get("signal"),
        allowed_energy_transfer=request.get("allowedEnergyTransfer", []),
        timestamp=from_ocpp(timestamp) if timestamp else at,
        status=status,
    )

"""Load management of a site: from the database to an allocation, and to the profiles to send.

`site_plan` reads a site's limits and active sessions, runs the allocation
(`smartcharging.allocation.allocate`, a pure function) and returns what has to go to the
stations: a TxProfile per session whose grant changed, and the TxDefaultProfile each member
station holds as its offline fallback. `engine` sends them; `grant_answered` and
`fallback_answered` record what the stations said.

Sessions the CSMS cannot steer now keep their last grant counted: a station that is offline
or did not answer until CSMS_SMART_CHARGING_GRANT_TIMEOUT seconds passed, and one that
rejected the profile (counted at what it accepted before, or at its fallback) until then.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from ocpp_router.rpc import V16, V21
from smartcharging import allocation
from smartcharging.choices import GrantStatus, LimitUnit
from smartcharging.models import EvChargingNeeds, Grant, Site, SiteMember
from transactions.models import MeterValue, Transaction

logger = logging.getLogger(__name__)

# Profile ids the CSMS uses for its own load management, per EVSE.
TX_PROFILE_ID = 220_000
FALLBACK_PROFILE_ID = 221_000
POWER = "Power.Active.Import"


@dataclass
class Send:
    """One SetChargingProfile to send for a site."""

    kind: str  # "tx" or "fallback"
    key: int  # Grant transaction pk (tx) or SiteMember pk (fallback)
    station_pk: int
    identity: str
    version: str
    evse_id: int
    current: float
    previous: float | None
    payload: dict[str, Any]

    @property
    def decrease(self) -> bool:
        return self.previous is None or self.current < self.previous


def _amperes(value: float, unit: str, voltage: float, phases: int) -> float:
    return value if unit == LimitUnit.AMPERES else value / (voltage * phases)


def site_capacity(site: Site, now: datetime) -> float:
    """The site's limit less the other consumption measured and the safety margin."""
    other = site.other_consumption
    if site.meter_station_id is not None:
        # The total of the phases (no phase given), read within the last few minutes.
        reading = (
            MeterValue.objects.filter(
                station_id=site.meter_station_id,
                evse_id=site.meter_evse_id,
                measurand=POWER,
                phase="",
                timestamp__gte=now - timedelta(seconds=settings.CSMS_SMART_CHARGING_METER_MAX_AGE),
            )
            .order_by("-timestamp")
            .values_list("value", "unit", "multiplier")
            .first()
        )
        if reading is not None and reading[0] is not None:
            watts = (
                float(reading[0]) * 10 ** (reading[2] or 0) * (1000 if reading[1] == "kW" else 1)
            )
            if site.unit == LimitUnit.AMPERES:
                watts /= site.voltage * site.phases
            other = Decimal(str(watts))
    capacity = float(site.limit) - float(site.safety_margin) - float(other or 0)
    return max(capacity, 0.0)


def _fallback_current(site: Site, members: list[SiteMember], capacity: float) -> float:
    """The TxDefaultProfile limit: safe even if every EVSE of the site charges at it."""
    if site.fallback_current is not None:
        return float(site.fallback_current)
    evses = 0
    for member in members:
        if member.evse_id:
            evses += 1
        else:
            evses += max(member.station.evses.count(), 1)
    per_evse = _amperes(capacity, site.unit, site.voltage, site.phases) / max(evses, 1)
    return math.floor(per_evse * 10) / 10


def _schedule(version: str, current: float, min_rate: float | None) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": current}],
    }
    if min_rate:
        schedule["minChargingRate"] = min_rate
    if version != V16:
        schedule["id"] = 1
    return schedule


def tx_profile_payload(
    *, version: str, evse_id: int, transaction_id: str, current: float
) -> dict[str, Any]:
    """SetChargingProfile of a TxProfile limiting a session to `current` A per phase."""
    profile: dict[str, Any] = {
        "stackLevel": settings.CSMS_SMART_CHARGING_STACK_LEVEL,
        "chargingProfilePurpose": "TxProfile",
        # Relative: from the start of the transaction, whenever the station received it.
        "chargingProfileKind": "Relative",
    }
    if version == V16:
        profile["chargingProfileId"] = TX_PROFILE_ID + evse_id
        profile["transactionId"] = int(transaction_id)
        profile["chargingSchedule"] = _schedule(version, current, None)
        return {"connectorId": evse_id, "csChargingProfiles": profile}
    profile["id"] = TX_PROFILE_ID + evse_id
    profile["transactionId"] = transaction_id
    profile["chargingSchedule"] = [_schedule(version, current, None)]
    if version == V21 and settings.CSMS_SMART_CHARGING_DYNAMIC:
        # OCPP 2.1 K28: a Dynamic profile, its limit updated with UpdateDynamicSchedule.
        profile["chargingProfileKind"] = "Dynamic"
    return {"evseId": evse_id, "chargingProfile": profile}


def dynamic_update_payload(*, send: Send) -> dict[str, Any] | None:
    """OCPP 2.1 K28: the UpdateDynamicSchedule that carries `send`'s grant to a 2.1 station
    holding the session's Dynamic TxProfile (its last one Accepted), instead of a new
    profile; None where a SetChargingProfile is needed."""
    if send.kind != "tx" or send.version != V21 or not settings.CSMS_SMART_CHARGING_DYNAMIC:
        return None
    grant = (
        Grant.objects.filter(transaction_id=send.key, status=GrantStatus.ACCEPTED)
        .only("profile_id")
        .first()
    )
    if grant is None or grant.profile_id is None:
        return None
    return {"chargingProfileId": grant.profile_id, "scheduleUpdate": {"limit": send.current}}


def fallback_payload(*, version: str, evse_id: int, current: float) -> dict[str, Any]:
    """SetChargingProfile of the TxDefaultProfile a station applies until it gets a TxProfile
    and whenever it loses the CSMS (1.6 section 3.13.6, 2.0.1 K01)."""
    profile: dict[str, Any] = {
        "stackLevel": settings.CSMS_SMART_CHARGING_STACK_LEVEL,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
    }
    if version == V16:
        profile["chargingProfileId"] = FALLBACK_PROFILE_ID + evse_id
        profile["chargingSchedule"] = _schedule(version, current, None)
        return {"connectorId": evse_id, "csChargingProfiles": profile}
    profile["id"] = FALLBACK_PROFILE_ID + evse_id
    profile["chargingSchedule"] = [_schedule(version, current, None)]
    return {"evseId": evse_id, "chargingProfile": profile}


def _needs_of(station_pk: int, evse_id: int | None, since: datetime | None) -> dict[str, Any]:
    query = EvChargingNeeds.objects.filter(station_id=station_pk, evse_id=evse_id or 0)
    if since is not None:
        query = query.filter(received__gte=since - timedelta(minutes=5))
    latest = query.order_by("-received").values_list("needs", flat=True).first()
    return latest or {}


# OCPP 2.1 priority charging: such a session comes before every other (admitted first,
# filled to its maximum before the others share what is left).
PRIORITY_CHARGING_PRIORITY = 1_000
PRIORITY_CHARGING_WEIGHT = 1_000.0


def priority_charging_active(transaction_pks: list[int]) -> set[int]:
    """The transactions whose latest priority-charging record is on: the station notified it
    (NotifyPriorityCharging) or accepted our UsePriorityCharging."""
    from smartcharging.models import PriorityCharging

    latest: dict[int, bool] = {}
    rows = (
        PriorityCharging.objects.filter(transaction_id__in=transaction_pks)
        .exclude(origin="csms", status__in=["Rejected", "NoProfile", ""])
        .order_by("at", "pk")
        .values_list("transaction_id", "activated")
    )
    for tx_pk, activated in rows:
        latest[tx_pk] = activated
    return {tx_pk for tx_pk, on in latest.items() if on}


def _priority(tx: Transaction) -> int:
    token = tx.id_token
    if token is None:
        return 0
    if token.charging_priority is not None:
        return int(token.charging_priority)
    group = token.group_id_token
    if group is not None and group.charging_priority is not None:
        return int(group.charging_priority)
    return 0


def _session(
    site: Site,
    member: SiteMember,
    tx: Transaction,
    grant: Grant | None,
    fallback: float,
    now: datetime,
    priority_charging: bool = False,
) -> allocation.Session:
    lo, hi = float(site.min_current), float(site.max_current)
    phases = tx.number_of_phases_used or site.phases
    weight = 1.0
    needs = _needs_of(tx.station_id, tx.evse_id, tx.started_at)
    ac = needs.get("acChargingParameters")
    dc = needs.get("dcChargingParameters")
    energy = None
    if ac:
        hi = min(hi, float(ac["evMaxCurrent"]))
        lo = max(lo, float(ac["evMinCurrent"]))
        energy = ac.get("energyAmount")
        if needs.get("requestedEnergyTransfer") == "AC_single_phase":
            phases = 1
    elif dc:
        if dc.get("evMaxPower"):
            hi = min(hi, float(dc["evMaxPower"]) / (site.voltage * phases))
        energy = dc.get("energyAmount")
    departure = needs.get("departureTime")
    if energy and departure:
        seconds = (datetime.fromisoformat(departure.replace("Z", "+00:00")) - now).total_seconds()
        weight = allocation.needs_weight(
            energy_wh=float(energy),
            seconds_to_departure=seconds,
            phases=phases,
            voltage=site.voltage,
            max_current=hi,
        )
    fixed = None
    timeout = timedelta(seconds=settings.CSMS_SMART_CHARGING_GRANT_TIMEOUT)
    last = float(grant.accepted_current) if grant and grant.accepted_current is not None else None
    if not tx.station.is_online:
        # Offline: it applies what it holds (its last TxProfile, or its fallback) until the
        # grant times out; after that the session is taken as gone.
        if grant is None or now - grant.sent_at < timeout:
            fixed = last if last is not None else fallback
        else:
            fixed = 0.0
    elif grant is not None and grant.status in (GrantStatus.REJECTED, GrantStatus.FAILED):
        if now - (grant.answered_at or grant.sent_at) < timeout:
            fixed = last if last is not None else fallback
    return allocation.Session(
        key=str(tx.pk),
        group=f"g{member.group_id}" if member.group_id else "site",
        min_current=lo,
        max_current=hi,
        phases=phases,
        weight=weight * PRIORITY_CHARGING_WEIGHT if priority_charging else weight,
        priority=_priority(tx) + (PRIORITY_CHARGING_PRIORITY if priority_charging else 0),
        order=tx.started_at.timestamp() if tx.started_at else float(tx.pk),
        fixed=fixed,
    )


@dataclass
class Plan:
    site_pk: int
    sends: list[Send]
    grants: dict[str, float]
    capacity: float


def site_plan(*, site_pk: int, now: datetime) -> Plan:
    """What the site's stations must be sent now (nothing if the site is disabled)."""
    site = Site.objects.filter(pk=site_pk).first()
    if site is None or not site.enabled:
        return Plan(site_pk, [], {}, 0.0)
    members = list(site.members.select_related("station", "group"))
    capacity = site_capacity(site, now)
    limits = [allocation.Limit("site", capacity, site.unit)]
    limits += [
        allocation.Limit(f"g{group.pk}", float(group.limit), group.unit, "site")
        for group in site.groups.all()
    ]
    fallback = _fallback_current(site, members, capacity)
    by_station: dict[int, list[SiteMember]] = {}
    for member in members:
        by_station.setdefault(member.station_id, []).append(member)
    transactions = list(
        Transaction.objects.filter(is_active=True, station_id__in=list(by_station))
        .select_related("station", "id_token__group_id_token")
        .order_by("started_at", "pk")
    )
    grants = {g.transaction_id: g for g in Grant.objects.filter(transaction__in=transactions)}
    prioritised = priority_charging_active([tx.pk for tx in transactions])
    sessions = []
    session_member: dict[str, tuple[SiteMember, Transaction]] = {}
    for tx in transactions:
        member = _member_of(by_station[tx.station_id], tx.evse_id)
        if member is None or not tx.evse_id:
            continue
        session = _session(site, member, tx, grants.get(tx.pk), fallback, now, tx.pk in prioritised)
        sessions.append(session)
        session_member[session.key] = (member, tx)
    result = allocation.allocate(limits, sessions, voltage=site.voltage)
    sends = []
    for session in sessions:
        if session.fixed is not None:
            continue
        member, tx = session_member[session.key]
        current = result.grants[session.key]
        grant = grants.get(tx.pk)
        if grant is not None and float(grant.current) == current and not grant.resend:
            if grant.status != GrantStatus.FAILED:
                continue
        previous = (
            float(grant.accepted_current)
            if grant is not None and grant.accepted_current is not None
            else fallback
        )
        sends.append(
            Send(
                kind="tx",
                key=tx.pk,
                station_pk=tx.station_id,
                identity=tx.station.identity,
                version=tx.ocpp_version,
                evse_id=tx.evse_id or 0,
                current=current,
                previous=previous,
                payload=tx_profile_payload(
                    version=tx.ocpp_version,
                    evse_id=tx.evse_id or 0,
                    transaction_id=tx.transaction_id,
                    current=current,
                ),
            )
        )
    for member in members:
        station = member.station
        if not station.is_online or not station.protocol:
            continue
        if (
            member.fallback_current is not None
            and float(member.fallback_current) == fallback
            and member.fallback_status in (GrantStatus.ACCEPTED, GrantStatus.REJECTED)
        ):
            continue
        sends.append(
            Send(
                kind="fallback",
                key=member.pk,
                station_pk=station.pk,
                identity=station.identity,
                version=station.protocol,
                evse_id=member.evse_id,
                current=fallback,
                previous=(
                    float(member.fallback_current) if member.fallback_current is not None else None
                ),
                payload=fallback_payload(
                    version=station.protocol, evse_id=member.evse_id, current=fallback
                ),
            )
        )
    return Plan(site_pk, sends, result.grants, capacity)


def _member_of(members: list[SiteMember], evse_id: int | None) -> SiteMember | None:
    exact = [m for m in members if m.evse_id and m.evse_id == evse_id]
    if exact:
        return exact[0]
    return next((m for m in members if m.evse_id == 0), None)


def grant_sent(*, site_pk: int, send: Send, at: datetime) -> None:
    """Record a TxProfile about to go out (it counts from now, even before the answer)."""
    if send.kind == "tx":
        Grant.objects.update_or_create(
            transaction_id=send.key,
            defaults={
                "site_id": site_pk,
                "station_id": send.station_pk,
                "evse_id": send.evse_id,
                "current": Decimal(str(send.current)),
                "status": GrantStatus.PENDING,
                "profile_id": TX_PROFILE_ID + send.evse_id,
                "resend": False,
                "sent_at": at,
                "answered_at": None,
            },
        )
    else:
        SiteMember.objects.filter(pk=send.key).update(
            fallback_current=Decimal(str(send.current)),
            fallback_status=GrantStatus.PENDING,
            fallback_sent_at=at,
        )


def grant_answered(*, send: Send, status: str, at: datetime) -> None:
    """Record the station's answer (Accepted, Rejected) or that none came (Failed)."""
    if send.kind == "fallback":
        SiteMember.objects.filter(pk=send.key).update(fallback_status=status)
        return
    with transaction.atomic():
        grant = Grant.objects.select_for_update().filter(transaction_id=send.key).first()
        if grant is None:
            return
        grant.status = status
        grant.answered_at = at
        if status == GrantStatus.ACCEPTED:
            grant.accepted_current = grant.current
        grant.save(update_fields=["status", "answered_at", "accepted_current"])
    if status != GrantStatus.ACCEPTED:
        logger.warning(
            "Station %s answered %s to the %s A TxProfile of EVSE %s: its last grant stays "
            "counted for %s s (CSMS_SMART_CHARGING_GRANT_TIMEOUT)",
            send.identity,
            status,
            send.current,
            send.evse_id,
            settings.CSMS_SMART_CHARGING_GRANT_TIMEOUT,
        )


def sites_of(identity: str) -> list[int]:
    """Primary keys of the enabled sites `identity` belongs to (as a member or its meter)."""
    return sorted(
        set(
            Site.objects.filter(
                Q(members__station__identity=identity) | Q(meter_station__identity=identity),
                enabled=True,
            ).values_list("pk", flat=True)
        )
    )


def member_site(*, station_pk: int, evse_id: int) -> SiteMember | None:
    """The site membership covering EVSE `evse_id` of a station, if any."""
    members = list(
        SiteMember.objects.filter(station_id=station_pk, site__enabled=True).select_related("site")
    )
    return _member_of(members, evse_id)


def grant_resend(*, station_pk: int, evse_id: int) -> None:
    """Have the next plan send the session's TxProfile again even if unchanged (ISO 15118:
    the EV waits for a schedule after NotifyEVChargingNeeds)."""
    Grant.objects.filter(
        station_id=station_pk, evse_id=evse_id, transaction__is_active=True
    ).update(resend=True)


def fallback_resend(*, station_pk: int) -> None:
    """After a (re)boot the station may have lost its profiles: send the fallback again."""
    SiteMember.objects.filter(station_id=station_pk).update(fallback_status="")

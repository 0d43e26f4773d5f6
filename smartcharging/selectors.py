"""Reads of smart charging shared by the API, the admin and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from smartcharging.choices import LimitUnit, ProfileStatus
from smartcharging.composite import Composite, composite_schedule, profile_from_ocpp
from smartcharging.models import ChargingProfile, CompositeSchedule, Site
from transactions.models import MeterValue, Transaction

POWER = "Power.Active.Import"


def site_power(
    site: Site, start: datetime, end: datetime, *, max_age: float = 120.0
) -> list[tuple[datetime, float]]:
    """The site's total charging power over time (W), from the stored meter values.

    Each EVSE's latest Power.Active.Import (all phases) counts until its next value, the end
    of its transaction, or `max_age` seconds without a value; the total is given at every
    moment one of them changes.
    """
    members = list(site.members.values_list("station_id", "evse_id"))
    stations = {station for station, _ in members}
    whole = {station for station, evse in members if evse == 0}
    evses = {(station, evse) for station, evse in members if evse}
    rows = (
        MeterValue.objects.filter(
            station_id__in=stations,
            measurand=POWER,
            phase="",
            timestamp__gte=start - timedelta(seconds=max_age),
            timestamp__lte=end,
        )
        .exclude(transaction__isnull=True)
        .order_by("timestamp", "id")
        .values_list("station_id", "evse_id", "timestamp", "value", "unit", "transaction_id")
    )
    stops = dict(
        Transaction.objects.filter(
            station_id__in=stations, stopped_at__isnull=False, stopped_at__gte=start
        ).values_list("pk", "stopped_at")
    )
    # (moment, order, EVSE, watts or None, the reading's moment): a reading, or its lapse
    # (None) at its expiry unless a newer reading replaced it first.
    changes: list[tuple[datetime, int, tuple[int, int], float | None, datetime]] = []
    for station, evse, at, value, unit, tx_pk in rows:
        if station not in whole and (station, evse) not in evses:
            continue
        key = (station, evse or 0)
        watts = float(value or 0) * (1000 if unit == "kW" else 1)
        changes.append((at, 1, key, watts, at))
        expiry = at + timedelta(seconds=max_age)
        stop = stops.get(tx_pk)
        if stop is not None and stop < expiry:
            expiry = max(stop, at)
        changes.append((expiry, 0, key, None, at))
    changes.sort(key=lambda change: (change[0], change[1]))
    current: dict[tuple[int, int], tuple[datetime, float]] = {}
    series: list[tuple[datetime, float]] = []
    for at, _, key, watts, read_at in changes:
        if watts is None:
            held = current.get(key)
            if held is not None and held[0] == read_at:
                del current[key]
        else:
            current[key] = (read_at, watts)
        if at < start or at > end:
            continue
        total = sum(value for _, value in current.values())
        if series and series[-1][0] == at:
            series[-1] = (at, total)
        elif not series or series[-1][1] != total:
            series.append((at, total))
    return series


def site_limit_watts(site: Site) -> float:
    limit = float(site.limit)
    return limit if site.unit == LimitUnit.WATTS else limit * site.voltage * site.phases


@dataclass
class Comparison:
    expected: Composite
    reported: CompositeSchedule | None
    rows: list[dict[str, Any]]

    @property
    def differs(self) -> bool:
        return any(row["differs"] for row in self.rows)


def expected_composite(
    *,
    station_pk: int,
    evse_id: int,
    start: datetime,
    duration: int,
    unit: str | None = None,
) -> Composite:
    """The composite schedule the CSMS expects the station to apply, from the profiles the
    station accepted (K08 rules, `smartcharging.composite`)."""
    rows = ChargingProfile.objects.filter(station_id=station_pk, status=ProfileStatus.ACCEPTED)
    profiles = []
    for row in rows:
        wire: dict[str, Any] = {
            "id": row.profile_id,
            "stackLevel": row.stack_level,
            "chargingProfilePurpose": row.purpose,
            "chargingProfileKind": row.kind,
            "chargingSchedule": row.schedules,
        }
        if row.recurrency_kind:
            wire["recurrencyKind"] = row.recurrency_kind
        if row.valid_from:
            wire["validFrom"] = row.valid_from
        if row.valid_to:
            wire["validTo"] = row.valid_to
        if row.transaction_id:
            wire["transactionId"] = row.transaction_id
        profiles.append(profile_from_ocpp(wire, evse_id=row.evse_id))
    tx = None
    if evse_id:
        tx = (
            Transaction.objects.filter(station_id=station_pk, evse_id=evse_id, is_active=True)
            .order_by("-started_at")
            .first()
        )
    return composite_schedule(
        profiles,
        start=start,
        duration=duration,
        evse_id=evse_id,
        unit=unit,
        transaction_id=tx.transaction_id if tx else None,
        transaction_start=tx.started_at if tx else None,
    )


def composite_comparison(reported: CompositeSchedule, *, tolerance: float = 0.1) -> Comparison:
    """The schedule a station reported (GetCompositeSchedule) beside the one the CSMS
    expects over the same window; a period whose limits differ by more than `tolerance`
    (A, or W x 100) is flagged."""
    schedule = reported.schedule or {}
    unit = schedule.get("chargingRateUnit")
    start = reported.schedule_start or reported.received
    expected = expected_composite(
        station_pk=reported.station_id,
        evse_id=reported.evse_id,
        start=start,
        duration=reported.requested_duration,
        unit=unit,
    )
    periods = sorted(
        schedule.get("chargingSchedulePeriod", []), key=lambda period: period["startPeriod"]
    )

    def reported_at(offset: int) -> float | None:
        value = None
        for period in periods:
            if period["startPeriod"] > offset:
                break
            value = float(period["limit"])
        return value

    offsets = sorted(
        {0} | {int(p["startPeriod"]) for p in periods} | {p.start_period for p in expected.periods}
    )
    margin = tolerance * (100 if expected.unit == "W" else 1)
    rows = []
    for offset in offsets:
        if offset >= reported.requested_duration:
            continue
        mine, theirs = expected.limit_at(offset), reported_at(offset)
        differs = (mine is None) != (theirs is None) or (
            mine is not None and theirs is not None and abs(mine - theirs) > margin
        )
        rows.append(
            {
                "start_period": offset,
                "at": start + timedelta(seconds=offset),
                "expected": mine,
                "reported": theirs,
                "differs": differs,
            }
        )
    return Comparison(expected=expected, reported=reported, rows=rows)

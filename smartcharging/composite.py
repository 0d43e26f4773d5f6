"""The composite schedule of a station or EVSE, computed from its charging profiles (K08).

Pure functions, no Django and no I/O: the CSMS computes what a station should apply and
compares it with what the station reports (GetCompositeSchedule); the emulator and the
allocation read limits from it.

Rules (OCPP 1.6 section 3.13, OCPP 2.0.1 Part 2 K "Smart Charging" 3.5-3.6 and K08):

- Within one purpose the prevailing profile at an instant is the one with the highest
  stack level among the profiles valid then (validFrom <= t < validTo) whose schedule has a
  period defined then (1.6 3.13.2). A higher profile outside its window or past its
  schedule's duration does not shadow a lower one.
- A TxProfile overrules the TxDefaultProfile for its transaction (1.6 3.13.1); a
  TxDefaultProfile set on the EVSE replaces the one set on EVSE 0 for that EVSE.
- Across purposes the composite is the minimum of the prevailing limits (1.6 3.13.3):
  ChargePointMaxProfile / ChargingStationMaxProfile (set on EVSE 0, the limit of the
  station as a whole), ChargingStationExternalConstraints, and TxProfile or
  TxDefaultProfile.
- Absolute schedules start at startSchedule (else validFrom, else when the transaction
  started); Relative ones when the transaction started (or now without one); Recurring
  ones repeat daily or weekly from startSchedule.
- Amperes and watts convert through the nominal voltage and the period's numberPhases
  (3 when absent, OCPP 2.0.1 ChargingSchedulePeriodType).

For the composite of EVSE 0 only the station-wide purposes (Max and ExternalConstraints)
apply: it is the limit of the grid connection (K08, evseId 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

MAX_PURPOSES = frozenset({"ChargePointMaxProfile", "ChargingStationMaxProfile"})
EXTERNAL = "ChargingStationExternalConstraints"
TX_DEFAULT = "TxDefaultProfile"
TX = "TxProfile"
RECURRENCE_SECONDS = {"Daily": 86_400, "Weekly": 7 * 86_400}
DEFAULT_VOLTAGE = 230.0
DEFAULT_PHASES = 3


@dataclass(frozen=True)
class Period:
    start_period: int
    limit: float
    number_phases: int | None = None


@dataclass(frozen=True)
class Schedule:
    unit: str  # "A" (per phase) or "W"
    periods: tuple[Period, ...]
    start_schedule: datetime | None = None
    duration: int | None = None
    min_charging_rate: float | None = None


@dataclass(frozen=True)
class Profile:
    """A charging profile as the station holds it (one schedule: the first of a 2.x list)."""

    id: int
    stack_level: int
    purpose: str
    kind: str  # Absolute, Recurring, Relative (Dynamic is treated as Absolute)
    schedule: Schedule
    evse_id: int = 0
    recurrency_kind: str = ""
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str = ""


@dataclass(frozen=True)
class Limit:
    """The composite limit at an instant: None where no profile constrains."""

    limit: float | None
    number_phases: int | None = None
    min_charging_rate: float | None = None


@dataclass(frozen=True)
class CompositePeriod:
    start_period: int
    limit: float | None
    number_phases: int | None = None


@dataclass
class Composite:
    start: datetime
    duration: int
    unit: str
    periods: list[CompositePeriod] = field(default_factory=list)
    min_charging_rate: float | None = None

    def limit_at(self, offset: float) -> float | None:
        """The limit `offset` seconds after `start`."""
        current = None
        for period in self.periods:
            if period.start_period > offset:
                break
            current = period.limit
        return current

    def as_ocpp(self, version: str, evse_id: int) -> dict[str, Any]:
        """The schedule as a GetCompositeSchedule answer would carry it (camelCase).

        Periods without any constraint are left out, as a station reports only limits.
        """
        periods = []
        for period in self.periods:
            if period.limit is None:
                continue
            item: dict[str, Any] = {"startPeriod": period.start_period, "limit": period.limit}
            if period.number_phases is not None:
                item["numberPhases"] = period.number_phases
            periods.append(item)
        start = self.start.isoformat().replace("+00:00", "Z")
        if version == "1.6":
            schedule: dict[str, Any] = {
                "duration": self.duration,
                "startSchedule": start,
                "chargingRateUnit": self.unit,
                "chargingSchedulePeriod": periods,
            }
            if self.min_charging_rate is not None:
                schedule["minChargingRate"] = self.min_charging_rate
            return schedule
        return {
            "evseId": evse_id,
            "duration": self.duration,
            "scheduleStart": start,
            "chargingRateUnit": self.unit,
            "chargingSchedulePeriod": periods,
        }


# --- reading the wire format -------------------------------------------------------------


def _parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    text = str(value).replace("Z", "+00:00")
    return datetime.fromisoformat(text)


def schedule_from_ocpp(data: Mapping[str, Any]) -> Schedule:
    """A chargingSchedule (1.6 object or one 2.x list item), camelCase as on the wire."""
    periods = tuple(
        Period(
            start_period=int(p["startPeriod"]),
            limit=float(p["limit"]),
            number_phases=p.get("numberPhases"),
        )
        for p in data["chargingSchedulePeriod"]
    )
    return Schedule(
        unit=data["chargingRateUnit"],
        periods=tuple(sorted(periods, key=lambda p: p.start_period)),
        start_schedule=_parse_time(data.get("startSchedule")),
        duration=data.get("duration"),
        min_charging_rate=(
            float(data["minChargingRate"]) if data.get("minChargingRate") is not None else None
        ),
    )


def profile_from_ocpp(data: Mapping[str, Any], evse_id: int) -> Profile:
    """A 1.6 csChargingProfiles or a 2.x chargingProfile, camelCase as on the wire."""
    schedules = data["chargingSchedule"]
    first = schedules[0] if isinstance(schedules, list) else schedules
    return Profile(
        id=int(data.get("chargingProfileId", data.get("id", 0))),
        stack_level=int(data["stackLevel"]),
        purpose=data["chargingProfilePurpose"],
        kind=data["chargingProfileKind"],
        schedule=schedule_from_ocpp(first),
        evse_id=evse_id,
        recurrency_kind=data.get("recurrencyKind", "") or "",
        valid_from=_parse_time(data.get("validFrom")),
        valid_to=_parse_time(data.get("validTo")),
        transaction_id=str(data.get("transactionId", "") or ""),
    )


# --- evaluation ----------------------------------------------------------------------------


def _schedule_origin(
    profile: Profile, t: datetime, transaction_start: datetime | None, now: datetime
) -> datetime | None:
    """Where the schedule's period offsets count from for instant `t` (None: not started)."""
    schedule = profile.schedule
    if profile.kind == "Relative":
        return transaction_start or now
    if profile.kind == "Recurring":
        anchor = schedule.start_schedule or profile.valid_from
        cycle = RECURRENCE_SECONDS.get(profile.recurrency_kind)
        if anchor is None or cycle is None:
            return None
        if t < anchor:
            return None
        cycles = int((t - anchor).total_seconds() // cycle)
        return anchor + timedelta(seconds=cycles * cycle)
    return schedule.start_schedule or profile.valid_from or transaction_start or now


def _period_at(
    profile: Profile, t: datetime, transaction_start: datetime | None, now: datetime
) -> Period | None:
    """The period of `profile` in force at `t`, or None where it says nothing."""
    if profile.valid_from is not None and t < profile.valid_from:
        return None
    if profile.valid_to is not None and t >= profile.valid_to:
        return None
    origin = _schedule_origin(profile, t, transaction_start, now)
    if origin is None:
        return None
    offset = (t - origin).total_seconds()
    schedule = profile.schedule
    if offset < 0:
        return None
    if schedule.duration is not None and offset >= schedule.duration:
        return None
    if profile.kind == "Recurring":
        cycle = RECURRENCE_SECONDS[profile.recurrency_kind]
        if offset >= cycle:
            return None
    current = None
    for period in schedule.periods:
        if period.start_period > offset:
            break
        current = period
    return current


def _convert(value: float, unit: str, to: str, phases: int | None, voltage: float) -> float:
    if unit == to:
        return value
    n = phases or DEFAULT_PHASES
    if unit == "A":  # to W
        return value * voltage * n
    return value / (voltage * n)


def _applicable(profiles: Iterable[Profile], evse_id: int, transaction_id: str | None):
    station_wide, tx, tx_default_evse, tx_default_station = [], [], [], []
    for profile in profiles:
        if profile.purpose in MAX_PURPOSES or profile.purpose == EXTERNAL:
            if profile.evse_id in (0, evse_id):
                station_wide.append(profile)
        elif evse_id == 0:
            continue
        elif profile.purpose == TX:
            if profile.evse_id != evse_id or transaction_id is None:
                continue
            if profile.transaction_id and profile.transaction_id != str(transaction_id):
                continue
            tx.append(profile)
        elif profile.purpose == TX_DEFAULT:
            if profile.evse_id == evse_id:
                tx_default_evse.append(profile)
            elif profile.evse_id == 0:
                tx_default_station.append(profile)
    return station_wide, tx, tx_default_evse, tx_default_station


def _leading(
    profiles: Sequence[Profile], t: datetime, transaction_start: datetime | None, now: datetime
) -> tuple[Profile, Period] | None:
    best: tuple[Profile, Period] | None = None
    for profile in profiles:
        if best is not None and profile.stack_level <= best[0].stack_level:
            continue
        period = _period_at(profile, t, transaction_start, now)
        if period is not None:
            best = (profile, period)
    return best


def limit_at(
    profiles: Iterable[Profile],
    t: datetime,
    *,
    evse_id: int,
    unit: str,
    transaction_id: str | None = None,
    transaction_start: datetime | None = None,
    now: datetime | None = None,
    voltage: float = DEFAULT_VOLTAGE,
) -> Limit:
    """The composite limit at instant `t` in `unit`: the rule itself, evaluated at one point."""
    now = now or t
    station_wide, tx, tx_default_evse, tx_default_station = _applicable(
        profiles, evse_id, transaction_id
    )
    # Station-wide purposes stack per purpose and per scope: an EVSE's own external
    # constraint and the station's both apply.
    groups: dict[tuple[str, int], list[Profile]] = {}
    for profile in station_wide:
        purpose = "Max" if profile.purpose in MAX_PURPOSES else profile.purpose
        groups.setdefault((purpose, profile.evse_id), []).append(profile)
    leading: list[tuple[Profile, Period]] = []
    for group in groups.values():
        found = _leading(group, t, transaction_start, now)
        if found:
            leading.append(found)
    # The transaction's own limit: TxProfile, else the EVSE's TxDefaultProfile, else EVSE 0's.
    for candidates in (tx, tx_default_evse, tx_default_station):
        found = _leading(candidates, t, transaction_start, now)
        if found:
            leading.append(found)
            tx_leading: tuple[Profile, Period] | None = found
            break
    else:
        tx_leading = None
    if not leading:
        return Limit(None)
    values = [
        (_convert(period.limit, profile.schedule.unit, unit, period.number_phases, voltage), period)
        for profile, period in leading
    ]
    lowest = min(value for value, _ in values)
    phases = [p.number_phases for _, p in values if p.number_phases is not None]
    min_rate = None
    if tx_leading is not None and tx_leading[0].schedule.min_charging_rate is not None:
        profile, period = tx_leading
        min_rate = _convert(
            profile.schedule.min_charging_rate or 0.0,
            profile.schedule.unit,
            unit,
            period.number_phases,
            voltage,
        )
    return Limit(round(lowest, 3), min(phases) if phases else None, min_rate)


def _breakpoints(
    profile: Profile,
    start: datetime,
    end: datetime,
    transaction_start: datetime | None,
    now: datetime,
) -> set[datetime]:
    """Every instant in [start, end) where `profile`'s answer may change."""
    points: set[datetime] = set()
    for bound in (profile.valid_from, profile.valid_to):
        if bound is not None:
            points.add(bound)
    schedule = profile.schedule
    origins: list[datetime] = []
    if profile.kind == "Recurring":
        anchor = schedule.start_schedule or profile.valid_from
        cycle = RECURRENCE_SECONDS.get(profile.recurrency_kind)
        if anchor is not None and cycle is not None:
            first = max(0, int((start - anchor).total_seconds() // cycle))
            k = first
            while True:
                origin = anchor + timedelta(seconds=k * cycle)
                if origin >= end:
                    break
                origins.append(origin)
                k += 1
            points.add(anchor)
    else:
        origin = _schedule_origin(profile, start, transaction_start, now)
        if origin is not None:
            origins.append(origin)
    for origin in origins:
        points.add(origin)
        for period in schedule.periods:
            points.add(origin + timedelta(seconds=period.start_period))
        if schedule.duration is not None:
            points.add(origin + timedelta(seconds=schedule.duration))
    return {p for p in points if start < p < end}


def composite_schedule(
    profiles: Iterable[Profile],
    *,
    start: datetime,
    duration: int,
    evse_id: int,
    unit: str | None = None,
    transaction_id: str | None = None,
    transaction_start: datetime | None = None,
    voltage: float = DEFAULT_VOLTAGE,
) -> Composite:
    """The composite schedule over [start, start + duration) (K08; 1.6 GetCompositeSchedule).

    `unit` defaults to amperes when every applicable profile is in amperes, else watts.
    Offsets are whole seconds; adjacent periods with the same limit are merged.
    """
    profiles = list(profiles)
    station_wide, tx, tx_default_evse, tx_default_station = _applicable(
        profiles, evse_id, transaction_id
    )
    applicable = [*station_wide, *tx, *tx_default_evse, *tx_default_station]
    if unit is None:
        unit = "A" if applicable and all(p.schedule.unit == "A" for p in applicable) else "W"
    end = start + timedelta(seconds=duration)
    points = {start}
    for profile in applicable:
        points |= _breakpoints(profile, start, end, transaction_start, start)
    composite = Composite(start=start, duration=duration, unit=unit)
    previous: CompositePeriod | None = None
    min_rates = []
    for point in sorted(points):
        # A change inside a second is reported from the next whole second.
        offset = math.ceil((point - start).total_seconds())
        value = limit_at(
            applicable,
            point,
            evse_id=evse_id,
            unit=unit,
            transaction_id=transaction_id,
            transaction_start=transaction_start,
            now=start,
            voltage=voltage,
        )
        if value.min_charging_rate is not None:
            min_rates.append(value.min_charging_rate)
        period = CompositePeriod(offset, value.limit, value.number_phases)
        if previous is not None and (previous.limit, previous.number_phases) == (
            period.limit,
            period.number_phases,
        ):
            continue
        if previous is not None and previous.start_period == offset:
            composite.periods[-1] = period
        else:
            composite.periods.append(period)
        previous = period
    composite.min_charging_rate = max(min_rates) if min_rates else None
    return composite

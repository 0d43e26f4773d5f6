"""The cost of a charging session under an OCPP 2.1 tariff (TariffType, Part 2 section I):
pure functions, no I/O.

A session is a list of `Usage` periods (from the meter values or one period from start to
end): energy, and whether the EV was charging or idle. Each period is cut where a price's
time-of-day window or the day changes, and priced by the first price of each dimension
whose conditions hold at the start of the piece (prices are listed by priority in 2.1):

- energy: `priceKwh` per kWh of the piece;
- chargingTime / idleTime: `priceMinute` per minute charging / idle;
- fixedFee: the first applicable `priceFixed`, once per session (checked at its start);
- reservationTime / reservationFixed: `priceMinute` per minute from the reservation to the
  start of the session and the first applicable `priceFixed`, once, for a session that used
  a reservation (checked when the reservation began);
- each dimension's `taxRates` give its inclTax (a higher `stack` is levied on the amount
  including the lower ones); minCost / maxCost bound the total, exclusive and inclusive.

Conditions: startTimeOfDay/endTimeOfDay (local time, may span midnight), dayOfWeek,
validFromDate/validToDate, evseKind, min/maxEnergy (Wh since the start), min/maxTime (s since
the start), min/maxChargingTime and min/maxIdleTime (s so far), min/maxPower (W, the piece's
average) and min/maxCurrent (A, when known). A condition on something unknown holds.

A session whose tariff changed while it ran (2.1 I11, ChangeTransactionTariff) is priced by
`split_session_cost`: each tariff prices the energy and time of its own part, the session
goes on through the parts (conditions on energy and time count from the session's start),
the fixed fee and reservation prices are the first tariff's, and the last tariff's
minCost / maxCost bound the total.

The result is a `Cost` whose `total_cost()` is the TotalCostType of 2.1 costDetails; 2.0.1
and 1.6 use its `total.excl_tax` as totalCost, so one engine prices every version.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

Json = dict[str, Any]
CENT = Decimal("0.01")
ZERO = Decimal(0)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Usage:
    """One period of a session: [start, end), energy delivered in it, charging or idle."""

    start: datetime
    end: datetime
    energy_wh: Decimal = ZERO
    charging: bool = True
    current_a: Decimal | None = None

    @property
    def seconds(self) -> Decimal:
        return Decimal(max((self.end - self.start).total_seconds(), 0))


@dataclass
class Price:
    """An amount before and after tax."""

    excl_tax: Decimal = ZERO
    incl_tax: Decimal = ZERO

    def __add__(self, other: Price) -> Price:
        return Price(self.excl_tax + other.excl_tax, self.incl_tax + other.incl_tax)

    def rounded(self) -> Price:
        return Price(_cents(self.excl_tax), _cents(self.incl_tax))

    def as_json(self) -> Json:
        return {"exclTax": float(self.excl_tax), "inclTax": float(self.incl_tax)}


@dataclass
class Cost:
    """The cost of a session, per dimension and in total (rounded to cents)."""

    currency: str
    fixed: Price = field(default_factory=Price)
    energy: Price = field(default_factory=Price)
    charging_time: Price = field(default_factory=Price)
    idle_time: Price = field(default_factory=Price)
    reservation_time: Price = field(default_factory=Price)
    reservation_fixed: Price = field(default_factory=Price)
    total: Price = field(default_factory=Price)
    energy_wh: Decimal = ZERO
    charging_seconds: Decimal = ZERO
    idle_seconds: Decimal = ZERO

    def total_cost(self, type_of_cost: str = "NormalCost") -> Json:
        """TotalCostType (2.1 costDetails.totalCost)."""
        cost: Json = {"currency": self.currency, "typeOfCost": type_of_cost}
        for name, price in (
            ("fixed", self.fixed),
            ("energy", self.energy),
            ("chargingTime", self.charging_time),
            ("idleTime", self.idle_time),
            ("reservationTime", self.reservation_time),
            ("reservationFixed", self.reservation_fixed),
        ):
            if price.excl_tax or price.incl_tax:
                cost[name] = price.rounded().as_json()
        cost["total"] = self.total.as_json()
        return cost

    def total_usage(self) -> Json:
        """TotalUsageType (2.1 costDetails.totalUsage): Wh and whole seconds."""
        return {
            "energy": float(self.energy_wh),
            "chargingTime": int(self.charging_seconds),
            "idleTime": int(self.idle_seconds),
        }


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def with_tax(amount: Decimal, tax_rates: Iterable[Json]) -> Decimal:
    """`amount` with its taxes: rates of one stack add to the amount of the stacks below."""
    by_stack: dict[int, Decimal] = {}
    for rate in tax_rates:
        stack = int(rate.get("stack", 0))
        by_stack[stack] = by_stack.get(stack, ZERO) + _dec(rate["tax"])
    total = amount
    for stack in sorted(by_stack):
        total += total * by_stack[stack] / 100
    return total


# --- conditions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _State:
    """Where the session stands at the start of a piece."""

    at: datetime  # local time
    elapsed: Decimal
    energy_wh: Decimal
    charging_seconds: Decimal
    idle_seconds: Decimal
    power_w: Decimal | None
    current_a: Decimal | None


def _time_of_day(text: str) -> time:
    hours, minutes = text.split(":")[:2]
    return time(int(hours), int(minutes))


def _in_window(at: time, start: str | None, end: str | None) -> bool:
    if start is None and end is None:
        return True
    lower = _time_of_day(start) if start else time(0, 0)
    upper = _time_of_day(end) if end else None
    if upper is None:
        return at >= lower
    if lower <= upper:
        return lower <= at < upper
    return at >= lower or at < upper  # spans midnight


def _within(value: Decimal | None, low: Any, high: Any) -> bool:
    if value is None:
        return True
    if low is not None and value < _dec(low):
        return False
    return not (high is not None and value >= _dec(high))


def conditions_hold(conditions: Json | None, state: _State, evse_kind: str | None) -> bool:
    """Whether a TariffConditionsType (or TariffConditionsFixedType) holds at `state`."""
    if not conditions:
        return True
    c = conditions
    if not _in_window(state.at.time(), c.get("startTimeOfDay"), c.get("endTimeOfDay")):
        return False
    if "dayOfWeek" in c and DAYS[state.at.weekday()] not in c["dayOfWeek"]:
        return False
    day = state.at.date()
    if "validFromDate" in c and day < date.fromisoformat(c["validFromDate"][:10]):
        return False
    if "validToDate" in c and day > date.fromisoformat(c["validToDate"][:10]):
        return False
    if "evseKind" in c and evse_kind is not None and c["evseKind"] != evse_kind:
        return False
    return (
        _within(state.energy_wh, c.get("minEnergy"), c.get("maxEnergy"))
        and _within(state.elapsed, c.get("minTime"), c.get("maxTime"))
        and _within(state.charging_seconds, c.get("minChargingTime"), c.get("maxChargingTime"))
        and _within(state.idle_seconds, c.get("minIdleTime"), c.get("maxIdleTime"))
        and _within(state.power_w, c.get("minPower"), c.get("maxPower"))
        and _within(state.current_a, c.get("minCurrent"), c.get("maxCurrent"))
    )


def _first(
    dimension: Json | None, key: str, state: _State, evse_kind: str | None
) -> Decimal | None:
    for price in (dimension or {}).get("prices", []):
        if conditions_hold(price.get("conditions"), state, evse_kind):
            return _dec(price[key])
    return None


# --- the session cut into pieces ---------------------------------------------------------


def _boundaries(tariff: Json) -> set[time]:
    """Times of day where some price may start or stop applying (and midnight)."""
    found = {time(0, 0)}
    for name in ("energy", "chargingTime", "idleTime"):
        for price in (tariff.get(name) or {}).get("prices", []):
            conditions = price.get("conditions") or {}
            for key in ("startTimeOfDay", "endTimeOfDay"):
                if key in conditions:
                    found.add(_time_of_day(conditions[key]))
    return found


def _cut(usage: Usage, cuts: set[time], zone: tzinfo) -> list[Usage]:
    """`usage` cut at the local times of day in `cuts`; energy shared by duration."""
    pieces: list[Usage] = []
    start = usage.start
    total = usage.seconds
    while start < usage.end:
        local = start.astimezone(zone)
        candidates = []
        for boundary in cuts:
            nxt = datetime.combine(local.date(), boundary, tzinfo=zone)
            if nxt <= local:
                nxt += timedelta(days=1)
            candidates.append(nxt.astimezone(start.tzinfo))
        end = min([usage.end, *candidates])
        share = Decimal((end - start).total_seconds()) / total if total else Decimal(1)
        pieces.append(replace(usage, start=start, end=end, energy_wh=usage.energy_wh * share))
        start = end
    if not pieces:  # a period of no duration still carries its energy
        pieces.append(usage)
    return pieces


def session_cost(
    tariff: Json,
    usage: list[Usage],
    *,
    evse_kind: str | None = None,
    zone: tzinfo | str = "UTC",
    reservation: tuple[datetime, datetime] | None = None,
) -> Cost:
    """The cost of the session `usage` (in time order) under the 2.1 tariff `tariff`;
    `reservation`: when the reservation the session used began and ended (its start)."""
    return split_session_cost(
        [(tariff, usage)], evse_kind=evse_kind, zone=zone, reservation=reservation
    )


def _start_state(at: datetime) -> _State:
    return _State(
        at=at,
        elapsed=ZERO,
        energy_wh=ZERO,
        charging_seconds=ZERO,
        idle_seconds=ZERO,
        power_w=None,
        current_a=None,
    )


def _priced(amount: Decimal, tariff: Json, name: str) -> Price:
    return Price(amount, with_tax(amount, (tariff.get(name) or {}).get("taxRates", [])))


def split_session_cost(
    segments: list[tuple[Json, list[Usage]]],
    *,
    evse_kind: str | None = None,
    zone: tzinfo | str = "UTC",
    reservation: tuple[datetime, datetime] | None = None,
) -> Cost:
    """The cost of a session whose parts (in time order) were priced by different tariffs
    (see the module docstring): `segments` holds each tariff with its part's usage."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    first, last = segments[0][0], segments[-1][0]
    cost = Cost(currency=last.get("currency") or first.get("currency", ""))
    periods = [period for _, usage in segments for period in usage]
    if not periods:
        return cost
    session_start = periods[0].start
    energy_so_far = charging_so_far = idle_so_far = ZERO
    for tariff, usage in segments:
        energy = charging_time = idle_time = ZERO
        cuts = _boundaries(tariff)
        for period in usage:
            for piece in _cut(period, cuts, tz):
                hours = piece.seconds / 3600
                state = _State(
                    at=piece.start.astimezone(tz),
                    elapsed=Decimal((piece.start - session_start).total_seconds()),
                    energy_wh=energy_so_far,
                    charging_seconds=charging_so_far,
                    idle_seconds=idle_so_far,
                    power_w=piece.energy_wh / hours if hours else None,
                    current_a=piece.current_a,
                )
                kwh_price = _first(tariff.get("energy"), "priceKwh", state, evse_kind)
                if kwh_price is not None:
                    energy += piece.energy_wh / 1000 * kwh_price
                minutes = piece.seconds / 60
                dimension = "chargingTime" if piece.charging else "idleTime"
                minute_price = _first(tariff.get(dimension), "priceMinute", state, evse_kind)
                if piece.charging:
                    if minute_price is not None:
                        charging_time += minutes * minute_price
                    charging_so_far += piece.seconds
                else:
                    if minute_price is not None:
                        idle_time += minutes * minute_price
                    idle_so_far += piece.seconds
                energy_so_far += piece.energy_wh
        cost.energy += _priced(energy, tariff, "energy")
        cost.charging_time += _priced(charging_time, tariff, "chargingTime")
        cost.idle_time += _priced(idle_time, tariff, "idleTime")
    start_state = _start_state(session_start.astimezone(tz))
    fixed = _first(first.get("fixedFee"), "priceFixed", start_state, evse_kind) or ZERO
    cost.fixed = _priced(fixed, first, "fixedFee")
    if reservation is not None:
        reserved_from, reserved_until = reservation
        state = _start_state(reserved_from.astimezone(tz))
        minutes = Decimal(max((reserved_until - reserved_from).total_seconds(), 0)) / 60
        per_minute = _first(first.get("reservationTime"), "priceMinute", state, evse_kind)
        reservation_fixed = _first(first.get("reservationFixed"), "priceFixed", state, evse_kind)
        cost.reservation_time = _priced(minutes * (per_minute or ZERO), first, "reservationTime")
        cost.reservation_fixed = _priced(reservation_fixed or ZERO, first, "reservationFixed")
    total = (
        cost.fixed
        + cost.energy
        + cost.charging_time
        + cost.idle_time
        + cost.reservation_time
        + cost.reservation_fixed
    )
    cost.total = _bounded(total, last.get("minCost"), last.get("maxCost")).rounded()
    cost.energy_wh = energy_so_far
    cost.charging_seconds = charging_so_far
    cost.idle_seconds = idle_so_far
    return cost


def _bounded(total: Price, low: Json | None, high: Json | None) -> Price:
    excl, incl = total.excl_tax, total.incl_tax
    if low:
        excl = max(excl, _dec(low.get("exclTax", excl)))
        incl = max(incl, _dec(low.get("inclTax", incl)))
    if high:
        excl = min(excl, _dec(high.get("exclTax", excl)))
        incl = min(incl, _dec(high.get("inclTax", incl)))
    return Price(excl, incl)


def flat_tariff(
    *,
    tariff_id: str,
    currency: str,
    price_per_kwh: Decimal,
    price_per_minute: Decimal = ZERO,
    session_fee: Decimal = ZERO,
) -> Json:
    """A CSMS price (per kWh, per minute of the session, per session) as a 2.1 tariff."""
    tariff: Json = {"tariffId": tariff_id, "currency": currency}
    if price_per_kwh:
        tariff["energy"] = {"prices": [{"priceKwh": float(price_per_kwh)}]}
    if price_per_minute:
        tariff["chargingTime"] = {"prices": [{"priceMinute": float(price_per_minute)}]}
    if session_fee:
        tariff["fixedFee"] = {"prices": [{"priceFixed": float(session_fee)}]}
    return tariff

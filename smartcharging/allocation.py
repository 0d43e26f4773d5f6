"""How a site's capacity is shared among its charging sessions: a pure function.

Inputs are the limits on the way to the grid (the site, the groups inside it) and the
sessions under them; the output is one grant per session, in amperes per phase. Another
strategy can replace `allocate` as long as it keeps its contract (tested as properties):

- the sum of what is granted under a limit never exceeds it;
- a session gets at least its minimum (minChargingRate, the EV's minimum current) or
  nothing: charging below it is inefficient or refused by the EV;
- capacity a session does not use (it ended, or reached its maximum) goes to the others.

The default strategy is weighted max-min fairness ("progressive filling"): every session's
share rises with one common level, in proportion to its weight, until it reaches its
maximum or a limit on its path is full. Weights default to 1; a priority (of the driver's
id-token group) and urgent charging needs (energy to deliver before a departure time) raise
them. When the minimums do not all fit, sessions are admitted by priority, then by start,
and the rest get nothing until capacity frees up.

A limit is in amperes per phase ("A") or in watts ("W"). A session on `phases` phases at x A
draws x A on each of them, x * voltage * phases W. A single-phase session is counted on
every phase limit, as the CSMS cannot know which phase the station wired it to.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

STEP = 0.1  # grants are multiples of 0.1 A (OCPP 1.6 limit multipleOf 0.1)


@dataclass(frozen=True)
class Limit:
    """A limit on the way to the grid: the site or a group. `parent` None is the site."""

    key: str
    limit: float
    unit: str = "A"  # "A" per phase, or "W"
    parent: str | None = None


@dataclass(frozen=True)
class Session:
    """A charging session under limit `group` (a key of `limits`)."""

    key: str
    group: str
    min_current: float = 0.0
    max_current: float = 32.0
    phases: int = 3
    weight: float = 1.0
    priority: int = 0
    order: float = 0.0  # admission order among equal priorities (e.g. start time)
    # A grant the CSMS cannot change now (station offline, profile rejected): counted as is.
    fixed: float | None = None


@dataclass
class Allocation:
    grants: dict[str, float] = field(default_factory=dict)
    # What each limit carries, in its own unit.
    load: dict[str, float] = field(default_factory=dict)


def _floor(value: float) -> float:
    return math.floor(value / STEP + 1e-9) * STEP


def needs_weight(
    *,
    energy_wh: float | None,
    seconds_to_departure: float | None,
    phases: int,
    voltage: float,
    max_current: float,
) -> float:
    """Weight of a session that must deliver `energy_wh` before departure: the current it
    needs on average over the time left, relative to its maximum, between 0.25 and 4."""
    if not energy_wh or not seconds_to_departure or seconds_to_departure <= 0 or max_current <= 0:
        return 1.0
    needed = energy_wh / (seconds_to_departure / 3600) / (voltage * phases)
    return min(max(needed / max_current * 2, 0.25), 4.0)


def allocate(
    limits: Sequence[Limit],
    sessions: Iterable[Session],
    *,
    voltage: float = 230.0,
) -> Allocation:
    """Grant each session a current (A per phase) that keeps every limit on its path."""
    by_key = {limit.key: limit for limit in limits}
    paths: dict[str, list[Limit]] = {}

    def path(key: str) -> list[Limit]:
        if key not in paths:
            limit = by_key[key]
            paths[key] = [limit, *(path(limit.parent) if limit.parent else [])]
        return paths[key]

    def cost(session: Session, limit: Limit) -> float:
        """What one ampere of `session` weighs under `limit`."""
        return 1.0 if limit.unit == "A" else voltage * session.phases

    sessions = list(sessions)
    free = {limit.key: float(limit.limit) for limit in limits}
    grants: dict[str, float] = {}
    active: list[Session] = []
    for session in sessions:
        if session.fixed is not None:
            grants[session.key] = session.fixed
            for limit in path(session.group):
                free[limit.key] -= session.fixed * cost(session, limit)
        else:
            active.append(session)

    # Admission: every admitted session gets its minimum, in priority order.
    room = dict(free)
    lo_of: dict[str, float] = {}
    hi_of: dict[str, float] = {}
    admitted: list[Session] = []
    for session in sorted(active, key=lambda s: (-s.priority, s.order, s.key)):
        lo = math.ceil(max(session.min_current, 0.0) / STEP - 1e-9) * STEP
        hi = max(session.max_current, 0.0)
        needed = [(limit, lo * cost(session, limit)) for limit in path(session.group)]
        if hi <= 0 or lo > hi or any(room[lim.key] - amount < -1e-9 for lim, amount in needed):
            grants[session.key] = 0.0
            continue
        for limit, amount in needed:
            room[limit.key] -= amount
        lo_of[session.key], hi_of[session.key] = lo, hi
        admitted.append(session)

    # Progressive filling, bottom-up: the level at which a limit fills caps the sessions
    # under it before the limits above share what is left.
    members: dict[str, list[Session]] = {limit.key: [] for limit in limits}
    for session in admitted:
        for limit in path(session.group):
            members[limit.key].append(session)
    for limit in sorted(limits, key=lambda item: -len(path(item.key))):
        under = members[limit.key]
        if not under:
            continue
        level = _level(under, lo_of, hi_of, free[limit.key], lambda s, lim=limit: cost(s, lim))
        if level is None:
            continue
        for session in under:
            capped = min(hi_of[session.key], session.weight * level)
            hi_of[session.key] = max(capped, lo_of[session.key])

    for session in admitted:
        grants[session.key] = round(max(_floor(hi_of[session.key]), lo_of[session.key]), 1)

    load = {limit.key: 0.0 for limit in limits}
    for session in sessions:
        for limit in path(session.group):
            load[limit.key] += grants[session.key] * cost(session, limit)
    return Allocation(grants=grants, load=load)


def _level(
    under: Sequence[Session],
    lo_of: dict[str, float],
    hi_of: dict[str, float],
    capacity: float,
    cost: Callable[[Session], float],
) -> float | None:
    """The level L at which sum(cost * clamp(weight * L, lo, hi)) reaches `capacity`, or
    None when every session fits at its maximum. O(n log n): a sweep over the breakpoints of
    the piecewise-linear sum."""
    if sum(cost(s) * hi_of[s.key] for s in under) <= capacity + 1e-9:
        return None
    events: list[tuple[float, int, float]] = []
    for s in under:
        w = max(s.weight, 1e-9)
        slope = cost(s) * w
        events.append((lo_of[s.key] / w, 0, slope))
        events.append((hi_of[s.key] / w, 1, -slope))
    events.sort()
    value = sum(cost(s) * lo_of[s.key] for s in under)
    slope = 0.0
    at = 0.0
    for point, _, change in events:
        reach = value + slope * (point - at)
        if slope > 0 and reach >= capacity:
            return at + (capacity - value) / slope
        value, at = reach, point
        slope += change
    return at

"""The allocation's contract, as properties: limits hold, minimums or nothing, nothing wasted."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smartcharging.allocation import Limit, Session, allocate, needs_weight

VOLTAGE = 230.0


@st.composite
def sites(draw):
    unit = draw(st.sampled_from(["A", "W"]))
    site_limit = draw(st.integers(0, 250)) if unit == "A" else draw(st.integers(0, 170_000))
    limits = [Limit("site", float(site_limit), unit)]
    for g in range(draw(st.integers(0, 3))):
        group_unit = draw(st.sampled_from(["A", "W"]))
        value = draw(st.integers(0, 125)) if group_unit == "A" else draw(st.integers(0, 90_000))
        parent = draw(st.sampled_from(["site", *[f"g{i}" for i in range(g)]]))
        limits.append(Limit(f"g{g}", float(value), group_unit, parent))
    sessions = []
    for i in range(draw(st.integers(0, 12))):
        lo = draw(st.sampled_from([0.0, 6.0, 8.0, 10.0, 13.3]))
        sessions.append(
            Session(
                key=f"s{i}",
                group=draw(st.sampled_from([limit.key for limit in limits])),
                min_current=lo,
                max_current=float(draw(st.integers(0, 63))),
                phases=draw(st.sampled_from([1, 3])),
                weight=draw(st.sampled_from([0.5, 1.0, 1.0, 2.0])),
                priority=draw(st.integers(0, 2)),
                order=float(i),
            )
        )
    return limits, sessions


def under(limits, key):
    """Keys of the limits on the path from `key` to the site."""
    by_key = {limit.key: limit for limit in limits}
    path = []
    while key is not None:
        path.append(key)
        key = by_key[key].parent
    return path


def load(limits, sessions, grants):
    total = {limit.key: 0.0 for limit in limits}
    units = {limit.key: limit.unit for limit in limits}
    for session in sessions:
        for key in under(limits, session.group):
            per_amp = 1.0 if units[key] == "A" else VOLTAGE * session.phases
            total[key] += grants[session.key] * per_amp
    return total


@settings(max_examples=400, deadline=None)
@given(sites())
def test_the_sum_granted_never_exceeds_any_limit(site):
    limits, sessions = site
    allocation = allocate(limits, sessions, voltage=VOLTAGE)
    assert set(allocation.grants) == {s.key for s in sessions}
    carried = load(limits, sessions, allocation.grants)
    for limit in limits:
        assert carried[limit.key] <= limit.limit + 1e-6, (limit, carried)
        assert abs(allocation.load[limit.key] - carried[limit.key]) < 1e-6


@settings(max_examples=400, deadline=None)
@given(sites())
def test_no_grant_below_the_minimum_unless_zero_nor_above_the_maximum(site):
    limits, sessions = site
    grants = allocate(limits, sessions, voltage=VOLTAGE).grants
    for session in sessions:
        grant = grants[session.key]
        assert grant == 0 or session.min_current - 1e-9 <= grant <= session.max_current + 1e-9
        assert round(grant * 10) == round(grant * 10, 6)  # a multiple of 0.1 A


def saturated(limits, sessions, grants, session):
    """True if some limit on `session`'s path is full but for the 0.1 A rounding step of
    each session under it (grants are floored to multiples of 0.1 A)."""
    carried = load(limits, sessions, grants)
    units = {limit.key: limit for limit in limits}
    for key in under(limits, session.group):

        def per_amp(s, key=key):
            return 1.0 if units[key].unit == "A" else VOLTAGE * s.phases

        steps = sum(0.1 * per_amp(s) for s in sessions if key in under(limits, s.group))
        if carried[key] + steps + 0.1 * per_amp(session) > units[key].limit - 1e-6:
            return True
    return False


@settings(max_examples=400, deadline=None)
@given(sites())
def test_capacity_is_not_left_unused_while_an_admitted_session_wants_more(site):
    limits, sessions = site
    grants = allocate(limits, sessions, voltage=VOLTAGE).grants
    for session in sessions:
        if 0 < grants[session.key] < session.max_current - 0.1:
            assert saturated(limits, sessions, grants, session)


@settings(max_examples=400, deadline=None)
@given(sites(), st.data())
def test_capacity_freed_by_an_ending_session_is_handed_out(site, data):
    limits, sessions = site
    if not sessions:
        return
    ending = data.draw(st.sampled_from(sessions))
    before = allocate(limits, sessions, voltage=VOLTAGE).grants
    rest = [s for s in sessions if s.key != ending.key]
    after = allocate(limits, rest, voltage=VOLTAGE).grants
    # Nothing granted before is lost: what the others had, and what the ending session
    # had, stays granted (or is capped by the sessions' maximums). Measured in what the
    # site's limit counts: on a limit in W a three-phase ampere weighs three single-phase
    # ones (a three-phase session admitted in the freed room may take more than it frees).
    per_phase = limits[0].unit == "W"

    def used(grants, s):
        return grants[s.key] * (s.phases if per_phase else 1)

    others_before = sum(used(before, s) for s in rest)
    others_after = sum(used(after, s) for s in rest)
    headroom = sum(max(s.max_current - before[s.key], 0) for s in rest if before[s.key] > 0)
    step = 0.1 * (len(sessions) + 1) * (3 if per_phase else 1)
    assert others_after >= others_before - step
    if all(before[s.key] > 0 for s in rest) and all(s.min_current == 0 for s in rest):
        # Without admission changes every remaining session keeps at least its grant.
        for s in rest:
            assert after[s.key] >= before[s.key] - 0.1
    if before[ending.key] > 0 and headroom > 0:
        assert others_after > others_before - step or all(
            saturated(limits, rest, after, s) for s in rest if after[s.key] < s.max_current
        )


def test_four_sessions_on_32_a_get_8_a_each_and_three_get_their_share_back():
    site = [Limit("site", 32.0)]
    four = [Session(f"s{i}", "site", min_current=6, max_current=32) for i in range(4)]
    assert allocate(site, four).grants == {"s0": 8.0, "s1": 8.0, "s2": 8.0, "s3": 8.0}
    assert allocate(site, four[1:]).grants == {"s1": 10.6, "s2": 10.6, "s3": 10.6}


def test_minimums_that_do_not_fit_admit_by_priority_then_start():
    site = [Limit("site", 16.0)]
    sessions = [
        Session("early", "site", min_current=6, order=1),
        Session("late", "site", min_current=6, order=2),
        Session("vip", "site", min_current=6, order=3, priority=1),
    ]
    assert allocate(site, sessions).grants == {"vip": 8.0, "early": 8.0, "late": 0.0}


def test_fixed_grants_of_unreachable_stations_stay_counted():
    site = [Limit("site", 32.0)]
    sessions = [Session("offline", "site", fixed=16.0), Session("a", "site"), Session("b", "site")]
    assert allocate(site, sessions).grants == {"offline": 16.0, "a": 8.0, "b": 8.0}


def test_group_limit_inside_a_watt_site_limit():
    limits = [Limit("site", 22_000.0, "W"), Limit("park", 10.0, "A", "site")]
    sessions = [Session("p1", "park"), Session("p2", "park"), Session("street", "site")]
    grants = allocate(limits, sessions).grants
    assert grants["p1"] == grants["p2"] == 5.0
    # 22 kW minus the park's 2 x 5 A x 690 W/A, left for the street session (floored).
    assert grants["street"] == 21.8


def test_urgent_needs_weigh_more():
    assert (
        needs_weight(
            energy_wh=None, seconds_to_departure=None, phases=3, voltage=230, max_current=32
        )
        == 1.0
    )
    urgent = needs_weight(
        energy_wh=60_000, seconds_to_departure=3600, phases=3, voltage=230, max_current=32
    )
    relaxed = needs_weight(
        energy_wh=5_000, seconds_to_departure=8 * 3600, phases=3, voltage=230, max_current=32
    )
    assert urgent == 4.0
    assert relaxed == 0.25

"""The composite schedule the CSMS computes (K08), against the specification's examples
and, with hypothesis, against the rule evaluated instant by instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from smartcharging.composite import (
    Period,
    Profile,
    Schedule,
    composite_schedule,
    limit_at,
    profile_from_ocpp,
)

MONDAY = datetime(2026, 12, 7, tzinfo=UTC)

# OCPP 1.6 section 3.13.7: "a daily default profile that limits the power to 6 kW between
# 08:00h and 20:00h", as the specification writes it.
DAILY_DEFAULT_16 = {
    "chargingProfileId": 100,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Recurring",
    "recurrencyKind": "Daily",
    "chargingSchedule": {
        "duration": 86400,
        "startSchedule": "2013-01-01T00:00Z",
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 11000, "numberPhases": 3},
            {"startPeriod": 28800, "limit": 6000, "numberPhases": 3},
            {"startPeriod": 72000, "limit": 11000, "numberPhases": 3},
        ],
    },
}


def periods(composite):
    return [(p.start_period, p.limit) for p in composite.periods]


def absolute(purpose, limits, *, stack=0, evse=1, unit="A", start=MONDAY, duration=None, **kw):
    return Profile(
        id=kw.pop("id", stack * 10 + evse),
        stack_level=stack,
        purpose=purpose,
        kind="Absolute",
        evse_id=evse,
        schedule=Schedule(
            unit=unit,
            periods=tuple(Period(s, v) for s, v in limits),
            start_schedule=start,
            duration=duration,
        ),
        **kw,
    )


def test_1_6_3_13_7_daily_default_profile_limits_to_6_kw_between_8_and_20():
    profile = profile_from_ocpp(DAILY_DEFAULT_16, evse_id=0)
    day = composite_schedule([profile], start=MONDAY, duration=86400, evse_id=1, transaction_id="1")
    assert day.unit == "W"
    assert periods(day) == [(0, 11000.0), (28800, 6000.0), (72000, 11000.0)]
    # The same profile seen from 06:00 for four hours, in amperes at 230 V on three phases.
    morning = composite_schedule(
        [profile],
        start=MONDAY + timedelta(hours=6),
        duration=4 * 3600,
        evse_id=1,
        unit="A",
        transaction_id="1",
    )
    assert periods(morning) == [(0, round(11000 / 690, 3)), (7200, round(6000 / 690, 3))]
    assert {p.number_phases for p in morning.periods} == {3}


def test_1_6_3_13_2_weekly_calendar_with_a_holiday_exception_on_a_higher_stack_level():
    # "a charging profile of purpose TxDefaultProfile with a duration and recurrence of one
    # week that allows full power or current charging on weekdays from 23:00h to 06:00h and
    # from 00:00h to 24:00h in weekends and reduced power or current charging at other times.
    # On top of that, one can define other TxDefaultProfiles that define exception to this
    # rule, for example for holidays."
    full, reduced = 32.0, 10.0
    week = []
    for day in range(5):
        base = day * 86400
        week += [(base, full), (base + 6 * 3600, reduced), (base + 23 * 3600, full)]
    week.append((5 * 86400, full))
    calendar = Profile(
        id=1,
        stack_level=0,
        purpose="TxDefaultProfile",
        kind="Recurring",
        recurrency_kind="Weekly",
        evse_id=0,
        schedule=Schedule("A", tuple(Period(s, v) for s, v in week), MONDAY, 7 * 86400),
    )
    christmas_eve = MONDAY + timedelta(days=17)  # Thursday 2026-12-24
    holiday = absolute(
        "TxDefaultProfile",
        [(0, full)],
        stack=1,
        evse=0,
        start=christmas_eve,
        valid_from=christmas_eve,
        valid_to=christmas_eve + timedelta(days=1),
    )
    wednesday = composite_schedule(
        [calendar, holiday],
        start=christmas_eve - timedelta(days=1),
        duration=86400,
        evse_id=1,
        transaction_id="7",
    )
    assert periods(wednesday) == [(0, full), (6 * 3600, reduced), (23 * 3600, full)]
    thursday = composite_schedule(
        [calendar, holiday], start=christmas_eve, duration=86400, evse_id=1, transaction_id="7"
    )
    assert periods(thursday) == [(0, full)]
    saturday = composite_schedule(
        [calendar, holiday],
        start=christmas_eve + timedelta(days=2),
        duration=86400,
        evse_id=1,
        transaction_id="7",
    )
    assert periods(saturday) == [(0, full)]


def test_1_6_3_13_2_a_profile_valid_from_the_future_leaves_the_default_until_then():
    default = absolute("TxDefaultProfile", [(0, 16.0)], evse=0)
    later = absolute(
        "TxDefaultProfile",
        [(0, 6.0)],
        stack=1,
        evse=0,
        valid_from=MONDAY + timedelta(hours=1),
    )
    composite = composite_schedule(
        [default, later], start=MONDAY, duration=7200, evse_id=1, transaction_id="1"
    )
    assert periods(composite) == [(0, 16.0), (3600, 6.0)]


def test_1_6_3_13_2_stack_level_with_a_duration_falls_back_without_one_never_does():
    base = absolute("TxDefaultProfile", [(0, 16.0)], evse=1)
    bounded = absolute("TxDefaultProfile", [(0, 8.0)], stack=2, evse=1, duration=1800)
    composite = composite_schedule(
        [base, bounded], start=MONDAY, duration=3600, evse_id=1, transaction_id="1"
    )
    assert periods(composite) == [(0, 8.0), (1800, 16.0)]
    unbounded = absolute("TxDefaultProfile", [(0, 8.0)], stack=2, evse=1)
    composite = composite_schedule(
        [base, unbounded], start=MONDAY, duration=3600, evse_id=1, transaction_id="1"
    )
    assert periods(composite) == [(0, 8.0)]


def test_1_6_3_13_3_composite_is_the_minimum_of_charge_point_max_and_tx_profile():
    station_max = absolute("ChargePointMaxProfile", [(0, 20.0), (1800, 10.0)], evse=0)
    tx_default = absolute("TxDefaultProfile", [(0, 6.0)], evse=0)
    tx = absolute("TxProfile", [(0, 16.0), (2700, 32.0)], evse=1, transaction_id="42")
    composite = composite_schedule(
        [station_max, tx_default, tx], start=MONDAY, duration=3600, evse_id=1, transaction_id="42"
    )
    # The TxProfile overrules the TxDefaultProfile; ChargePointMaxProfile caps both.
    assert periods(composite) == [(0, 16.0), (1800, 10.0)]
    # Another transaction on the EVSE does not get the TxProfile of transaction 42.
    other = composite_schedule(
        [station_max, tx_default, tx], start=MONDAY, duration=3600, evse_id=1, transaction_id="43"
    )
    assert periods(other) == [(0, 6.0)]


def test_k08_evse_0_is_the_grid_connection_limit_of_station_wide_profiles():
    station_max = absolute("ChargingStationMaxProfile", [(0, 11000.0)], evse=0, unit="W")
    external = absolute(
        "ChargingStationExternalConstraints", [(0, 15.0), (600, 32.0)], evse=0, unit="A"
    )
    tx_default = absolute("TxDefaultProfile", [(0, 6.0)], evse=0)
    composite = composite_schedule(
        [station_max, external, tx_default], start=MONDAY, duration=1200, evse_id=0, unit="W"
    )
    assert periods(composite) == [(0, 15.0 * 690), (600, 11000.0)]


def test_k01_relative_profile_counts_from_the_transaction_start():
    relative = Profile(
        id=5,
        stack_level=0,
        purpose="TxProfile",
        kind="Relative",
        evse_id=1,
        transaction_id="9",
        schedule=Schedule("A", (Period(0, 32.0), Period(1800, 6.0)), duration=3600),
    )
    started = MONDAY - timedelta(minutes=20)
    composite = composite_schedule(
        [relative],
        start=MONDAY,
        duration=7200,
        evse_id=1,
        transaction_id="9",
        transaction_start=started,
    )
    assert periods(composite) == [(0, 32.0), (600, 6.0), (2400, None)]
    wire = composite.as_ocpp("2.0.1", 1)
    assert wire["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 32.0},
        {"startPeriod": 600, "limit": 6.0},
    ]


def test_min_charging_rate_of_the_transaction_schedule_is_carried():
    tx = Profile(
        id=1,
        stack_level=0,
        purpose="TxProfile",
        kind="Absolute",
        evse_id=1,
        schedule=Schedule("A", (Period(0, 16.0),), MONDAY, min_charging_rate=6.0),
    )
    composite = composite_schedule([tx], start=MONDAY, duration=60, evse_id=1, transaction_id="1")
    assert composite.min_charging_rate == 6.0
    assert composite.as_ocpp("1.6", 1)["minChargingRate"] == 6.0


# --- properties ------------------------------------------------------------------------------

PURPOSES = ["ChargingStationMaxProfile", "ChargingStationExternalConstraints", "TxDefaultProfile"]
PURPOSES += ["TxProfile"]


@st.composite
def profiles(draw):
    purpose = draw(st.sampled_from(PURPOSES))
    kind = draw(st.sampled_from(["Absolute", "Relative", "Recurring"]))
    count = draw(st.integers(1, 4))
    starts = sorted(draw(st.sets(st.integers(0, 7200), min_size=count, max_size=count)) | {0})
    unit = draw(st.sampled_from(["A", "W"]))
    high = 63 if unit == "A" else 43000
    period_list = tuple(
        Period(s, float(draw(st.integers(0, high))), draw(st.sampled_from([None, 1, 3])))
        for s in starts
    )
    offset = draw(st.integers(-7200, 7200))
    valid_from = draw(st.one_of(st.none(), st.integers(-3600, 7200)))
    valid_len = draw(st.one_of(st.none(), st.integers(1, 10800)))
    evse = 0 if purpose != "TxProfile" and draw(st.booleans()) else 1
    return Profile(
        id=draw(st.integers(1, 1000)),
        stack_level=draw(st.integers(0, 3)),
        purpose=purpose,
        kind=kind,
        recurrency_kind="Daily" if kind == "Recurring" else "",
        evse_id=evse,
        valid_from=None if valid_from is None else MONDAY + timedelta(seconds=valid_from),
        valid_to=(
            None
            if valid_from is None or valid_len is None
            else MONDAY + timedelta(seconds=valid_from + valid_len)
        ),
        schedule=Schedule(
            unit=unit,
            periods=period_list,
            start_schedule=None if kind == "Relative" else MONDAY + timedelta(seconds=offset),
            duration=draw(st.one_of(st.none(), st.integers(1, 14400))),
        ),
    )


WINDOW = 4 * 3600
TX_START = MONDAY - timedelta(minutes=30)


def compute(profile_list, unit="A"):
    return composite_schedule(
        profile_list,
        start=MONDAY,
        duration=WINDOW,
        evse_id=1,
        unit=unit,
        transaction_id="1",
        transaction_start=TX_START,
    )


def point(profile_list, offset, unit="A"):
    return limit_at(
        profile_list,
        MONDAY + timedelta(seconds=offset),
        evse_id=1,
        unit=unit,
        transaction_id="1",
        transaction_start=TX_START,
        now=MONDAY,
    ).limit


@settings(max_examples=300, deadline=None)
@given(st.lists(profiles(), max_size=5), st.lists(st.integers(0, WINDOW - 1), max_size=20))
def test_composite_periods_agree_with_the_rule_at_every_instant(profile_list, offsets):
    composite = compute(profile_list)
    starts = [p.start_period for p in composite.periods]
    assert starts[0] == 0
    assert starts == sorted(set(starts))
    assert all(0 <= s < WINDOW for s in starts)
    for before, after in zip(composite.periods, composite.periods[1:], strict=False):
        assert (before.limit, before.number_phases) != (after.limit, after.number_phases)
    for offset in [*offsets, *starts]:
        assert composite.limit_at(offset) == point(profile_list, offset)


@settings(max_examples=200, deadline=None)
@given(st.lists(profiles(), max_size=4), st.integers(0, 63), st.integers(0, WINDOW - 1))
def test_adding_a_station_max_profile_never_raises_the_limit(profile_list, cap, offset):
    # (A higher stack level of a purpose already present may raise it: it replaces the lower.)
    profile_list = [p for p in profile_list if p.purpose != "ChargingStationMaxProfile"]
    station_max = absolute("ChargingStationMaxProfile", [(0, float(cap))], stack=9, evse=0)
    before = point(profile_list, offset)
    after = point([*profile_list, station_max], offset)
    assert after is not None
    assert after <= cap
    if before is not None:
        assert after <= before

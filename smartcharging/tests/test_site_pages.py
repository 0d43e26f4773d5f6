"""The site's API and admin page (limit and total power over time), and the composite
schedule the CSMS expects beside the one the station reported, differences flagged."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from ocpp_router.datetimes import utcnow
from smartcharging import selectors
from smartcharging.models import ChargingProfile, CompositeSchedule, Site, SiteMember
from stations.models import ChargingStation
from tests.test_charts import chart_of
from transactions.models import MeterValue, Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def site_with_power():
    """Two stations of a 32 A site: one charges at 7 kW from -10 min, stopped at -4 min
    (1.6: no value at the stop), the other at 11 kW from -6 min."""
    now = utcnow()
    site = Site.objects.create(name="Office", limit=Decimal(32))
    for identity, watts, began, stopped in (("P-1", 7000, 10, 4), ("P-2", 11000, 6, None)):
        station = ChargingStation.objects.create(identity=identity, protocol="1.6")
        SiteMember.objects.create(site=site, station=station)
        tx = Transaction.objects.create(
            station=station,
            ocpp_version="1.6",
            transaction_id=identity,
            evse_id=1,
            started_at=now - timedelta(minutes=began),
            stopped_at=None if stopped is None else now - timedelta(minutes=stopped),
            is_active=stopped is None,
        )
        for minute in range(began, stopped or 0, -1):
            MeterValue.objects.create(
                station=station,
                transaction=tx,
                evse_id=1,
                timestamp=now - timedelta(minutes=minute),
                measurand="Power.Active.Import",
                unit="W",
                value=Decimal(watts),
            )
    return site, now


def test_site_power_sums_each_evse_latest_value_until_its_session_stops(site_with_power):
    site, now = site_with_power
    series = selectors.site_power(site, now - timedelta(hours=1), now)
    totals = [watts for _, watts in series]
    # 7 kW alone, both (18 kW), 11 kW alone once the first session stopped.
    assert totals == [7000.0, 18000.0, 11000.0]
    assert series[2][0] == now - timedelta(minutes=4)


def test_site_api_takes_the_building_consumption_and_gives_power_over_time(
    operator_api, site_with_power
):
    site, _ = site_with_power
    answer = operator_api.post(
        f"/api/sites/{site.pk}/consumption", {"value": "12.5"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["other_consumption"] == "12.5"
    site.refresh_from_db()
    assert site.other_consumption == Decimal("12.5")
    bad = operator_api.post(f"/api/sites/{site.pk}/consumption", {"value": "-1"}, format="json")
    assert bad.status_code == 400
    power = operator_api.get(f"/api/sites/{site.pk}/power?hours=1").json()
    assert power["limit_w"] == 32 * 230 * 3
    assert [p["watts"] for p in power["points"]] == [7000.0, 18000.0, 11000.0]
    assert operator_api.get(f"/api/sites/{site.pk}/power?hours=soon").status_code == 400
    detail = operator_api.get(f"/api/sites/{site.pk}").json()
    assert [m["station"] for m in detail["members"]] == ["P-1", "P-2"]


def test_site_admin_page_shows_the_limit_line_and_the_total_power(client, site_with_power):
    site, _ = site_with_power
    client.force_login(User.objects.create_superuser("admin", password=None))
    page = client.get(f"/admin/smartcharging/site/{site.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    data = chart_of(html[html.index('<div id="site-chart">') :])
    power, limit = data["series"]
    assert limit["label"] == "Limit (kW)" and limit["dashed"] is True
    assert {v for _, v in limit["points"]} == {22.08}
    assert power["step"] is True and max(v for _, v in power["points"]) == 18.0
    assert len(data["range"]) == 2


def reported_schedule(station, periods):
    return CompositeSchedule.objects.create(
        station=station,
        evse_id=1,
        requested_duration=7200,
        status="Accepted",
        schedule_start=START,
        schedule={
            "duration": 7200,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": start, "limit": limit} for start, limit in periods
            ],
        },
    )


START = utcnow().replace(microsecond=0) + timedelta(hours=1)


@pytest.fixture
def station_with_profile():
    station = ChargingStation.objects.create(identity="CMP-1", protocol="1.6")
    ChargingProfile.objects.create(
        station=station,
        evse_id=0,
        profile_id=1,
        stack_level=0,
        purpose="TxDefaultProfile",
        kind="Absolute",
        status="Accepted",
        protocol="1.6",
        schedules={
            "chargingRateUnit": "A",
            "startSchedule": START.isoformat(),
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 16.0},
                {"startPeriod": 3600, "limit": 8.0},
            ],
        },
    )
    return station


def test_k08_expected_composite_schedule_beside_the_reported_one_with_differences_flagged(
    operator_api, client, station_with_profile
):
    same = reported_schedule(station_with_profile, [(0, 16.0), (3600, 8.0)])
    answer = operator_api.get(f"/api/composite-schedules/{same.pk}/comparison").json()
    assert answer["differs"] is False
    assert answer["expected"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16.0},
        {"startPeriod": 3600, "limit": 8.0},
    ]

    # The station applies a local 10 A limit in the second hour (or a profile we lost).
    other = reported_schedule(station_with_profile, [(0, 16.0), (1800, 10.0), (3600, 8.0)])
    rows = operator_api.get(f"/api/composite-schedules/{other.pk}/comparison").json()["rows"]
    assert [(r["start_period"], r["expected"], r["reported"], r["differs"]) for r in rows] == [
        (0, 16.0, 16.0, False),
        (1800, 16.0, 10.0, True),
        (3600, 8.0, 8.0, False),
    ]

    client.force_login(User.objects.create_superuser("admin", password=None))
    page = client.get(f"/admin/smartcharging/compositeschedule/{other.pk}/change/").content
    assert b"differs from the one the CSMS expects" in page
    assert page.count(b'class="differs"') == 1

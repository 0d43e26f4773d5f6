"""OCPP 2.1 priority charging in the site allocation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ocpp_router.datetimes import utcnow
from smartcharging import balancing
from smartcharging.models import PriorityCharging, Site, SiteMember
from stations.models import ChargingStation
from transactions.models import Transaction

pytestmark = pytest.mark.django_db


def _session(site: Site, identity: str) -> Transaction:
    station = ChargingStation.objects.create(identity=identity, is_online=True)
    SiteMember.objects.create(site=site, station=station)
    return Transaction.objects.create(
        station=station,
        ocpp_version="2.1",
        transaction_id=f"TX-{identity}",
        evse_id=1,
        started_at=utcnow(),
    )


def test_a_session_in_priority_charging_is_filled_first():
    site = Site.objects.create(name="Depot", limit=Decimal(32), max_current=Decimal(32))
    plain, prioritised = _session(site, "P-1"), _session(site, "P-2")
    before = balancing.site_plan(site_pk=site.pk, now=utcnow()).grants
    assert before[str(plain.pk)] == before[str(prioritised.pk)]

    PriorityCharging.objects.create(
        station=prioritised.station,
        transaction=prioritised,
        transaction_ref=prioritised.transaction_id,
        activated=True,
        origin="csms",
        status="Accepted",
        at=utcnow(),
    )
    during = balancing.site_plan(site_pk=site.pk, now=utcnow()).grants
    assert during[str(prioritised.pk)] > during[str(plain.pk)]

    PriorityCharging.objects.create(
        station=prioritised.station,
        transaction=prioritised,
        transaction_ref=prioritised.transaction_id,
        activated=False,
        origin="station",
        at=utcnow(),
    )
    after = balancing.site_plan(site_pk=site.pk, now=utcnow()).grants
    assert after[str(plain.pk)] == after[str(prioritised.pk)]

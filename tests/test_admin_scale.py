"""The console stays cheap at 220 stations: the admin's busiest pages and the overview run as
many queries for 220 stations as for 20 (no query per row), under a fixed ceiling."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commands.models import Command
from ocpp_router.datetimes import utcnow
from stations.models import ChargingStation, Connector, Evse, OcppMessage, SecurityEvent
from transactions.models import IdToken, MeterValue, Transaction, TransactionEvent

pytestmark = pytest.mark.django_db

# A page lists at most 100 rows: 220 stations fill more than two pages.
STATIONS = 220
# Each page's queries, whatever the number of stations (session, user, counts, the rows,
# their prefetches, filters' lookups).
CEILING = 25

PAGES = [
    "/admin/",
    "/dashboard/overview.json",
    "/dashboard/state.json",
    "/dashboard/",
    "/admin/stations/chargingstation/",
    "/admin/stations/chargingstation/?is_online__exact=1",
    "/admin/stations/connector/",
    "/admin/stations/evse/",
    "/admin/stations/ocppmessage/",
    "/admin/stations/ocppmessage/?q=ConcurrentTx",
    "/admin/stations/securityevent/",
    "/admin/stations/bootnotification/",
    "/admin/transactions/transaction/",
    "/admin/transactions/transaction/?is_active__exact=1",
    "/admin/transactions/metervalue/",
    "/admin/transactions/transactionevent/",
    "/admin/transactions/idtoken/",
    "/admin/commands/command/",
]


def network(count: int, prefix: str) -> None:
    """`count` stations, each online with two connectors, a charging transaction with
    meter values and events, messages, a security event and a command."""
    now = utcnow()
    stations = ChargingStation.objects.bulk_create(
        ChargingStation(
            identity=f"{prefix}-{n}",
            protocol="2.0.1" if n % 2 else "1.6",
            is_online=n % 3 != 0,
            registration_status="Accepted",
            vendor="Acme",
            model="AC-22",
            firmware_version="1.2.3",
            last_seen=now - timedelta(minutes=n),
            last_heartbeat=now - timedelta(minutes=n),
        )
        for n in range(count)
    )
    evses = Evse.objects.bulk_create(Evse(station=s, evse_id=1) for s in stations)
    Connector.objects.bulk_create(
        Connector(evse=e, connector_id=c, status=("Occupied" if c == 1 else "Available"))
        for e in evses
        for c in (1, 2)
    )
    tokens = IdToken.objects.bulk_create(
        IdToken(value=f"{prefix}-TAG-{s.pk}", type="ISO14443", status="Accepted") for s in stations
    )
    txs = Transaction.objects.bulk_create(
        Transaction(
            station=s,
            ocpp_version=s.protocol,
            transaction_id=f"{prefix}-TX-{s.pk}",
            evse_id=1,
            connector_id=1,
            id_token=token,
            id_token_value=token.value,
            auth_status="Accepted",
            is_active=True,
            charging_state="Charging",
            started_at=now - timedelta(minutes=30),
            energy_wh=Decimal(1000),
        )
        for s, token in zip(stations, tokens, strict=True)
    )
    events = TransactionEvent.objects.bulk_create(
        TransactionEvent(
            station=tx.station,
            transaction=tx,
            kind="Started",
            seq_no=0,
            timestamp=tx.started_at,
            payload={"eventType": "Started"},
            received_at=tx.started_at,
        )
        for tx in txs
    )
    MeterValue.objects.bulk_create(
        MeterValue(
            station=tx.station,
            transaction=tx,
            event=event,
            evse_id=1,
            connector_id=1,
            timestamp=now - timedelta(minutes=minutes),
            measurand=measurand,
            unit=unit,
            value=Decimal(value),
        )
        for tx, event in zip(txs, events, strict=True)
        for minutes in (20, 2)
        for measurand, unit, value in (
            ("Power.Active.Import", "W", 7000),
            ("Energy.Active.Import.Register", "Wh", 1000),
        )
    )
    OcppMessage.objects.bulk_create(
        OcppMessage(
            id=uuid.uuid4(),
            station=s,
            timestamp=now - timedelta(seconds=n),
            direction="in",
            message_type=3 if n % 2 else 4,
            message_id=str(n),
            action="Authorize",
            payload={"idTokenInfo": {"status": "ConcurrentTx"}} if n % 2 else {},
            error_code="" if n % 2 else "InternalError",
        )
        for n, s in enumerate(stations)
    )
    SecurityEvent.objects.bulk_create(
        SecurityEvent(station=s, source="station", type="FirmwareUpdated", timestamp=now)
        for s in stations
    )
    Command.objects.bulk_create(
        Command(
            station=s,
            action="Reset",
            protocol=s.protocol,
            request={"type": "Immediate"},
            response={"status": "Accepted"},
            status="completed",
            origin="admin",
            created=now,
            completed=now,
        )
        for s in stations
    )


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured)


@pytest.fixture
def counts_at_20_and_220(staff_client):
    """The query count of every page with 20 stations, then with 220."""
    network(20, "FEW")
    for url in PAGES:
        staff_client.get(url)  # the first view of a page caches its content type
    few = {url: queries(staff_client, url) for url in PAGES}
    network(STATIONS - 20, "MANY")
    assert ChargingStation.objects.count() == STATIONS
    many = {url: queries(staff_client, url) for url in PAGES}
    return few, many


def test_console_pages_run_as_many_queries_for_220_stations_as_for_20(counts_at_20_and_220):
    few, many = counts_at_20_and_220
    grew = {url: (few[url], many[url]) for url in PAGES if many[url] != few[url]}
    assert grew == {}, "a page runs a query per row (queries at 20 and at 220 stations)"
    over = {url: n for url, n in many.items() if n > CEILING}
    assert over == {}, f"pages above {CEILING} queries"


def test_station_and_transaction_pages_query_count_does_not_grow_with_their_history(
    staff_client,
):
    network(STATIONS, "HIST")
    station = ChargingStation.objects.get(identity="HIST-1")
    tx = Transaction.objects.get(station=station)
    pages = [
        f"/admin/stations/chargingstation/{station.pk}/change/",
        f"/admin/transactions/transaction/{tx.pk}/change/",
    ]
    for url in pages:
        staff_client.get(url)  # the first view of a page caches its content type
    before = {url: queries(staff_client, url) for url in pages}
    # A longer history on the same station: more messages, readings, events, boots.
    now = utcnow()
    OcppMessage.objects.bulk_create(
        OcppMessage(
            id=uuid.uuid4(),
            station=station,
            timestamp=now - timedelta(seconds=n),
            direction="out",
            message_type=2,
            message_id=f"h{n}",
            action="Heartbeat",
            payload={},
        )
        for n in range(200)
    )
    MeterValue.objects.bulk_create(
        MeterValue(
            station=station,
            transaction=tx,
            evse_id=1,
            connector_id=1,
            timestamp=now - timedelta(seconds=n),
            measurand="Power.Active.Import",
            unit="W",
            value=Decimal(7000),
        )
        for n in range(200)
    )
    after = {url: queries(staff_client, url) for url in pages}
    assert after == before
    assert max(after.values()) <= 2 * CEILING

"""Meter-value write throughput through the real service path (bounded in count and time).

Each simulated station runs one 2.0.1 transaction: a Started event, then `--events` Updated
events each carrying `--values` sampled values, through `transaction_event_record` (the
code a TransactionEvent handler runs: lock, deduplicate, bulk insert, energy, cost). It
prints rows/s and events/s, then deletes what it wrote (unless --keep).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csms_bench \\
        python manage.py migrate --noinput
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csms_bench \\
        python benchmarks/meter_values.py --stations 4 --events 250 --values 20

Point it at a scratch database: it writes real rows (and removes them afterwards).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")

MEASURANDS = [
    ("Energy.Active.Import.Register", "Wh", None),
    ("Power.Active.Import", "W", None),
    ("Current.Import", "A", "L1"),
    ("Current.Import", "A", "L2"),
    ("Current.Import", "A", "L3"),
    ("Voltage", "V", "L1-N"),
    ("Voltage", "V", "L2-N"),
    ("Voltage", "V", "L3-N"),
    ("SoC", "Percent", None),
    ("Frequency", "Hz", None),
]


def sampled_values(count: int, energy_wh: int) -> list[dict]:
    values = []
    for i in range(count):
        measurand, unit, phase = MEASURANDS[i % len(MEASURANDS)]
        value = energy_wh if i == 0 else 100 + i
        item = {"value": value, "measurand": measurand, "unitOfMeasure": {"unit": unit}}
        if phase:
            item["phase"] = phase
        values.append(item)
    return values


def run_station(station_pk: int, events: int, values: int, deadline: float) -> tuple[int, int]:
    """One transaction's events; (events, rows) written before the deadline."""
    from django.db import connection

    from ocpp_router.datetimes import to_ocpp, utcnow
    from transactions.services import transaction_event_record

    start = utcnow()
    tx_id = uuid.uuid4().hex
    written_events = written_rows = 0
    try:
        for seq in range(events + 1):
            if time.monotonic() > deadline:
                break
            at = to_ocpp(start + timedelta(seconds=seq))
            transaction_event_record(
                station_pk=station_pk,
                version="2.0.1",
                payload={
                    "eventType": "Started" if seq == 0 else "Updated",
                    "timestamp": at,
                    "triggerReason": "MeterValuePeriodic",
                    "seqNo": seq,
                    "transactionInfo": {"transactionId": tx_id},
                    "evse": {"id": 1, "connectorId": 1},
                    "meterValue": [
                        {"timestamp": at, "sampledValue": sampled_values(values, seq * 10)}
                    ],
                },
            )
            written_events += 1
            written_rows += values
    finally:
        connection.close()
    return written_events, written_rows


def run_raw(station_pk: int, events: int, values: int, deadline: float) -> tuple[int, int]:
    """The floor under the service path: the same rows, bulk-inserted with nothing else."""
    from django.db import connection, transaction

    from ocpp_router.datetimes import to_ocpp, utcnow
    from transactions.models import MeterValue
    from transactions.rules import meter_rows

    start = utcnow()
    written_events = written_rows = 0
    try:
        for seq in range(events + 1):
            if time.monotonic() > deadline:
                break
            at = to_ocpp(start + timedelta(seconds=seq))
            rows = meter_rows(
                [{"timestamp": at, "sampledValue": sampled_values(values, seq * 10)}],
                version="2.0.1",
                station_pk=station_pk,
                transaction=None,
                event=None,
                evse_id=1,
                connector_id=1,
            )
            with transaction.atomic():
                MeterValue.objects.bulk_create(rows)
            written_events += 1
            written_rows += len(rows)
    finally:
        connection.close()
    return written_events, written_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=4, help="stations writing at once")
    parser.add_argument("--events", type=int, default=250, help="Updated events per station")
    parser.add_argument("--values", type=int, default=20, help="sampled values per event")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop after this long")
    parser.add_argument("--keep", action="store_true", help="keep the rows written")
    parser.add_argument(
        "--raw",
        action="store_true",
        help="bulk-insert the same rows with no service logic (the database floor)",
    )
    args = parser.parse_args()
    if args.stations < 1 or args.events < 1 or args.values < 1:
        parser.error("--stations, --events and --values must be at least 1")
    args.events = min(args.events, 100_000)

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from stations.models import ChargingStation
    from transactions.models import MeterValue, Transaction

    settings.CSMS_COST_UPDATE_INTERVAL = 0
    run = uuid.uuid4().hex[:8]
    stations = [
        ChargingStation.objects.create(identity=f"BENCH-{run}-{i}", protocol="2.0.1")
        for i in range(args.stations)
    ]
    engine = connection.vendor
    connection.close()
    deadline = time.monotonic() + args.max_seconds
    barrier = threading.Barrier(args.stations)

    def worker(station_pk: int) -> tuple[int, int]:
        barrier.wait()
        runner = run_raw if args.raw else run_station
        return runner(station_pk, args.events, args.values, deadline)

    began = time.perf_counter()
    with ThreadPoolExecutor(args.stations) as pool:
        results = list(pool.map(worker, [s.pk for s in stations]))
    elapsed = time.perf_counter() - began

    events = sum(r[0] for r in results)
    rows = sum(r[1] for r in results)
    stored = MeterValue.objects.filter(station__in=stations).count()
    print(
        f"{engine}{' raw bulk insert' if args.raw else ''}: "
        f"{args.stations} stations x {args.events + 1} events x {args.values} values: "
        f"{events} events, {rows} meter rows in {elapsed:.2f} s = "
        f"{rows / elapsed:,.0f} rows/s, {events / elapsed:,.0f} events/s "
        f"(rows stored: {stored})"
    )
    if not args.keep:
        Transaction.objects.filter(station__in=stations).delete()
        MeterValue.objects.filter(station__in=stations).delete()
        ChargingStation.objects.filter(pk__in=[s.pk for s in stations]).delete()


if __name__ == "__main__":
    main()

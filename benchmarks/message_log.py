"""What one message-log row costs PostgreSQL: WAL bytes, table and index bytes, and the
database backend's CPU time, through the writer the server uses (`message_log.store`,
one COPY per batch). No server and no load generator: the figures do not depend on what
else the machine is doing, except the CPU time a little.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csms_bench \\
        python manage.py migrate --noinput
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csms_bench \\
        python benchmarks/message_log.py --rows 50000

The rows are a charging session's traffic (MeterValues, StatusNotification, Heartbeat,
TransactionEvent calls and their answers) of 100 stations. Point it at a scratch
database: it writes real rows and deletes them afterwards (unless --keep).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")

CALLS = [
    (
        "MeterValues",
        {
            "evseId": 1,
            "meterValue": [
                {
                    "timestamp": "2026-12-07T10:00:00.000Z",
                    "sampledValue": [
                        {"value": 12345.6, "measurand": "Energy.Active.Import.Register"},
                        {"value": 7200, "measurand": "Power.Active.Import"},
                    ],
                }
            ],
        },
        {},
    ),
    (
        "StatusNotification",
        {
            "timestamp": "2026-12-07T10:00:00.000Z",
            "connectorStatus": "Occupied",
            "evseId": 1,
            "connectorId": 1,
        },
        {},
    ),
    ("Heartbeat", {}, {"currentTime": "2026-12-07T10:00:00.000Z"}),
    (
        "TransactionEvent",
        {
            "eventType": "Updated",
            "timestamp": "2026-12-07T10:00:00.000Z",
            "triggerReason": "MeterValuePeriodic",
            "seqNo": 3,
            "transactionInfo": {"transactionId": "0b9f7c1e-5d2a-4c1b-9a57-3f0e6a1d2c4b"},
            "meterValue": [
                {
                    "timestamp": "2026-12-07T10:00:00.000Z",
                    "sampledValue": [{"value": 12345.6}],
                }
            ],
        },
        {"totalCost": 3.42},
    ),
]


def entries(count: int, station_pks: list[int]):
    from ocpp_router.datetimes import utcnow
    from ocpp_router.session import LogEntry, uuid7

    start = utcnow()
    made = 0
    while made < count:
        for station_pk in station_pks:
            action, request, answer = CALLS[made // 2 % len(CALLS)]
            at = start + timedelta(milliseconds=made)
            call = LogEntry(
                id=uuid7(),
                station_pk=station_pk,
                direction="in",
                message_type=2,
                message_id=str(made),
                action=action,
                payload=request,
                timestamp=at,
            )
            yield call
            yield LogEntry(
                id=uuid7(),
                station_pk=station_pk,
                direction="out",
                message_type=3,
                message_id=str(made),
                action=action,
                payload=answer,
                timestamp=at,
                answers=call.id,
            )
            made += 2
            if made >= count:
                return


def backend_cpu_seconds(cursor) -> float:
    """CPU time of this connection's backend process (PostgreSQL on this machine)."""
    cursor.execute("SELECT pg_backend_pid()")
    pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from stations.message_log import message_log
    from stations.models import ChargingStation, OcppMessage

    if connection.vendor != "postgresql":
        sys.exit("Point DATABASE_URL at a PostgreSQL database: the figures are PostgreSQL's.")
    stations = [
        ChargingStation.objects.get_or_create(identity=f"LOGBENCH-{i:03d}")[0] for i in range(100)
    ]
    rows = list(entries(args.rows, [s.pk for s in stations]))
    table = OcppMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
        cursor.execute(
            "SELECT pg_current_wal_lsn(), pg_table_size(%s), pg_indexes_size(%s)", [table, table]
        )
        lsn, table_before, indexes_before = cursor.fetchone()
        cpu_before = backend_cpu_seconds(cursor)
    started = time.perf_counter()
    for i in range(0, len(rows), args.batch):
        message_log.store(rows[i : i + args.batch])
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cpu = backend_cpu_seconds(cursor) - cpu_before
        cursor.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s), pg_table_size(%s),"
            " pg_indexes_size(%s)",
            [lsn, table, table],
        )
        wal, table_after, indexes_after = cursor.fetchone()
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s ORDER BY indexname", [table]
        )
        indexes = [name for (name,) in cursor.fetchall()]
    n = len(rows)
    report = {
        "rows": n,
        "batch": args.batch,
        "indexes": indexes,
        "wal_bytes_per_row": round(float(wal) / n, 1),
        "table_bytes_per_row": round((table_after - table_before) / n, 1),
        "index_bytes_per_row": round((indexes_after - indexes_before) / n, 1),
        "postgres_cpu_ms_per_row": round(cpu * 1000 / n, 4),
        "wall_ms_per_row": round(elapsed * 1000 / n, 4),
    }
    print(json.dumps(report, indent=2))
    if not args.keep:
        OcppMessage.objects.filter(station__in=stations).delete()


if __name__ == "__main__":
    main()

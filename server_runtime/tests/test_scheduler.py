"""Periodic background jobs (server_runtime.scheduler)."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from ocpp_router.datetimes import utcnow
from server_runtime.models import ScheduledJob
from server_runtime.scheduler import Job, discover, run_once
from server_runtime.tests.test_scale_out import ServerProcess, server_env
from stations.models import ChargingStation
from transactions.models import Transaction


def test_jobs_are_found_in_the_apps_jobs_modules(settings):
    jobs = {job.name: job for job in discover()}
    stale = jobs["transactions.transactions_end_stale"]
    assert stale.seconds == settings.CSMS_JOB_END_STALE_TRANSACTIONS_INTERVAL
    assert "transactions.reservations_expire" in jobs


def test_a_job_runs_once_per_interval_whoever_asks_and_records_its_result(db):
    runs: list[int] = []
    job = Job("test.counter", lambda: runs.append(1) or len(runs), seconds=60)
    assert run_once(job)
    # A second process (or a restarted one) within the interval: not due.
    assert not run_once(job)
    assert runs == [1]
    row = ScheduledJob.objects.get(name="test.counter")
    assert row.last_ok and row.last_result == "1"
    ScheduledJob.objects.filter(pk=row.pk).update(last_started_at=utcnow() - timedelta(seconds=61))
    assert run_once(job)
    assert runs == [1, 1]


def test_a_failing_job_is_recorded_and_does_not_stop_the_others(db):
    def broken():
        raise RuntimeError("meter service unreachable")

    assert run_once(Job("test.broken", broken, seconds=60))
    row = ScheduledJob.objects.get(name="test.broken")
    assert not row.last_ok
    assert row.last_result == "RuntimeError: meter service unreachable"


@pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
    reason="needs REDIS_URL and DATABASE_URL: the server process shares the database",
)
async def test_serve_runs_the_stale_transaction_job_on_its_schedule(transactional_db):
    @sync_to_async
    def make_stale() -> int:
        station = ChargingStation.objects.create(identity="JOB-STALE")
        tx = Transaction.objects.create(
            station=station, ocpp_version="1.6", transaction_id="1", evse_id=1
        )
        Transaction.objects.filter(pk=tx.pk).update(created=utcnow() - timedelta(hours=1))
        connection.close()
        return tx.pk

    @sync_to_async
    def ended_by(pk: int) -> str:
        try:
            return Transaction.objects.get(pk=pk).ended_by
        finally:
            connection.close()

    pk = await make_stale()
    env = {
        **server_env("jobs"),
        "CSMS_TRANSACTION_STALE_AFTER": "60",
        "CSMS_JOB_END_STALE_TRANSACTIONS_INTERVAL": "1",
    }
    server = ServerProcess(env)
    try:
        await asyncio.to_thread(server.wait_listening)
        for _ in range(300):
            if await ended_by(pk):
                break
            await asyncio.sleep(0.1)
        assert await ended_by(pk) == "csms:stale"
    finally:
        server.stop()

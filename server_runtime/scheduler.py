"""Periodic background jobs, run by every `serve` process and once per interval by the fleet.

Each functional app lists its jobs in `<app>/jobs.py` as `SCHEDULE`: the name of a function
of that module and its interval in seconds (0 or less: not scheduled). APScheduler fires
them in each serving process (or in `manage.py run_jobs` for installs that keep background
work apart); a run first claims the job's `ScheduledJob` row (locked, SKIP LOCKED on
PostgreSQL) and goes ahead only if the interval has passed since the last run started, so
several processes run a job once, and a restart neither repeats nor skips it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from django.apps import apps
from django.db import close_old_connections, connection, transaction

from ocpp_router.datetimes import utcnow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable[[], Any]
    seconds: float


def discover() -> list[Job]:
    """Every `SCHEDULE` entry of the installed apps' `jobs` modules."""
    jobs = []
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.jobs")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.jobs":
                raise
            continue
        for func_name, seconds in getattr(module, "SCHEDULE", {}).items():
            if seconds and seconds > 0:
                jobs.append(Job(f"{config.name}.{func_name}", getattr(module, func_name), seconds))
    return jobs


def run_once(job: Job) -> bool:
    """Run `job` if no process ran it within its interval; whether it ran here."""
    from server_runtime.models import ScheduledJob

    ScheduledJob.objects.get_or_create(name=job.name)
    now = utcnow()
    with transaction.atomic():
        rows = ScheduledJob.objects.filter(name=job.name)
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True)
        row = rows.first()
        if row is None:
            return False  # another process holds it right now
        due = row.last_started_at is None or now - row.last_started_at >= timedelta(
            seconds=job.seconds * 0.9
        )
        if not due:
            return False
        row.last_started_at = now
        row.save(update_fields=["last_started_at"])
    try:
        result = job.func()
    except Exception as exc:
        logger.exception("Job %s failed", job.name)
        ok, text = False, f"{type(exc).__name__}: {exc}"
    else:
        ok, text = True, repr(result)
    ScheduledJob.objects.filter(name=job.name).update(
        last_finished_at=utcnow(), last_result=text[:2000], last_ok=ok
    )
    return True


def _scheduled(job: Job) -> None:
    """A run from the scheduler's thread: its database connection kept healthy."""
    close_old_connections()
    try:
        run_once(job)
    finally:
        close_old_connections()


class Scheduler:
    """APScheduler's background scheduler with the discovered jobs."""

    def __init__(self) -> None:
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.jobs = discover()

    def start(self) -> None:
        for job in self.jobs:
            self.scheduler.add_job(
                _scheduled,
                "interval",
                args=[job],
                seconds=job.seconds,
                id=job.name,
                max_instances=1,
                coalesce=True,
                next_run_time=utcnow() + timedelta(seconds=min(job.seconds, 5)),
            )
        self.scheduler.start()
        logger.info(
            "Background jobs: %s",
            ", ".join(f"{j.name} every {j.seconds:g} s" for j in self.jobs) or "none",
        )

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

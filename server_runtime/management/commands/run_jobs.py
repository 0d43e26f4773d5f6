"""Run the periodic background jobs in the foreground (server_runtime.scheduler): for installs
that set CSMS_SCHEDULER=false on their `serve` processes and keep background work apart."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from server_runtime.scheduler import Scheduler, run_once


class Command(BaseCommand):
    help = "Run the periodic background jobs until TERM/INT (--once: each due job once)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="Run each due job once, exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        scheduler = Scheduler()
        if options["once"]:
            for job in scheduler.jobs:
                ran = run_once(job)
                self.stdout.write(f"{job.name}: {'ran' if ran else 'not due'}")
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        scheduler.start()
        try:
            stop.wait()
        finally:
            scheduler.stop()

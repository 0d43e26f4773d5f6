"""Send the running cost of 2.x transactions (OCPP 2.0.1 I02.FR.01) once: for cron until the
job runs on the scheduler."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from transactions.running_cost import cost_updates_send


class Command(BaseCommand):
    help = "Send CostUpdated to every running 2.x transaction whose interval has passed."

    def handle(self, *args: Any, **options: Any) -> None:
        sent = cost_updates_send()
        self.stdout.write(f"{sent} CostUpdated request(s) taken by the stations")

"""End the transactions stations will never end (transactions.ending.end_stale) once: for cron
until the job runs on the scheduler."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from transactions.ending import end_stale


class Command(BaseCommand):
    help = (
        "End active transactions with no message for CSMS_TRANSACTION_STALE_AFTER, refused "
        "starts never stopped and transactions not continued after their station rebooted "
        "(CSMS_TRANSACTION_RECONNECT_GRACE); each gets a stop reason, an anomaly and a note."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        ended = end_stale()
        for item in ended:
            self.stdout.write(f"{item.identity}: transaction {item.transaction_id} ended")
        self.stdout.write(f"{len(ended)} transaction(s) ended")

"""Mark reservations past their expiry as Expired (run from cron or a timer)."""

from django.core.management.base import BaseCommand

from transactions.reservations import reservation_expire_overdue


class Command(BaseCommand):
    help = "Mark open reservations whose expiry has passed as Expired."

    def handle(self, *args, **options):
        count = reservation_expire_overdue()
        self.stdout.write(f"{count} reservation(s) expired")

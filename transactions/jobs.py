"""Background jobs of the transactions block, run periodically by server_runtime.scheduler:
`SCHEDULE` names each function and its interval in seconds."""

from __future__ import annotations

from django.conf import settings

from transactions.ending import end_stale
from transactions.reservations import reservation_expire_overdue
from transactions.running_cost import cost_updates_send


def transactions_end_stale() -> int:
    """Transactions always end: stale ones, refused starts, not continued after a reboot."""
    return len(end_stale())


def running_cost_send() -> int:
    """OCPP 2.0.1 I02.FR.01: CostUpdated for running 2.x transactions."""
    return cost_updates_send()


def reservations_expire() -> int:
    """Reservations whose expiry passed."""
    return reservation_expire_overdue()


SCHEDULE = {
    "transactions_end_stale": settings.CSMS_JOB_END_STALE_TRANSACTIONS_INTERVAL,
    # Each transaction gets CostUpdated every CSMS_COST_UPDATE_INTERVAL; the job looks often.
    "running_cost_send": settings.CSMS_JOB_RUNNING_COST_INTERVAL
    if settings.CSMS_COST_UPDATE_INTERVAL > 0
    else 0,
    "reservations_expire": settings.CSMS_JOB_RESERVATIONS_INTERVAL,
}

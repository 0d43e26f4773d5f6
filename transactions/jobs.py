"""Background jobs of the transactions block (run periodically by the scheduler)."""

from __future__ import annotations

from transactions.ending import end_stale
from transactions.running_cost import cost_updates_send
from transactions.services import reservation_expire_overdue


def transactions_end_stale() -> int:
    """Transactions always end: stale ones, refused starts, not continued after a reboot."""
    return len(end_stale())


def running_cost_send() -> int:
    """OCPP 2.0.1 I02.FR.01: CostUpdated for running 2.x transactions."""
    return cost_updates_send()


def reservations_expire() -> int:
    """Reservations whose expiry passed."""
    return reservation_expire_overdue()

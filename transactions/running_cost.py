"""Running cost on a timer (OCPP 2.0.1 I02.FR.01): CostUpdated for every running 2.x
transaction with a tariff, every CSMS_COST_UPDATE_INTERVAL seconds.

A transaction message answered inside the interval sends no CostUpdated of its own; its cost
goes out with the next round of this job, so no update is dropped, only deferred. The final
cost is in the answer to TransactionEvent Ended (I02/I03), not here.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from commands.services import StationNotConnected, command_send
from ocpp_router.datetimes import utcnow
from transactions.models import Transaction
from transactions.rules import transaction_cost_compute

logger = logging.getLogger(__name__)


def cost_updates_due(*, at: datetime) -> list[Transaction]:
    """Running 2.x transactions with a tariff, on an online station, last sent a cost at
    least CSMS_COST_UPDATE_INTERVAL ago (or never)."""
    interval = settings.CSMS_COST_UPDATE_INTERVAL
    if interval <= 0:
        return []
    return list(
        Transaction.objects.filter(
            is_active=True,
            tariff__isnull=False,
            ocpp_version__in=["2.0.1", "2.1"],
            station__is_online=True,
        )
        .filter(
            Q(cost_sent_at__isnull=True) | Q(cost_sent_at__lte=at - timedelta(seconds=interval))
        )
        .select_related("station", "tariff")
        .order_by("cost_sent_at", "id")
    )


def cost_updates_send(*, at: datetime | None = None) -> int:
    """Send the due CostUpdated requests (see the module docstring); how many the stations
    took. A transaction is claimed before its request goes out, so two processes running
    this job at once send one update each, not two."""
    at = at or utcnow()
    sent = 0
    for tx in cost_updates_due(at=at):
        until = max(tx.last_event_at or at, at)
        total = transaction_cost_compute(tx, until=until)
        # `updated` changes too: a copy of the transaction kept by the message path
        # (transactions.open_transactions) is then read again, not written over this.
        claimed = Transaction.objects.filter(
            pk=tx.pk, is_active=True, cost_sent_at=tx.cost_sent_at
        ).update(cost_sent_at=at, total_cost=total, updated=utcnow())
        if not claimed:
            continue
        try:
            outcome = command_send(
                origin="transactions.running_cost",
                identity=tx.station.identity,
                action="CostUpdated",
                payload={"totalCost": float(total), "transactionId": tx.transaction_id},
            )
        except StationNotConnected:
            continue
        if outcome.ok:
            sent += 1
        else:
            logger.warning(
                "Station %s did not take CostUpdated for transaction %s (%s %s)",
                tx.station.identity,
                tx.transaction_id,
                outcome.status,
                outcome.error_code,
            )
    return sent

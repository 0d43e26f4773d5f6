"""Background jobs of the integrations block (server_runtime.scheduler)."""

from __future__ import annotations

import asyncio

from django.conf import settings

from integrations.delivery import deliver_due


def webhooks_retry() -> int:
    """Event deliveries due again (left by a stopped process): posted until done."""
    return asyncio.run(deliver_due())


SCHEDULE = {"webhooks_retry": settings.CSMS_JOB_DELIVERIES_INTERVAL}

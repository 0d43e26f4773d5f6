"""Background jobs of the commands block (server_runtime.scheduler)."""

from __future__ import annotations

import asyncio

from django.conf import settings

from commands.services import callback_deliver, callbacks_claim


def callbacks_retry() -> int:
    """Callbacks due again (a failed attempt, or left by a stopped process): one attempt each."""
    ids = callbacks_claim()
    if not ids:
        return 0

    async def attempts() -> list[bool]:
        return list(await asyncio.gather(*(callback_deliver(pk) for pk in ids)))

    return sum(asyncio.run(attempts()))


SCHEDULE = {"callbacks_retry": settings.CSMS_JOB_DELIVERIES_INTERVAL}

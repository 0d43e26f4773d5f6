"""Liveness and readiness endpoints for load balancers and orchestrators.

`/health` answers 200 while the process serves HTTP at all (no I/O). `/ready` answers 200
only when the database answers, every migration is applied and the channel layer carries a
message; otherwise 503 with, for each failing check, one line naming what to fix.
"""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

CHANNEL_LAYER_TIMEOUT = 2.0


def _check_database() -> str | None:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"database unreachable ({type(exc).__name__}): check DATABASE_URL"
    return None


def _check_migrations() -> str | None:
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return f"migrations unreadable ({type(exc).__name__}): check DATABASE_URL"
    if plan:
        return f"{len(plan)} migration(s) not applied: run `manage.py migrate`"
    return None


async def _channel_round_trip() -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "health.ping"})
    await asyncio.wait_for(layer.receive(channel), CHANNEL_LAYER_TIMEOUT)


def _check_channel_layer() -> str | None:
    try:
        async_to_sync(_channel_round_trip)()
    except Exception as exc:
        return f"channel layer unreachable ({type(exc).__name__}): check REDIS_URL"
    return None


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok"})


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: database, migrations and channel layer."""
    checks = {
        "database": _check_database(),
        "migrations": _check_migrations(),
        "channel_layer": _check_channel_layer(),
    }
    problems = {name: problem for name, problem in checks.items() if problem}
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    return JsonResponse({"status": "ok"})

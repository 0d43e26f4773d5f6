"""What `serve` and `runserver` check before they listen, so that a misconfigured server
stops at once with the fix in one line instead of failing on every station connection.

Each check raises `CommandError` (exit status 1) naming what to do.
"""

from __future__ import annotations

import errno
import socket

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import Error as DatabaseError

MIGRATE = "run `make migrate` (or `.venv/bin/python manage.py migrate`)"


def database_ready() -> None:
    """The database answers and every migration is applied."""
    from django.db.migrations.executor import MigrationExecutor

    connection = connections[DEFAULT_DB_ALIAS]
    name = connection.settings_dict["NAME"]
    where = "DATABASE_URL" if settings.DATABASE_URL else f"SQLite {name}"
    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CommandError(
            f"cannot reach the database ({where}): {first_line}. Start it, or fix DATABASE_URL "
            "(unset it for the embedded SQLite database)"
        ) from None
    finally:
        connection.close()
    if plan:
        raise CommandError(
            f"the database ({where}) is not migrated ({len(plan)} migrations unapplied): {MIGRATE}"
        )


def redis_ready() -> None:
    """With REDIS_URL set, Redis answers a PING (the channel layer needs it for every call)."""
    if not settings.REDIS_URL:
        return
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        raise CommandError(
            f"REDIS_URL is set but Redis does not answer ({exc}). Start Redis, or unset "
            "REDIS_URL for the in-memory channel layer (one process only)"
        ) from None
    finally:
        client.close()


def port_free(bind: str, port: int) -> None:
    """Nothing else listens on bind:port."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((bind, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CommandError(
                f"port {port} on {bind} is in use (another CSMS or server is running). Stop it, "
                f"or choose another port: `--port {port + 1}` (make run PORT={port + 1})"
            ) from None
        raise CommandError(f"cannot listen on {bind}:{port}: {exc.strerror}") from None
    finally:
        probe.close()


def server_ready(*, bind: str | None = None, port: int | None = None) -> None:
    """All checks `serve` runs before it listens."""
    database_ready()
    redis_ready()
    if bind is not None and port is not None:
        port_free(bind, port)

"""ORM work from async code, off Django's single thread-sensitive executor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections


def db(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run ORM work from async code in a thread that is not Django's thread-sensitive one.

    Like Channels' `database_sync_to_async`, it drops expired or broken connections before
    and after (the pool threads outlive requests, so nothing else would).
    """

    def run(*args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(run, thread_sensitive=False)

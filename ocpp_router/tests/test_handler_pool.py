"""The handler pool: blocking work off the event loop, results and errors back to it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ocpp_router.dispatch import HandlerPool


async def test_pool_runs_calls_in_its_threads_and_returns_results_and_errors():
    pool = HandlerPool(3)
    loop = asyncio.get_running_loop()
    names = await asyncio.gather(
        *(pool.run(loop, lambda: threading.current_thread().name, ()) for _ in range(20))
    )
    assert all(name.startswith("ocpp-handler_") for name in names)
    assert threading.current_thread().name not in names

    def fail() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        await pool.run(loop, fail, ())

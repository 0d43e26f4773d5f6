"""Garbage collection for a process that holds thousands of long-lived connections.

CPython's full collection walks every tracked object: with 10,000 stations connected that
is about a second in which no station is answered, at moments the interpreter picks (in
our benchmark, once or twice a minute at the realistic message rate). Every
CSMS_GC_FREEZE_SECONDS the objects that exist by then are moved out of the collector's
sight (`gc.freeze`), so automatic collections only walk what is newer and stay short.
Cyclic garbage among frozen objects (mostly closed connections) is reclaimed by one full
collection every CSMS_GC_FULL_SECONDS: the only long pause, at a known rhythm. Either
setting at 0 leaves CPython's own policy in place.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class GcPolicy:
    def __init__(
        self,
        freeze_every: float,
        full_every: float,
        schedule: Callable[[float, Callable[[], None]], Any],
        clock: Callable[[], float] = time.monotonic,
    ):
        self.freeze_every = freeze_every
        self.full_every = full_every
        self.schedule = schedule
        self.clock = clock
        self.last_full = clock()

    @property
    def enabled(self) -> bool:
        return self.freeze_every > 0 and self.full_every > 0

    def start(self) -> None:
        if not self.enabled:
            return
        gc.collect()
        gc.freeze()
        self.schedule(self.freeze_every, self.tick)

    def tick(self) -> None:
        now = self.clock()
        if now - self.last_full >= self.full_every:
            started = time.perf_counter()
            gc.unfreeze()
            collected = gc.collect()
            gc.freeze()
            self.last_full = now
            logger.info(
                "Full garbage collection: %d objects freed in %.0f ms, %d kept",
                collected,
                (time.perf_counter() - started) * 1000,
                gc.get_freeze_count(),
            )
        else:
            gc.freeze()
        self.schedule(self.freeze_every, self.tick)

"""Garbage collection for a process that holds thousands of long-lived connections.

CPython's full collection walks every tracked object: with 10,000 stations connected that
is about a second in which no station is answered, at moments the interpreter picks (in
our benchmark, once or twice a minute at the realistic message rate). Every
CSMS_GC_FREEZE_SECONDS the objects that exist by then are moved out of the collector's
sight (`gc.freeze`), so automatic collections only walk what is newer and stay short.
A closed connection leaves no cyclic garbage (server_runtime.server.release cuts its
cycles), so frozen objects are freed by reference counting and no full collection is needed:
CSMS_GC_FULL_SECONDS (0 by default: never) runs one at that rhythm for whatever else might
accumulate, at the price of a pause of about a second at 10,000 stations.
CSMS_GC_FREEZE_SECONDS at 0 leaves CPython's own policy in place.

Every collection that pauses the server for CSMS_GC_PAUSE_WARN_MS or more is logged with its
generation and duration (and counted in `pauses`), so a long one never goes unseen.
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
        warn_ms: float = 0.0,
    ):
        self.freeze_every = freeze_every
        self.full_every = full_every
        self.schedule = schedule
        self.clock = clock
        self.last_full = clock()
        self.warn_ms = warn_ms
        self.longest_ms = 0.0
        self.pauses = 0
        self._started = 0.0

    @property
    def enabled(self) -> bool:
        return self.freeze_every > 0

    def start(self) -> None:
        if self.warn_ms > 0 and self._watch not in gc.callbacks:
            gc.callbacks.append(self._watch)
        if not self.enabled:
            return
        gc.collect()
        gc.freeze()
        self.schedule(self.freeze_every, self.tick)

    def _watch(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        elapsed = (time.perf_counter() - self._started) * 1000
        self.longest_ms = max(self.longest_ms, elapsed)
        if self.enabled and info.get("generation") == 2:
            # What survived a full pass of the youngest objects is long-lived: frozen at
            # once (on the next turn of the loop), not at the next period. While thousands
            # of stations connect, the next oldest-generation pass then walks only what came
            # since, not every connection of the last CSMS_GC_FREEZE_SECONDS (measured:
            # pauses of up to 640 ms while 10,000 stations connected, with 15 s periods).
            self.schedule(0, gc.freeze)
        if elapsed >= self.warn_ms:
            self.pauses += 1
            logger.warning(
                "Garbage collection of generation %s paused the server for %.0f ms "
                "(%d objects freed)",
                info.get("generation"),
                elapsed,
                info.get("collected", 0),
            )

    def tick(self) -> None:
        now = self.clock()
        if self.full_every > 0 and now - self.last_full >= self.full_every:
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

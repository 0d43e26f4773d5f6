"""Retry policy of the CSMS's outgoing HTTP deliveries (event webhooks, command callbacks).

A delivery is a database row stored before its first attempt. The process that stored it
retries it with tenacity (`Policy.retrying`); every attempt is recorded with the time the next
one is due (the back-off plus CSMS_DELIVERY_LEASE), so when that process stops, the retry jobs
of `integrations.jobs` and `commands.jobs` (any process, after a restart too) take the row up
once it is due and continue where the record left off. The back-off and the stop rule are
tenacity's (`wait_exponential`, `stop_after_attempt`), counted from the attempts recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)

# What one attempt function returns: RETRY asks for another attempt after the back-off.
DELIVERED, FAILED, RETRY = "delivered", "failed", "retry"


@dataclass(frozen=True)
class Policy:
    """`attempts` in all (the first included); waits of base * 2^(n - 1) s, at most `maximum`."""

    attempts: int
    base: float
    maximum: float

    def _wait(self) -> wait_exponential:
        return wait_exponential(multiplier=self.base, max=self.maximum)

    def next_delay(self, attempts_made: int) -> float | None:
        """Seconds until the next attempt after `attempts_made` failed ones; None: give up."""
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempts_made
        if stop_after_attempt(max(self.attempts, 1))(state):
            return None
        return float(self._wait()(state))

    def retrying(self, *, attempts_made: int = 0) -> AsyncRetrying:
        """Tenacity's loop for a delivery that already made `attempts_made` attempts: it calls
        the attempt function again while it returns RETRY, waiting the back-off between."""
        wait = self._wait()

        def waited(state: RetryCallState) -> float:
            shifted = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
            shifted.attempt_number = state.attempt_number + attempts_made
            return float(wait(shifted))

        return AsyncRetrying(
            stop=stop_after_attempt(max(self.attempts - attempts_made, 1)),
            wait=waited,
            retry=retry_if_result(lambda outcome: outcome == RETRY),
            retry_error_callback=lambda state: FAILED,
            reraise=True,
        )

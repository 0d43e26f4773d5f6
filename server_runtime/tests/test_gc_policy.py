"""server_runtime.gc_policy: aged objects frozen each period, one full collection per long one."""

from __future__ import annotations

import gc
import weakref

import pytest

from server_runtime.gc_policy import GcPolicy


class Cycle:
    """Cyclic garbage once unreferenced: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def unfrozen():
    yield
    gc.unfreeze()


def test_frozen_garbage_waits_for_the_full_collection(unfrozen):
    now = [0.0]
    scheduled = []
    policy = GcPolicy(60, 1800, schedule=lambda d, f: scheduled.append(d), clock=lambda: now[0])
    garbage = Cycle()
    alive = weakref.ref(garbage)
    policy.start()
    assert gc.get_freeze_count() > 0 and scheduled == [60]
    del garbage
    now[0] = 60.0
    policy.tick()
    gc.collect()  # automatic collections do not see frozen objects
    assert alive() is not None
    now[0] = 1800.0
    policy.tick()
    assert alive() is None
    assert policy.last_full == 1800.0
    assert scheduled == [60, 60, 60]


def test_zero_keeps_cpythons_own_policy(unfrozen):
    scheduled = []
    GcPolicy(0, 1800, schedule=lambda d, f: scheduled.append(d)).start()
    assert gc.get_freeze_count() == 0 and scheduled == []


def test_full_collections_are_off_by_default_and_freezing_goes_on(unfrozen):
    scheduled = []
    policy = GcPolicy(60, 0, schedule=lambda d, f: scheduled.append(d), clock=lambda: 1e9)
    policy.start()
    garbage = Cycle()
    alive = weakref.ref(garbage)
    gc.freeze()
    del garbage
    policy.tick()
    assert alive() is not None  # no full collection: frozen cycles stay (none are made)
    assert scheduled == [60, 60]


def test_a_long_collection_is_logged(unfrozen, caplog):
    policy = GcPolicy(0, 0, schedule=lambda d, f: None, warn_ms=0.000001)
    policy.start()
    try:
        with caplog.at_level("WARNING", logger="server_runtime.gc_policy"):
            gc.collect()
        assert policy.pauses >= 1 and "paused the server" in caplog.text
    finally:
        gc.callbacks.remove(policy._watch)

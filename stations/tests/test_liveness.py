"""Last-seen and heartbeat times: batched, newest wins, never moved backwards."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from stations.liveness import LivenessBuffer
from stations.models import ChargingStation

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_times_are_written_on_flush_newest_per_station():
    station = ChargingStation.objects.create(identity="LIVE-1")
    other = ChargingStation.objects.create(identity="LIVE-2")
    buffer = LivenessBuffer()
    buffer._thread = object()  # no background thread: this test flushes itself
    buffer.note(station.pk, AT, heartbeat=True)
    buffer.note(station.pk, AT + timedelta(seconds=5), heartbeat=True)
    buffer.note(other.pk, AT)
    station.refresh_from_db()
    assert station.last_heartbeat is None  # nothing written before the flush
    buffer.flush()
    station.refresh_from_db()
    other.refresh_from_db()
    assert station.last_seen == station.last_heartbeat == AT + timedelta(seconds=5)
    assert other.last_seen == AT
    assert other.last_heartbeat is None


def test_a_flush_never_moves_last_seen_backwards():
    later = AT + timedelta(minutes=1)
    station = ChargingStation.objects.create(identity="LIVE-3", last_seen=later)
    buffer = LivenessBuffer()
    buffer._thread = object()
    buffer.note(station.pk, AT, heartbeat=True)
    buffer.flush()
    station.refresh_from_db()
    assert station.last_seen == later  # a disconnect recorded meanwhile stays
    assert station.last_heartbeat == AT


@pytest.mark.django_db(transaction=True)
def test_the_background_thread_writes_within_the_interval(settings):
    settings.CSMS_LIVENESS_FLUSH_SECONDS = 0.05
    station = ChargingStation.objects.create(identity="LIVE-4")
    buffer = LivenessBuffer()
    try:
        buffer.note(station.pk, AT, heartbeat=True)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            station.refresh_from_db()
            if station.last_heartbeat:
                break
            time.sleep(0.05)
        assert station.last_heartbeat == AT
    finally:
        buffer.close()


def test_times_stay_pending_when_the_write_fails(monkeypatch):
    from stations import liveness

    station = ChargingStation.objects.create(identity="LIVE-5")
    buffer = LivenessBuffer()
    buffer._thread = object()
    buffer.note(station.pk, AT, heartbeat=True)

    def fail(rows, using="default"):
        raise RuntimeError("database gone")

    monkeypatch.setattr(liveness._SEEN, "execute_many", fail)
    with pytest.raises(RuntimeError):
        buffer.flush()
    buffer.note(station.pk, AT + timedelta(seconds=1))  # newer, noted meanwhile
    monkeypatch.undo()
    buffer.flush()
    station.refresh_from_db()
    assert station.last_seen == AT + timedelta(seconds=1)
    assert station.last_heartbeat == AT

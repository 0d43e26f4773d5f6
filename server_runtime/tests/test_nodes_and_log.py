"""Sweeping stations of dead server processes, and the message log's batch writer."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from ocpp_router.datetimes import utcnow
from ocpp_router.session import LogEntry, uuid7
from server_runtime.nodes import channel_prefix
from stations.message_log import BatchedMessageLog
from stations.models import ChargingStation, OcppMessage
from stations.services import station_sweep_offline

pytestmark = pytest.mark.django_db


def online_station(identity: str, channel: str, connected_ago: float) -> ChargingStation:
    return ChargingStation.objects.create(
        identity=identity,
        is_online=True,
        channel_name=channel,
        connected_since=utcnow() - timedelta(seconds=connected_ago),
    )


def test_sweep_marks_offline_only_stations_of_dead_nodes():
    alive = online_station("ON-LIVE", channel_prefix("live") + "c1", 600)
    dead = online_station("ON-DEAD", channel_prefix("dead") + "c2", 600)
    fresh = online_station("ON-FRESH", channel_prefix("new") + "c3", 1)

    marked = station_sweep_offline(
        live_channel_prefixes=[channel_prefix("live")],
        connected_before=utcnow() - timedelta(seconds=30),
    )

    assert marked == 1
    dead.refresh_from_db()
    assert not dead.is_online and dead.channel_name == ""
    alive.refresh_from_db()
    assert alive.is_online and alive.channel_name.startswith("specific.live!")
    # Connected moments ago: its node may not have announced itself yet.
    fresh.refresh_from_db()
    assert fresh.is_online


def test_sweep_without_live_nodes_clears_every_stale_online_flag():
    online_station("A", channel_prefix("x") + "1", 60)
    online_station("B", "specific..inmemory!abc", 60)
    ChargingStation.objects.create(identity="C", is_online=False)

    assert station_sweep_offline(live_channel_prefixes=[], connected_before=utcnow()) == 2
    assert not ChargingStation.objects.filter(is_online=True).exists()


def test_message_log_batch_is_written_with_every_field():
    station = ChargingStation.objects.create(identity="LOG-1")
    call_id = uuid7()
    at = utcnow()
    entries = [
        LogEntry(
            id=call_id,
            station_pk=station.pk,
            direction="in",
            message_type=2,
            message_id="m1",
            action="Heartbeat",
            payload={"nested": {"text": "tab\there, quote ' and \\\\ backslash"}, "n": [1, 2.5]},
            timestamp=at,
        ),
        LogEntry(
            id=uuid7(),
            station_pk=station.pk,
            direction="out",
            message_type=4,
            message_id="m1",
            action="Heartbeat",
            payload=None,
            timestamp=at,
            error_code="InternalError",
            error_description="x" * 300,
            answers=call_id,
        ),
    ]

    BatchedMessageLog().store(entries)

    call = OcppMessage.objects.get(pk=call_id)
    assert call.payload == entries[0].payload
    assert call.timestamp == at
    assert (call.direction, call.message_type, call.message_id, call.action) == (
        "in",
        2,
        "m1",
        "Heartbeat",
    )
    error = OcppMessage.objects.get(answers_id=call_id)
    assert error.payload is None
    assert error.error_code == "InternalError"
    assert error.error_description == "x" * 255


@pytest.mark.django_db(transaction=True)
def test_message_log_keeps_frames_of_a_station_deleted_meanwhile_and_deleting_cascades():
    # The log's station column has no database constraint (one check per row was a large
    # part of its write cost): a frame still queued when its station is deleted is stored.
    station = ChargingStation.objects.create(identity="LOG-2")
    good = LogEntry(
        id=uuid7(),
        station_pk=station.pk,
        direction="in",
        message_type=2,
        message_id="1",
        action="Heartbeat",
        payload={},
        timestamp=utcnow(),
    )
    late = LogEntry(
        id=uuid.uuid4(),
        station_pk=station.pk + 1000,  # deleted meanwhile
        direction="in",
        message_type=2,
        message_id="2",
        action="Heartbeat",
        payload={},
        timestamp=utcnow(),
    )

    BatchedMessageLog().store([good, late])

    assert set(OcppMessage.objects.values_list("id", flat=True)) == {good.id, late.id}
    station.delete()
    assert list(OcppMessage.objects.values_list("id", flat=True)) == [late.id]

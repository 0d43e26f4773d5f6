"""Command services: callback deliveries give up after the configured attempts."""

from __future__ import annotations

import socket

import pytest
from asgiref.sync import sync_to_async

from commands import services
from commands.models import CallbackDelivery, Command
from ocpp_router.datetimes import utcnow
from stations.models import ChargingStation
from tests.api_helpers import CallbackReceiver

# The services run their database work in threads of their own: rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def finished_command(callback_url: str) -> Command:
    station = ChargingStation.objects.create(identity="CB-1", protocol="2.0.1")
    return Command.objects.create(
        station=station,
        action="Reset",
        protocol="2.0.1",
        request={"type": "Immediate"},
        status="completed",
        response={"status": "Accepted"},
        callback_url=callback_url,
        # As `command_finish` stores it: the callback pending before its first attempt.
        callback_status="pending",
        created=utcnow(),
        completed=utcnow(),
    )


@sync_to_async
def deliveries(command: Command) -> list[tuple]:
    return list(
        CallbackDelivery.objects.filter(command=command).values_list(
            "attempt", "status_code", "delivered"
        )
    )


async def test_callback_gives_up_after_the_configured_attempts(settings):
    settings.CSMS_CALLBACK_ATTEMPTS = 3
    settings.CSMS_CALLBACK_BACKOFF = 0.01
    receiver = CallbackReceiver(failures=99)
    try:
        command = await finished_command(receiver.url)
        assert await services.callback_deliver(command.pk) is False
    finally:
        receiver.close()
    assert len(receiver.bodies) == 3
    assert await deliveries(command) == [(1, 500, False), (2, 500, False), (3, 500, False)]


async def test_unreachable_callback_url_records_the_connection_error(settings):
    settings.CSMS_CALLBACK_ATTEMPTS = 2
    settings.CSMS_CALLBACK_BACKOFF = 0.01
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = await finished_command(f"http://127.0.0.1:{port}/hook")
    assert await services.callback_deliver(command.pk) is False
    rows = await sync_to_async(list)(CallbackDelivery.objects.filter(command=command))
    assert [(r.attempt, r.status_code, r.delivered) for r in rows] == [
        (1, None, False),
        (2, None, False),
    ]
    assert rows[0].error.startswith("ConnectError")


async def test_first_answered_delivery_stops_the_retries(settings):
    settings.CSMS_CALLBACK_BACKOFF = 0.01
    receiver = CallbackReceiver(failures=0)
    try:
        command = await finished_command(receiver.url)
        assert await services.callback_deliver(command.pk) is True
    finally:
        receiver.close()
    assert receiver.bodies[0]["status"] == "completed"
    assert receiver.bodies[0]["station_id"] == "CB-1"
    assert await deliveries(command) == [(1, 200, True)]


@sync_to_async
def pending_commands() -> tuple[Command, Command]:
    station = ChargingStation.objects.create(identity="SW-1", protocol="2.0.1")
    fields = dict(station=station, action="Reset", protocol="2.0.1", request={}, created=utcnow())
    # Awaited by a serving process (one without Redis names itself "local") that then died,
    # and by a manage.py process (no node), whose own wait ends with it.
    served = Command.objects.create(node="local", callback_url="http://127.0.0.1:9/h", **fields)
    return served, Command.objects.create(node="", **fields)


async def test_pending_command_of_a_stopped_server_is_reported_failed_at_next_start():
    served, other = await pending_commands()
    marked = await sync_to_async(services.command_sweep_orphaned)(
        live_channel_prefixes=[], before=utcnow()
    )
    assert marked == 1
    served = await sync_to_async(Command.objects.get)(pk=served.pk)
    assert served.status == "error" and served.error["code"] == services.SERVER_STOPPED
    assert served.completed is not None
    assert served.callback_status == "pending"  # its callback reports the failure
    assert (await sync_to_async(Command.objects.get)(pk=other.pk)).status == "pending"

"""Domain events reach the dashboard group from handler threads without blocking them."""

from __future__ import annotations

import asyncio
import uuid

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from csms.events import Event
from dashboard import live


async def listen() -> tuple[object, str]:
    layer = get_channel_layer()
    # A plain channel, not a process-local "specific." one: with Redis those are read by one
    # reader per process, which the live server's loop may already hold.
    channel = f"dashboard-test.{uuid.uuid4().hex}"
    await layer.group_add(live.GROUP, channel)
    return layer, channel


def events_of(message: dict) -> list[dict]:
    """The events a dashboard group message carries (bursts travel as one message)."""
    if message["type"] == "dashboard.events":
        return message["events"]
    assert message["type"] == "dashboard.event"
    return [message["event"]]


async def receive_own(layer, channel: str) -> list[dict]:
    """The events of the next group message carrying this module's stations (CP-*): those
    of the live server's stations from earlier tests may still be on their way."""
    while True:
        own = [e for e in events_of(await layer.receive(channel)) if e["station"][:3] == "CP-"]
        if own:
            return own


async def test_events_from_a_worker_thread_arrive_in_order_through_the_loop():
    layer, channel = await listen()
    try:

        def publish_many() -> None:
            for n in range(30):
                live.forward_event(Event("station.status_changed", f"CP-{n}", {"n": n}))

        await sync_to_async(publish_many, thread_sensitive=False)()
        received = []
        async with asyncio.timeout(5):
            while len(received) < 30:
                received.extend(event["data"]["n"] for event in await receive_own(layer, channel))
        assert received == list(range(30))
        # Queued on this loop by one forwarder, not sent from the worker thread.
        assert asyncio.get_running_loop() in live._forwarders
    finally:
        await layer.group_discard(live.GROUP, channel)


async def test_events_published_a_moment_apart_travel_in_one_group_message():
    layer, channel = await listen()
    try:
        for n in range(3):
            live.forward_event(Event("station.status_changed", f"CP-{n}", {"n": n}))
            await asyncio.sleep(0.01)
        async with asyncio.timeout(5):
            events = await receive_own(layer, channel)
        assert [event["data"]["n"] for event in events] == [0, 1, 2]
    finally:
        await layer.group_discard(live.GROUP, channel)


async def test_only_dashboard_kinds_are_forwarded():
    layer, channel = await listen()
    try:
        live.forward_event(Event("ocpp.message", "CP-1", {}))
        live.forward_event(Event("security.event", "CP-1", {}))
        live.forward_event(Event("station.connected", "CP-1", {"protocol": "1.6"}))
        async with asyncio.timeout(5):
            (event,) = await receive_own(layer, channel)
        assert event["kind"] == "station.connected"
        assert event["data"] == {"protocol": "1.6"}
    finally:
        await layer.group_discard(live.GROUP, channel)


def test_events_after_the_server_loop_stopped_are_dropped_without_blocking():
    """A handler thread finishing during shutdown must not wait for the stopped loop."""
    import os
    import threading

    from asgiref.sync import SyncToAsync

    stopped_loop = asyncio.new_event_loop()
    done = threading.Event()

    def handler_thread() -> None:
        SyncToAsync.threadlocal.main_event_loop = stopped_loop
        SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
        try:
            live.forward_event(Event("station.disconnected", "CP-1", {}))
        finally:
            del SyncToAsync.threadlocal.main_event_loop
            del SyncToAsync.threadlocal.main_event_loop_pid
            done.set()

    thread = threading.Thread(target=handler_thread, daemon=True)
    thread.start()
    try:
        assert done.wait(5), "forward_event blocked on a stopped server loop"
    finally:
        stopped_loop.close()

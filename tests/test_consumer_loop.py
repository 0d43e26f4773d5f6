"""The consumer's dispatch loop: messages from the socket and the channel layer, one at a time."""

from __future__ import annotations

import asyncio

import pytest
from channels.exceptions import StopConsumer

from ocpp_router.consumers import dispatch_serially


def source_of(queue: asyncio.Queue):
    return queue.get


async def test_messages_from_both_sources_are_dispatched_one_at_a_time_in_order():
    socket, layer = asyncio.Queue(), asyncio.Queue()
    seen, running = [], []

    async def dispatch(message):
        running.append(message)
        assert len(running) == 1, "two messages dispatched at once"
        await asyncio.sleep(0.001)
        seen.append(message)
        running.pop()
        if message == "stop":
            raise StopConsumer

    for n in range(5):
        socket.put_nowait(f"socket-{n}")
        layer.put_nowait(f"layer-{n}")
    loop = asyncio.ensure_future(dispatch_serially([socket.get, layer.get], dispatch))
    await asyncio.sleep(0.05)
    socket.put_nowait("stop")
    layer.put_nowait("too late")
    with pytest.raises(StopConsumer):
        await asyncio.wait_for(loop, 2)
    assert [m for m in seen if m.startswith("socket")] == [f"socket-{n}" for n in range(5)]
    assert [m for m in seen if m.startswith("layer")] == [f"layer-{n}" for n in range(5)]
    assert seen[-1] == "stop"


async def test_a_stop_while_the_other_source_waits_for_the_lock_dispatches_nothing_more():
    socket, layer = asyncio.Queue(), asyncio.Queue()
    seen = []

    async def dispatch(message):
        seen.append(message)
        if message == "disconnect":
            # The channel layer delivers while the disconnect is being handled.
            layer.put_nowait("command")
            await asyncio.sleep(0.01)
            raise StopConsumer

    socket.put_nowait("disconnect")
    with pytest.raises(StopConsumer):
        await asyncio.wait_for(dispatch_serially([socket.get, layer.get], dispatch), 2)
    assert seen == ["disconnect"]


async def test_a_failing_dispatch_ends_the_loop_with_its_error_and_cancels_the_readers():
    socket, layer = asyncio.Queue(), asyncio.Queue()
    waiting = asyncio.Event()

    async def layer_get():
        waiting.set()
        return await layer.get()

    async def dispatch(message):
        await waiting.wait()
        raise RuntimeError("handler bug")

    socket.put_nowait("frame")
    with pytest.raises(RuntimeError, match="handler bug"):
        await asyncio.wait_for(dispatch_serially([socket.get, layer_get], dispatch), 2)
    # The cancelled reader took nothing off the layer's queue.
    layer.put_nowait("later")
    assert layer.qsize() == 1


async def test_cancelling_the_loop_cancels_its_readers():
    socket = asyncio.Queue()
    loop = asyncio.ensure_future(dispatch_serially([socket.get], lambda message: None))
    await asyncio.sleep(0.01)
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    socket.put_nowait("after")
    await asyncio.sleep(0)
    assert socket.qsize() == 1

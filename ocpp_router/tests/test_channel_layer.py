"""The Redis channel layer hands on a message whose reader was cancelled mid-read.

Runs against the real Redis of REDIS_URL: the loss it guards against happens between
Redis popping a message and the client storing it.
"""

import asyncio
import os
import uuid
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from ocpp_router.layers import CancelSafeRedisChannelLayer

REDIS_URL = os.environ.get("REDIS_URL", "")

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL: a real Redis")


@pytest.fixture
async def layer():
    layer = CancelSafeRedisChannelLayer(
        hosts=[{"address": REDIS_URL, "socket_timeout": 15.0}],
        prefix=f"test-layer-{uuid.uuid4().hex[:8]}",
    )
    yield layer
    await layer.flush()


async def reading(layer: Any, channel: str) -> asyncio.Task[Any]:
    """A receive() on `channel` that has reached Redis (it holds the process-wide read)."""
    task = asyncio.ensure_future(layer.receive(channel))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if layer.receive_lock is not None and layer.receive_lock.locked():
            return task
    raise AssertionError("the receive never reached Redis")


async def test_message_popped_as_its_reader_is_cancelled_reaches_the_channel_it_was_for(
    layer, monkeypatch
):
    first, second = await layer.new_channel(), await layer.new_channel()
    pop = Redis.bzpopmin
    holder: asyncio.Task[Any] | None = None

    async def pop_then_cancel_the_reader(self: Redis, *args: Any, **kwargs: Any) -> Any:
        popped = await pop(self, *args, **kwargs)
        if popped is not None and holder is not None and not holder.done():
            # The station whose consumer holds the read disconnects while the popped
            # message is in hand, before it reaches the layer's buffers.
            holder.cancel()
            await asyncio.sleep(0)
        return popped

    monkeypatch.setattr(Redis, "bzpopmin", pop_then_cancel_the_reader)
    holder = await reading(layer, first)
    waiter = asyncio.ensure_future(layer.receive(second))

    await layer.send(second, {"type": "ocpp.call", "action": "Reset"})

    assert await asyncio.wait_for(waiter, 10) == {"type": "ocpp.call", "action": "Reset"}
    assert holder.cancelled()


async def test_read_of_a_cancelled_reader_serves_the_next_receive_on_that_channel(layer):
    channel = await layer.new_channel()
    abandoned = await reading(layer, channel)
    abandoned.cancel()
    with pytest.raises(asyncio.CancelledError):
        await abandoned

    # The read still in flight is the one the next receive takes over: no second pop.
    await layer.send(channel, {"type": "ocpp.close", "code": 1000})
    assert await asyncio.wait_for(layer.receive(channel), 10) == {
        "type": "ocpp.close",
        "code": 1000,
    }
    assert layer._reads == {}


async def test_a_read_that_cannot_reach_redis_is_tried_again_not_failed(layer, monkeypatch):
    """Redis away for a moment: the receiver keeps waiting and gets the next message (the
    station's consumer would otherwise end and drop its websocket)."""
    channel = await layer.new_channel()
    pop = Redis.bzpopmin
    failures = iter([RedisConnectionError("Redis went away")] * 2)

    async def pop_failing_twice(self: Redis, *args: Any, **kwargs: Any) -> Any:
        for error in failures:
            raise error
        return await pop(self, *args, **kwargs)

    monkeypatch.setattr(Redis, "bzpopmin", pop_failing_twice)
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0.2)
    assert not receiving.done()
    await layer.send(channel, {"type": "ocpp.close", "code": 1000})
    assert (await asyncio.wait_for(receiving, 10))["type"] == "ocpp.close"


async def test_a_read_that_fails_otherwise_reaches_the_receiver_and_the_next_reads_again(
    layer, monkeypatch
):
    channel = await layer.new_channel()
    pop = Redis.bzpopmin
    failures = iter([RuntimeError("the read broke")])

    async def pop_once_failing(self: Redis, *args: Any, **kwargs: Any) -> Any:
        for error in failures:
            raise error
        return await pop(self, *args, **kwargs)

    monkeypatch.setattr(Redis, "bzpopmin", pop_once_failing)
    with pytest.raises(RuntimeError, match="the read broke"):
        await asyncio.wait_for(layer.receive(channel), 10)
    await layer.send(channel, {"type": "ocpp.close", "code": 1000})
    assert (await asyncio.wait_for(layer.receive(channel), 10))["type"] == "ocpp.close"


async def test_general_channels_read_as_before(layer):
    await layer.send("csms.general", {"type": "hello"})
    assert await asyncio.wait_for(layer.receive("csms.general"), 10) == {"type": "hello"}

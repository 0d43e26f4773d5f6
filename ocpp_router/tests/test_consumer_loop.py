"""The consumer's loop: both message sources feed one queue, dispatched one at a time."""

import asyncio

import pytest
from channels.exceptions import StopConsumer
from channels.layers import InMemoryChannelLayer

from ocpp_router import consumers
from ocpp_router.consumers import OcppConsumer, _feed, _Inbox, _SourceFailed


async def test_a_source_is_fed_in_order_and_its_failure_is_passed_on():
    messages = iter([{"n": 1}, {"n": 2}])

    async def source():
        try:
            return next(messages)
        except StopIteration:
            raise RuntimeError("the source broke") from None

    inbox = _Inbox()
    await asyncio.wait_for(_feed(source, inbox), 5)
    assert [await inbox.get() for _ in range(2)] == [{"n": 1}, {"n": 2}]
    failed = await inbox.get()
    assert isinstance(failed, _SourceFailed) and isinstance(failed.error, RuntimeError)


async def test_an_unreachable_channel_layer_is_read_again_not_passed_on(monkeypatch):
    monkeypatch.setattr(asyncio, "sleep", _no_sleep)
    outcomes = iter([ConnectionError("redis went away"), {"n": 1}])

    async def source():
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    inbox = _Inbox()
    feeding = asyncio.ensure_future(_feed(source, inbox))
    try:
        assert await asyncio.wait_for(inbox.get(), 5) == {"n": 1}
    finally:
        feeding.cancel()


_real_sleep = asyncio.sleep


async def _no_sleep(delay, result=None):
    return await _real_sleep(0, result)


async def test_the_inbox_wakes_its_reader_in_order_and_a_cancelled_get_loses_nothing():
    inbox = _Inbox()
    waiting = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("first")
    inbox.put_nowait("second")
    assert await asyncio.wait_for(waiting, 1) == "first"
    assert await asyncio.wait_for(inbox.get(), 1) == "second"
    cancelled = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    inbox.put_nowait("third")
    assert await asyncio.wait_for(inbox.get(), 1) == "third"


class Recorder(OcppConsumer):
    """Dispatch only records what arrives, and fails if two dispatches ever overlap."""

    def __init__(self):
        super().__init__()
        self.seen = []
        self.busy = False

    async def dispatch(self, message):
        assert not self.busy, "two messages dispatched at once"
        self.busy = True
        try:
            await asyncio.sleep(0.01)
            self.seen.append(message["type"])
            if message["type"] == "websocket.disconnect":
                raise StopConsumer()
        finally:
            self.busy = False


@pytest.fixture
def layer(monkeypatch):
    layer = InMemoryChannelLayer()
    monkeypatch.setattr(consumers, "get_channel_layer", lambda alias: layer)
    return layer


async def test_frames_and_channel_messages_are_dispatched_one_at_a_time_until_disconnect(layer):
    frames = asyncio.Queue()
    consumer = Recorder()
    run = asyncio.ensure_future(consumer({"type": "websocket"}, frames.get, None))
    await asyncio.sleep(0.05)
    for _ in range(3):
        frames.put_nowait({"type": "websocket.receive"})
        await layer.send(consumer.channel_name, {"type": "ocpp.call"})
    await asyncio.sleep(0.3)
    frames.put_nowait({"type": "websocket.disconnect"})
    await asyncio.wait_for(run, 5)
    assert consumer.seen.count("websocket.receive") == 3
    assert consumer.seen.count("ocpp.call") == 3
    assert consumer.seen[-1] == "websocket.disconnect"


async def test_a_failing_channel_layer_ends_the_consumer_with_its_error(layer, monkeypatch):
    async def broken(channel):
        raise RuntimeError("the layer broke")

    monkeypatch.setattr(layer, "receive", broken)
    with pytest.raises(RuntimeError, match="the layer broke"):
        await asyncio.wait_for(Recorder()({"type": "websocket"}, asyncio.Queue().get, None), 5)


async def test_a_cancelled_consumer_stops_reading_both_sources(layer):
    frames = asyncio.Queue()
    consumer = Recorder()
    run = asyncio.ensure_future(consumer({"type": "websocket"}, frames.get, None))
    await asyncio.sleep(0.05)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    # Nothing reads any more: what arrives now stays where it was sent.
    frames.put_nowait({"type": "websocket.receive"})
    await layer.send(consumer.channel_name, {"type": "ocpp.call"})
    await asyncio.sleep(0.05)
    assert frames.qsize() == 1
    assert consumer.seen == []

"""The Redis channel layer, with the process-wide read made safe against cancellation.

channels_redis reads every process-local channel (one per station socket, one per
pending message-API reply) through a single blocking BZPOPMIN on the process's
specific channel, run by whichever `receive()` holds the layer's receive lock. If that
caller is cancelled while the pop is in flight (its station disconnects, or an
`asyncio.wait_for` around `receive()` times out), redis-py abandons the reply: the
message has left Redis and reaches nobody. That message may be another station's
CALL or an API reply, which then times out for no reason.

Here the read runs in a task of its own. A cancelled caller stops waiting for it but
never stops it; the next caller to take the receive lock waits for that same read, so
the message is handed on as channels_redis would have done, and there is never more
than one read in flight per channel.

While Redis is down that read waits and tries again (every RETRY_SECONDS, up to
RETRY_MAX_SECONDS) instead of failing: channels_redis would raise the connection error into
the `receive()` of whichever consumer held the read, which then ended and dropped its
station's websocket, and the next one likewise, until every station of the process was gone.
The outage is logged once, then at intervals (csms.outage.CHANNEL_LAYER).
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels_redis.core import RedisChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from csms.outage import CHANNEL_LAYER

RETRY_SECONDS = 0.5
RETRY_MAX_SECONDS = 2.0


class ChannelLayerDown(Exception):
    """The channel layer cannot be reached: nothing can be sent to another connection now."""


def is_layer_error(error: BaseException) -> bool:
    """True for the errors of an unreachable channel layer (Redis down or restarting)."""
    return isinstance(error, RedisConnectionError | RedisTimeoutError | ConnectionError) or (
        isinstance(error, OSError) and not isinstance(error, TimeoutError)
    )


async def layer_send(layer: Any, channel: str, message: dict[str, Any]) -> None:
    """`layer.send`, raising ChannelLayerDown (and recording the outage) when Redis is
    unreachable; a send that works again ends the outage."""
    try:
        await layer.send(channel, message)
    except Exception as error:
        if not is_layer_error(error):
            raise
        CHANNEL_LAYER.failed(error, "stations stay connected; calls to them fail until it is back")
        raise ChannelLayerDown(str(error)) from error
    if CHANNEL_LAYER.down:
        CHANNEL_LAYER.recovered()


class CancelSafeRedisChannelLayer(RedisChannelLayer):
    """`RedisChannelLayer` whose process-wide read survives the cancellation of its reader."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reads: dict[str, asyncio.Task[Any]] = {}

    async def receive_single(self, channel: str) -> tuple[Any, dict[str, Any]]:
        if "!" not in channel:
            # A general channel: a plain read with nothing shared across callers.
            plain: tuple[Any, dict[str, Any]] = await super().receive_single(channel)
            return plain
        read = self._reads.get(channel)
        if read is None or read.get_loop() is not asyncio.get_running_loop():
            # No read in flight, or one left behind by an event loop that has ended.
            read = asyncio.ensure_future(self._read_until_reachable(channel))
            self._reads[channel] = read
        try:
            result: tuple[Any, dict[str, Any]] = await asyncio.shield(read)
        except asyncio.CancelledError:
            # The caller stops waiting; the read goes on and the next caller takes its message.
            # Only a read cancelled itself (its event loop is closing) is dropped.
            if read.cancelled():
                self._forget(channel, read)
            raise
        except BaseException:
            self._forget(channel, read)
            raise
        self._forget(channel, read)
        return result

    async def _read_until_reachable(self, channel: str) -> tuple[Any, dict[str, Any]]:
        """The process-wide read, tried again while Redis cannot be reached."""
        delay = RETRY_SECONDS
        while True:
            try:
                result: tuple[Any, dict[str, Any]] = await super().receive_single(channel)
            except Exception as error:
                if not is_layer_error(error):
                    raise
                CHANNEL_LAYER.failed(
                    error, "stations stay connected; calls to them fail until it is back"
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            if CHANNEL_LAYER.down:
                CHANNEL_LAYER.recovered()
            return result

    async def _brpop_with_clean(self, index: int, channel: str, timeout: float) -> Any:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # A cancelled blocking read can come back empty (redis-py retries the command
            # after the connection error the cancellation leaves behind), and channels_redis
            # then reads again, for ever: honour the cancellation before the next read.
            raise asyncio.CancelledError()
        return await super()._brpop_with_clean(index, channel, timeout)

    def _forget(self, channel: str, read: asyncio.Task[Any]) -> None:
        if self._reads.get(channel) is read:
            del self._reads[channel]

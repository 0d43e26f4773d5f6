"""Serving processes as nodes of one fleet: liveness in Redis, and sweeping stations of dead ones.

Every process that serves station websockets (the `serve` command, any `CsmsServer`) is a
node. Its node id is the Redis channel layer's process prefix, which every consumer channel
of the process carries (`specific.<node>!<consumer>`), so the `channel_name` stored on a
station names the node holding its websocket. A node refreshes the Redis key
`<channel prefix>:node:<node id>` every CSMS_NODE_HEARTBEAT seconds with a time-to-live of
CSMS_NODE_TTL seconds, and each round sweeps: a station marked online on a node whose key
has expired (the process died without closing its sockets) is marked offline; the station
itself reconnects, through the load balancer, to a live node.

With the in-memory channel layer there is one process: when it starts, every station still
marked online from its previous life is marked offline.

The transport knows nothing of stations or commands: apps install sweepers with
`add_node_sweeper(fn)`, where `fn(live_channel_prefixes, before)` cleans up what dead nodes
left behind from before `before` and returns how many rows it changed: the stations app marks
offline the stations marked online whose channel name starts with none of the prefixes, the
commands app reports failed the commands a dead node was still awaiting an answer to.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from csms.outage import CHANNEL_LAYER, is_connection_error
from ocpp_router import dispatch
from ocpp_router.datetimes import utcnow
from ocpp_router.layers import is_layer_error

logger = logging.getLogger(__name__)

Sweeper = Callable[[list[str], datetime], int]
_sweepers: list[tuple[str, Sweeper]] = []


def add_node_sweeper(what: str, sweeper: Sweeper) -> None:
    """Install `sweeper`; `what` names what it marks in the log ("stations offline")."""
    _sweepers[:] = [(w, s) for w, s in _sweepers if w != what]
    _sweepers.append((what, sweeper))


def node_id() -> str:
    """This process's node id: the channels_redis process prefix ("" without Redis)."""
    return getattr(get_channel_layer(), "client_prefix", "") or ""


_serving = ""


def serving_node() -> str:
    """This process's node id if it serves stations (a NodeMonitor runs), else "": what a
    record of work awaiting an answer in this process names, so that the sweep of a dead
    node can tell it (a `manage.py` process's own waits end with that process)."""
    return _serving


def channel_prefix(node: str) -> str:
    """The start of every consumer channel name of `node` (see channels_redis new_channel)."""
    return f"specific.{node}!"


class NodeMonitor:
    """Keeps this node's liveness key fresh and sweeps stations of dead nodes."""

    def __init__(self) -> None:
        global _serving
        self.node = node_id()
        # One process without Redis: its commands still name it, for the sweep at next start.
        _serving = self.node or "local"
        self.started_at = utcnow()
        self.key_prefix = f"{getattr(get_channel_layer(), 'prefix', 'csms')}:node:"
        self._redis: Any = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start on the running event loop (the server's)."""
        if settings.CSMS_NODE_HEARTBEAT <= 0:
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="csms-node")

    async def _run(self) -> None:
        if not self.node or not settings.REDIS_URL:
            # One process, nobody else holds stations: what the database says is online
            # from before this start is stale.
            await self._sweep([], self.started_at)
            return
        from redis.asyncio import Redis

        self._redis = Redis.from_url(settings.REDIS_URL)
        logger.info("Serving as node %s", self.node)
        # After Redis was unreachable every node's key may have expired: no node is judged
        # dead until the live ones have had a full time-to-live to write theirs again.
        sweep_after = time.monotonic()
        while True:
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not is_layer_error(error):
                    logger.exception("Node %s: liveness round failed", self.node)
                else:
                    CHANNEL_LAYER.failed(error, "no node is judged dead meanwhile")
                sweep_after = time.monotonic() + settings.CSMS_NODE_TTL
                await asyncio.sleep(settings.CSMS_NODE_HEARTBEAT)
                continue
            if CHANNEL_LAYER.down:
                CHANNEL_LAYER.recovered()
            try:
                if time.monotonic() >= sweep_after:
                    await self._sweep(
                        [channel_prefix(node) for node in await self.live_nodes()],
                        # A station that connected moments ago may belong to a node that
                        # has not written its first key yet.
                        utcnow() - timedelta(seconds=settings.CSMS_NODE_TTL),
                    )
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if is_layer_error(error):
                    CHANNEL_LAYER.failed(error)
                elif not is_connection_error(error):
                    logger.exception("Node %s: liveness round failed", self.node)
            await asyncio.sleep(settings.CSMS_NODE_HEARTBEAT)

    async def beat(self) -> None:
        value = json.dumps(
            {"host": socket.gethostname(), "pid": os.getpid(), "since": self.started_at.isoformat()}
        )
        await self._redis.set(self.key_prefix + self.node, value, ex=settings.CSMS_NODE_TTL)

    async def live_nodes(self) -> list[str]:
        nodes = []
        async for key in self._redis.scan_iter(match=self.key_prefix + "*", count=1000):
            nodes.append(key.decode().removeprefix(self.key_prefix))
        return nodes

    async def _sweep(self, live_prefixes: list[str], connected_before: datetime) -> None:
        for what, sweeper in list(_sweepers):
            marked = await dispatch.run_in_worker(sweeper, live_prefixes, connected_before)
            if marked:
                logger.warning("Marked %d %s: the node that held them is gone", marked, what)

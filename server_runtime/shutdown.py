"""Stopping `serve` by signal, without cutting stations off.

Daphne stops on SIGTERM/SIGINT by cancelling every connection's application: stations see
the TCP connection drop (close code 1006, no close frame), stay `online` in the database
until the next start, and what the message log and the liveness buffer hold is lost.
`Shutdown` replaces those handlers:

- TERM, INT: fast shutdown. Stop accepting connections, send every station a close frame
  (1001 going away: stations reconnect at once, to another replica or to the next process),
  wait up to CSMS_SHUTDOWN_CLOSE_TIMEOUT seconds for the sockets to close and their
  consumers to mark the stations offline, flush the message log and liveness, exit.
- QUIT: graceful shutdown. Stop accepting; let the handlers running and the CSMS-initiated
  calls awaiting an answer finish, for at most CSMS_SHUTDOWN_GRACE seconds; then as TERM.

From the first signal on, a CSMS-initiated call that reaches a station of this process is
answered "not sent" rather than queued: its sender sends it on the station's next
connection, to another process (`ocpp_router.outbound.CallNotSent`, `commands.services`).

A second signal while stopping exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from typing import Any

from daphne.ws_protocol import WebSocketProtocol
from django.conf import settings
from twisted.internet import reactor

logger = logging.getLogger(__name__)

GOING_AWAY = 1001
FAST = (signal.SIGTERM, signal.SIGINT)
GRACEFUL = signal.SIGQUIT


def _busy() -> int:
    """Handlers running or queued, and CSMS-initiated calls awaiting a station's answer."""
    from ocpp_router import consumers, dispatch

    return dispatch.pool().busy() + consumers.calls_pending()


class Shutdown:
    def __init__(self, server: Any) -> None:
        self.server = server
        self.stopping = False
        self.exit_code = 0
        self.task: asyncio.Future[None] | None = None

    def install(self) -> None:
        """Take over the stop signals, and HUP (server_runtime.reload): call once the reactor
        runs, in the main thread."""
        for sig in (*FAST, GRACEFUL):
            signal.signal(sig, self._signalled)
        signal.signal(signal.SIGHUP, self._hangup)

    def _hangup(self, signum: int, frame: Any) -> None:
        from server_runtime.reload import on_hangup

        reactor.callFromThread(on_hangup)

    def _signalled(self, signum: int, frame: Any) -> None:
        reactor.callFromThread(self.begin, signum)

    def begin(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.stopping:
            logger.warning("%s while stopping: exiting now", name)
            reactor.stop()  # type: ignore[misc]
            return
        self.stopping = True
        graceful = signum == GRACEFUL
        logger.info(
            "%s: %s shutdown; no new connections are accepted",
            name,
            "graceful" if graceful else "fast",
        )
        for port in list(self.server.ports):
            port.stopListening()
        # New CSMS-initiated calls go to the stations' next connections, on other processes
        # (ocpp_router.outbound.CallNotSent); calls already queued or in flight still count.
        from ocpp_router import consumers

        consumers.stop_taking_calls()
        self.task = asyncio.ensure_future(self._stop(graceful))

    async def _stop(self, graceful: bool) -> None:
        try:
            if graceful:
                await _until(lambda: not _busy(), settings.CSMS_SHUTDOWN_GRACE)
                if busy := _busy():
                    logger.warning(
                        "%d handlers or calls still in flight after CSMS_SHUTDOWN_GRACE (%s s)",
                        busy,
                        settings.CSMS_SHUTDOWN_GRACE,
                    )
            closing = self._close_stations()
            await _until(lambda: not self._open(), settings.CSMS_SHUTDOWN_CLOSE_TIMEOUT)
            left = self._open()
            logger.info(
                "Closed %d station connections (1001 going away)%s",
                closing - left,
                f"; {left} did not close within CSMS_SHUTDOWN_CLOSE_TIMEOUT" if left else "",
            )
            await asyncio.get_running_loop().run_in_executor(None, _flush)
        except Exception:
            logger.exception("Shutdown did not finish cleanly")
            self.exit_code = 1
        finally:
            reactor.stop()  # type: ignore[misc]

    def _close_stations(self) -> int:
        closing = 0
        for protocol in list(self.server.connections):
            if isinstance(protocol, WebSocketProtocol) and protocol.state == protocol.STATE_OPEN:
                # sendCloseFrame: autobahn's sendClose lets an application send only 1000
                # and 3000-4999; 1001 is the server's own code (RFC 6455 section 7.4.1).
                protocol.sendCloseFrame(code=GOING_AWAY, reasonUtf8=b"CSMS shutting down")
                closing += 1
        return closing

    def _open(self) -> int:
        """Connections whose socket or application has not finished yet."""
        return sum(
            1
            for protocol, details in list(self.server.connections.items())
            if isinstance(protocol, WebSocketProtocol)
            and (
                "disconnected" not in details or not _finished(details.get("application_instance"))
            )
        )


async def _until(condition: Callable[[], bool], seconds: float) -> None:
    """Poll `condition` for at most `seconds`: what it reads (Daphne's connection table, the
    handler pool's counters) signals no event to wait for."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def _finished(application: Any) -> bool:
    return application is None or application.done()


def _flush() -> None:
    """What is buffered in memory goes to the database before the process exits."""
    from django.db import close_old_connections

    from stations.liveness import BUFFER
    from stations.message_log import message_log

    try:
        message_log.flush()
        BUFFER.flush()
    finally:
        close_old_connections()

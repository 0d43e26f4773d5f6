"""Slow handshakes bounded: the line and headers of every HTTP request (a websocket upgrade
included) must arrive within CSMS_HANDSHAKE_TIMEOUT seconds, and one source address holds at
most CSMS_HANDSHAKE_MAX_PER_SOURCE connections whose request head has not arrived yet. (The
opening handshake after the upgrade, the station's admission, is bounded by
CSMS_WS_HANDSHAKE_TIMEOUT; a request body, such as a diagnostics upload, by Twisted's idle
timeout.)

Twisted's HTTP server only times out an idle connection (60 s without a byte): a client that
sends one header line every 20 s ("slowloris") holds its socket for ever. Measured on stock
Daphne: 2,000 of 2,000 such connections still open after 150 s, and at 1,024 file
descriptors new stations failed with HTTP 500. Here a connection whose request head is not
complete in time is closed, and a source already holding its share of unfinished requests
has further connections closed at once. Addresses in CSMS_TRUSTED_PROXIES (a load balancer
that carries every station's connection) count for no limit; their requests still have
the deadline. Between two requests of a keep-alive connection Twisted's idle timeout applies.

What the guard closes is logged at most once per CSMS_OUTAGE_LOG_INTERVAL (with counts),
not per connection.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import defaultdict
from functools import cache
from typing import Any

from daphne.http_protocol import HTTPFactory, WebRequest
from django.conf import settings
from twisted.internet import reactor

logger = logging.getLogger(__name__)


@cache
def _networks(entries: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def is_trusted_proxy(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(settings.CSMS_TRUSTED_PROXIES)))


class HandshakeGuard:
    """Deadlines of the connections whose request is still arriving, counted per source."""

    def __init__(self) -> None:
        self.pending: dict[str, int] = defaultdict(int)
        # channel -> (source, deadline timer)
        self._open: dict[Any, tuple[str, Any]] = {}
        self.closed_slow = 0
        self.refused = 0
        self._logged = 0.0

    def admits(self, host: str) -> bool:
        limit = settings.CSMS_HANDSHAKE_MAX_PER_SOURCE
        if limit <= 0 or self.pending.get(host, 0) < limit or is_trusted_proxy(host):
            return True
        self.refused += 1
        self._note(
            "Refused a connection from %s: %d requests from it are still arriving "
            "(CSMS_HANDSHAKE_MAX_PER_SOURCE=%d); %d refused so far",
            host,
            self.pending.get(host, 0),
            limit,
            self.refused,
        )
        return False

    def begin(self, channel: Any, host: str) -> None:
        """A request starts arriving on `channel` (a new connection or the next request)."""
        if channel in self._open or settings.CSMS_HANDSHAKE_TIMEOUT <= 0:
            return
        timeout = settings.CSMS_HANDSHAKE_TIMEOUT
        timer = reactor.callLater(timeout, self._expire, channel)  # type: ignore[arg-type]
        self._open[channel] = (host, timer)
        self.pending[host] += 1

    def end(self, channel: Any) -> None:
        """The request head arrived (or the connection ended)."""
        entry = self._open.pop(channel, None)
        if entry is None:
            return
        host, timer = entry
        if timer.active():
            timer.cancel()
        self._forget(host)
        # The connectionLost hook below refers to the channel: a cycle, cut here.
        vars(channel).pop("connectionLost", None)

    def _forget(self, host: str) -> None:
        self.pending[host] -= 1
        if self.pending[host] <= 0:
            del self.pending[host]

    def _expire(self, channel: Any) -> None:
        entry = self._open.pop(channel, None)
        if entry is None:
            return
        host, _ = entry
        self._forget(host)
        self.closed_slow += 1
        self._note(
            "Closed a connection from %s: its request head did not arrive within "
            "CSMS_HANDSHAKE_TIMEOUT=%g s; %d closed so far",
            host,
            settings.CSMS_HANDSHAKE_TIMEOUT,
            self.closed_slow,
        )
        transport = getattr(channel, "transport", None)
        if transport is not None:
            transport.abortConnection()

    def _note(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._logged >= settings.CSMS_OUTAGE_LOG_INTERVAL or not self._logged:
            self._logged = now
            logger.warning(message, *args)


class GuardedWebRequest(WebRequest):
    """Daphne's request: once its line and headers have arrived, its deadline ends."""

    def __init__(self, channel: Any, *args: Any, **kwargs: Any) -> None:
        guard: HandshakeGuard | None = getattr(channel, "csms_guard", None)
        if guard is not None:
            # The next request of a keep-alive connection has its own deadline.
            guard.begin(channel, getattr(channel, "csms_host", ""))
        super().__init__(channel, *args, **kwargs)

    def process(self) -> Any:
        result = super().process()
        if self.transport is None and self.channel is not None:
            # Upgraded to a websocket: the HTTP channel and this request are done with, but
            # hold each other (channel.requests, request.channel) in a cycle.
            self.channel.requests.clear()
        return result

    def gotLength(self, length: int | None) -> None:
        # Twisted calls this once every header has arrived, before the body.
        guard: HandshakeGuard | None = getattr(self.channel, "csms_guard", None)
        if guard is not None:
            guard.end(self.channel)
        super().gotLength(length)


class GuardedHTTPFactory(HTTPFactory):
    """Daphne's HTTP factory with the handshake guard (see the module docstring)."""

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        self.guard = HandshakeGuard()

    def buildProtocol(self, addr: Any) -> Any:
        host = str(getattr(addr, "host", ""))
        if not self.guard.admits(host):
            return None  # Twisted closes the connection at once
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = GuardedWebRequest
        channel = getattr(protocol, "_channel", protocol)
        channel.requestFactory = GuardedWebRequest
        channel.csms_guard = self.guard
        channel.csms_host = host
        self.guard.begin(channel, host)
        lost = channel.connectionLost

        def connection_lost(reason: Any) -> None:
            self.guard.end(channel)
            lost(reason)

        channel.connectionLost = connection_lost
        return protocol

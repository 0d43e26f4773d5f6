"""Daphne as OCPP needs it.

Stock Daphne (4.2) closes every websocket after a day, refuses every upgrade with 403 and
never negotiates permessage-deflate. `CsmsServer` keeps station sockets open for as long as
they answer pings, lets the consumer refuse a handshake with the HTTP status it names
(401, 404, ...), and accepts permessage-deflate (OCPP 2.0.1 Part 4 section 3.4: the CSMS
SHALL support RFC 7692). Our `runserver` and `serve` commands use it.
"""

from __future__ import annotations

import logging
from typing import Any

from autobahn.websocket.compress import (
    PerMessageDeflateOffer,
    PerMessageDeflateOfferAccept,
)
from autobahn.websocket.types import ConnectionDeny
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from django.conf import settings

logger = logging.getLogger(__name__)

# A consumer refusing a handshake closes with 4000 + the HTTP status it wants answered.
REFUSAL_CLOSE_BASE = 4000


def refusal_close_code(http_status: int) -> int:
    return REFUSAL_CLOSE_BASE + http_status


class CsmsWebSocketProtocol(WebSocketProtocol):
    def handle_reply(self, message: dict[str, Any]) -> None:
        code = message.get("code") or 0
        if (
            message.get("type") == "websocket.close"
            and self.state == self.STATE_CONNECTING
            and REFUSAL_CLOSE_BASE + 400 <= code < REFUSAL_CLOSE_BASE + 600
        ):
            self.serverRejectWith(code - REFUSAL_CLOSE_BASE)
            return
        super().handle_reply(message)

    def serverRejectWith(self, status: int) -> None:
        reasons = {401: "Unauthorized", 404: "Not Found", 400: "Bad Request", 409: "Conflict"}
        self.handshake_deferred.errback(
            ConnectionDeny(code=status, reason=reasons.get(status, "Refused"))
        )
        del self.handshake_deferred
        self.server.protocol_disconnected(self)
        self.server.log_action(
            "websocket",
            "rejected",
            {
                "path": self.request.path,
                "client": "{}:{}".format(*self.client_addr) if self.client_addr else None,
            },
        )


# permessage-deflate keeps a compressor and a decompressor per connection for its lifetime.
# With zlib's defaults (32 KiB windows, memLevel 8) that is about 300 KiB per station, ten
# times an idle connection. OCPP frames are a few hundred bytes to a few KiB: a 1 KiB window
# and memLevel 4 compress them almost as well, in about 20 KiB.
DEFLATE_WINDOW_BITS = 10
DEFLATE_MEM_LEVEL = 4


def accept_deflate(offers: list[Any]) -> PerMessageDeflateOfferAccept | None:
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            window_bits = DEFLATE_WINDOW_BITS
            if offer.request_max_window_bits:
                window_bits = min(window_bits, offer.request_max_window_bits)
            return PerMessageDeflateOfferAccept(
                offer,
                # The station's compressor (our decompressor): only if it lets us choose.
                request_max_window_bits=DEFLATE_WINDOW_BITS if offer.accept_max_window_bits else 0,
                window_bits=window_bits,
                mem_level=DEFLATE_MEM_LEVEL,
            )
    return None


class CsmsServer(Server):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Station sockets stay open for as long as they answer pings.
        kwargs.setdefault("websocket_timeout", -1)
        kwargs.setdefault("ping_interval", settings.CSMS_WS_PING_INTERVAL)
        kwargs.setdefault("ping_timeout", settings.CSMS_WS_PING_TIMEOUT)
        # Daphne's default of 5 s drops handshakes queued behind a reconnect storm.
        kwargs.setdefault("websocket_handshake_timeout", settings.CSMS_WS_HANDSHAKE_TIMEOUT)
        kwargs.setdefault("websocket_connect_timeout", settings.CSMS_WS_HANDSHAKE_TIMEOUT)
        ready = kwargs.pop("ready_callable", None)

        def on_ready() -> None:
            from twisted.internet import reactor

            from ocpp_router.nodes import NodeMonitor

            self.ws_factory.protocol = CsmsWebSocketProtocol
            self.ws_factory.setProtocolOptions(perMessageCompressionAccept=accept_deflate)
            # Liveness of this process as a node of the fleet (ocpp_router.nodes); started
            # once the reactor's event loop runs.
            self.node_monitor = NodeMonitor()
            reactor.callLater(0, self.node_monitor.start)
            if ready:
                ready()

        super().__init__(*args, ready_callable=on_ready, **kwargs)

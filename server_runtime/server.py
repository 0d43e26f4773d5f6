"""Daphne as OCPP needs it (the ASGI extensions of ocpp_router.extensions).

Importing this module adjusts autobahn for every server of the process (lazy debug
formatting, a cheaper frame unmasker): only the server runtime imports it, never the
transport.

Stock Daphne (4.2) closes every websocket after a day, refuses every upgrade with 403 and
never negotiates permessage-deflate. `CsmsServer` keeps station sockets open for as long as
they answer pings, lets the consumer refuse a handshake with the HTTP status it names
(401, 404, ...), and accepts permessage-deflate (OCPP 2.0.1 Part 4 section 3.4: the CSMS
SHALL support RFC 7692). Our `runserver` and `serve` commands use it.

Security profiles 2 and 3 need to know, in the handshake, whether the socket is TLS and
which client certificate it presented; Daphne puts neither in the ASGI scope. `CsmsServer`
adds `scope["extensions"]["tls"]` (see `tls_scope`) and the peer address the socket really
comes from (`scope["extensions"]["csms.peer"]`, before any X-Forwarded-For rewriting). It
also serves `mtls:` endpoints: TLS that asks every client for a certificate and verifies it
against a CA file (`mtls:port=9443:privateKey=key.pem:certKey=cert.pem:caCerts=ca.pem`),
optionally with a second certificate of the other key type (`secondPrivateKey=`,
`secondCertKey=`) so that both ECDSA and RSA cipher suites handshake (A00.FR.318).
A certificate that fails verification does not fail the TLS handshake: the verdict goes into
the scope, so that the connection gate refuses the upgrade with 401 and records why.

The consumer may ask for a websocket ping (`{"type": "websocket.ping"}`, advertised as the
ASGI extension "websocket.ping") and gets `{"type": "websocket.pong"}` when the station
answers: how a second connection with the same id learns whether the first is alive.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import pprint
import socket
import time
from collections.abc import Callable
from typing import Any

from autobahn import util as autobahn_util
from autobahn.twisted import websocket as autobahn_twisted
from autobahn.websocket import protocol as autobahn_protocol
from autobahn.websocket.compress import (
    PerMessageDeflateOffer,
    PerMessageDeflateOfferAccept,
)
from autobahn.websocket.types import ConnectionDeny
from daphne.http_protocol import HTTPFactory
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from django.conf import settings
from OpenSSL import SSL, crypto
from twisted.internet import reactor, ssl, tcp
from twisted.internet.endpoints import AdoptedStreamServerEndpoint, SSL4ServerEndpoint
from twisted.internet.interfaces import ISSLTransport

from ocpp_router.extensions import PEER, PING, REFUSAL_CLOSE_BASE, REFUSAL_HEADERS, TLS
from server_runtime.handshakes import GuardedHTTPFactory
from server_runtime.shutdown import Shutdown

logger = logging.getLogger(__name__)

# Payload of the pings a consumer asks for, so that Daphne's own keep-alive pongs are not
# mistaken for answers.
PROBE_PING = b"csms-probe"


def _lazily(format_: Callable[..., str]) -> type:
    """`format_` as a class whose instances format only if their text is ever wanted."""

    class Lazy:
        __slots__ = ("args",)

        def __init__(self, *args: Any):
            self.args = args

        def __str__(self) -> str:
            return format_(*self.args)

        def __format__(self, spec: str) -> str:
            return format(str(self), spec)

        __repr__ = __str__

    return Lazy


# autobahn builds the arguments of its debug lines before the log level is looked at: it
# pretty-prints every new connection's ~40 settings (12% of the CPU of a reconnect storm)
# and colours a function name and a byte count for every frame in and out (6% of the CPU
# of a steady message flow). Formatted lazily, the lines are unchanged when debug logging
# is on and cost next to nothing when it is off.
autobahn_protocol.pformat = _lazily(pprint.pformat)  # type: ignore[attr-defined]
for _module in (autobahn_protocol, autobahn_twisted):
    _module.hltype = _lazily(autobahn_util.hltype)  # type: ignore[attr-defined]
    _module.hlval = _lazily(autobahn_util.hlval)  # type: ignore[attr-defined]


class XorMasker:
    """Unmasks a station's websocket frame as one integer XOR (RFC 6455 section 5.3).

    autobahn's native masker allocates C buffers through CFFI for every frame, which cost
    more than the XOR itself on OCPP's frames of a few hundred bytes. Frames may arrive in
    pieces: `pointer` keeps the position in the 4-byte key.
    """

    __slots__ = ("_mask", "_ptr")

    def __init__(self, mask: bytes, length: int | None = None):
        self._mask = bytes(mask)
        self._ptr = 0

    def pointer(self) -> int:
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0

    def process(self, data: bytes) -> bytes:
        size = len(data)
        shift = self._ptr % 4
        key = (self._mask[shift:] + self._mask[:shift]) * (size // 4 + 1)
        self._ptr += size
        masked = int.from_bytes(data, "big") ^ int.from_bytes(key[:size], "big")
        return masked.to_bytes(size, "big")


autobahn_protocol.create_xor_masker = XorMasker  # type: ignore[attr-defined]


def write_at_once(transport: tcp.Connection, data: bytes) -> None:
    """`transport.write`, sending at once what fits in the socket when nothing is queued.

    Twisted's write only queues: it registers the socket for writability (an epoll_ctl
    call), sends on the next turn of the event loop, and unregisters it (another). Every
    answer to a station paid those two system calls and an extra turn of the loop, about a
    tenth of the event loop's time in a steady message flow. What does not fit, or anything
    written while earlier data is still queued, takes Twisted's own path, in order.
    """
    if (
        data
        and transport.connected
        and not transport.disconnecting
        and not transport._writeDisconnected
        and not transport.TLS
        and not transport.dataBuffer
        and not transport._tempDataBuffer
    ):
        try:
            sent = transport.socket.send(data)
        except OSError:
            # Would block, or the socket failed: Twisted's write path sees and handles it.
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    tcp.Connection.write(transport, data)


# What a closed connection's objects hold of one another, in cycles: the transport's own
# `write` (write_at_once bound to it), autobahn's is_open/is_closed futures and Daphne's
# application Deferred whose callbacks are the protocol's methods. A station's connection
# lives for hours, so these objects are frozen (server_runtime.gc_policy) long before it
# closes, and only a full collection (seconds with 10,000 stations) could free the cycles:
# memory rose by 200 MB over 12,000 dropped connections. Cut once the connection is gone,
# reference counting frees them at once.
RELEASED_ATTRIBUTES = ("is_open", "is_closed", "application_deferred", "handshake_deferred")


def release(protocol: Any) -> None:
    """Cut the reference cycles of a websocket connection Daphne has finished with."""
    attributes = getattr(protocol, "__dict__", {})
    transport = attributes.get("transport")
    if transport is not None:
        getattr(transport, "__dict__", {}).pop("write", None)
    for name in RELEASED_ATTRIBUTES:
        if name in attributes:
            attributes[name] = None


class CsmsWebSocketProtocol(WebSocketProtocol):
    def connectionMade(self) -> None:
        super().connectionMade()
        if isinstance(self.transport, tcp.Connection):
            self.transport.write = functools.partial(write_at_once, self.transport)  # type: ignore[method-assign]

    def handle_reply(self, message: dict[str, Any]) -> None:
        if message.get("type") == "websocket.ping":
            if self.state == self.STATE_OPEN:
                self.sendPing(PROBE_PING)
            return
        code = message.get("code") or 0
        if (
            message.get("type") == "websocket.close"
            and self.state == self.STATE_CONNECTING
            and REFUSAL_CLOSE_BASE + 400 <= code < REFUSAL_CLOSE_BASE + 600
        ):
            self.refusal_headers = [
                (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
                for name, value in message.get(REFUSAL_HEADERS) or ()
            ]
            self.serverRejectWith(code - REFUSAL_CLOSE_BASE)
            return
        super().handle_reply(message)

    def onPong(self, payload: bytes) -> None:
        if payload == PROBE_PING and hasattr(self, "application_queue"):
            self.application_queue.put_nowait({"type": "websocket.pong"})

    def failHandshake(
        self, reason: str, code: int = 400, responseHeaders: list[tuple[str, str]] | None = None
    ) -> None:
        # autobahn answers a denied handshake without headers: add the consumer's
        # (Retry-After on 429).
        headers = [*(responseHeaders or []), *getattr(self, "refusal_headers", [])]
        super().failHandshake(reason, code, headers or None)

    def serverRejectWith(self, status: int) -> None:
        reasons = {
            400: "Bad Request",
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not Found",
            409: "Conflict",
            429: "Too Many Requests",
            500: "Internal Server Error",
            503: "Service Unavailable",
        }
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


# The OpenSSL verify errors a station's certificate meets most (X509_V_ERR_*).
VERIFY_ERRORS = {
    2: "unable to get issuer certificate",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    26: "unsupported certificate purpose",
}


def _record_verification(
    connection: SSL.Connection, certificate: Any, errno: int, depth: int, ok: int
) -> bool:
    """OpenSSL verify callback of `mtls:` endpoints: note failures, never abort the handshake."""
    if not ok:
        failures = getattr(connection, "csms_verify_failures", None)
        if failures is None:
            failures = []
            connection.csms_verify_failures = failures  # type: ignore[attr-defined]
        reason = VERIFY_ERRORS.get(errno, f"X509 verify error {errno}")
        failures.append(f"{reason} (depth {depth})")
    return True


class ClientCertificateOptions(ssl.CertificateOptions):
    """TLS context asking for (not requiring) a client certificate, checked against the CA file.

    `second_identity` is a certificate and key of the other key type (RSA beside ECDSA):
    OpenSSL keeps one certificate per key type and picks the one the client's cipher suite
    needs. OCPP 2.0.1 A00.FR.318 requires the CSMS to offer two ECDHE-ECDSA and two plain
    RSA suites, which no single certificate can serve.
    """

    def __init__(self, *args: Any, second_identity: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.second_identity = second_identity

    def _makeContext(self, skipCiphers: bool = False) -> SSL.Context:
        context = super()._makeContext(skipCiphers)
        if self.second_identity is not None:
            context.use_certificate(self.second_identity.original)
            context.use_privatekey(self.second_identity.privateKey.original)
            context.check_privatekey()
        # Profile 2 stations on the same port send no certificate: request, do not require.
        context.set_verify(SSL.VERIFY_PEER, _record_verification)
        return context


def parse_mtls_endpoint(description: str) -> dict[str, str]:
    """`mtls:port=9443:interface=...:privateKey=...:certKey=...:caCerts=...` -> its fields."""
    fields: dict[str, str] = {}
    for index, part in enumerate(description.split(":")[1:]):
        key, sep, value = part.partition("=")
        if not sep:
            if index == 0:
                fields["port"] = key
                continue
            raise ValueError(f"Malformed mtls endpoint part {part!r}")
        fields[key] = value
    missing = {"port", "privateKey", "caCerts"} - set(fields)
    if missing:
        raise ValueError(f"mtls endpoint lacks {', '.join(sorted(missing))}")
    fields.setdefault("certKey", fields["privateKey"])
    return fields


def _identity(cert_path: str, key_path: str) -> ssl.PrivateCertificate:
    with open(cert_path, "rb") as cert_file, open(key_path, "rb") as key_file:
        identity: ssl.PrivateCertificate = ssl.PrivateCertificate.loadPEM(
            cert_file.read() + b"\n" + key_file.read()
        )
    return identity


def _key_type(identity: ssl.PrivateCertificate) -> str:
    return {crypto.TYPE_RSA: "RSA", crypto.TYPE_EC: "ECDSA"}.get(
        identity.privateKey.original.type(), "other"
    )


def mtls_endpoint(description: str) -> SSL4ServerEndpoint:
    fields = parse_mtls_endpoint(description)
    identity = _identity(fields["certKey"], fields["privateKey"])
    second_identity = None
    if fields.get("secondPrivateKey"):
        second_identity = _identity(
            fields.get("secondCertKey", fields["secondPrivateKey"]), fields["secondPrivateKey"]
        )
        if _key_type(second_identity) == _key_type(identity):
            raise ValueError(
                "mtls endpoint: secondPrivateKey/secondCertKey must be of the other key type "
                f"than privateKey/certKey (both are {_key_type(identity)}); give one RSA and "
                "one ECDSA certificate"
            )
    with open(fields["caCerts"], "rb") as ca_file:
        ca_pem = ca_file.read()
    marker = b"-----END CERTIFICATE-----"
    authorities = [
        ssl.Certificate.loadPEM(block + marker).original
        for block in ca_pem.split(marker)
        if b"-----BEGIN CERTIFICATE-----" in block
    ]
    chain = []
    if fields.get("extraCertChain"):
        with open(fields["extraCertChain"], "rb") as chain_file:
            chain = [
                ssl.Certificate.loadPEM(block + marker).original
                for block in chain_file.read().split(marker)
                if b"-----BEGIN CERTIFICATE-----" in block
            ]
    options = ClientCertificateOptions(
        privateKey=identity.privateKey.original,
        certificate=identity.original,
        extraCertChain=chain or None,
        verify=True,
        caCerts=authorities,
        requireCertificate=False,
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
        second_identity=second_identity,
    )
    return SSL4ServerEndpoint(
        reactor, int(fields["port"]), options, interface=fields.get("interface", "")
    )


def tls_scope(transport: Any) -> dict[str, Any] | None:
    """What the handshake needs to know of a TLS socket, or None for plain TCP.

    `client_cert_cn` is the subject CN of the client certificate when one was presented;
    `client_cert_verified` whether it chains to the CA of an `mtls:` endpoint (always False
    on plain `ssl:` endpoints, which do not ask for certificates).
    """
    if not ISSLTransport.providedBy(transport):
        return None
    connection = transport.getHandle()
    certificate = transport.getPeerCertificate()
    common_name = ""
    if certificate is not None:
        common_name = certificate.get_subject().CN or ""
    failures = list(getattr(connection, "csms_verify_failures", []) or [])
    asks_for_certificates = bool(connection.get_context().get_verify_mode() & SSL.VERIFY_PEER)
    return {
        "tls_version": connection.get_protocol_version_name(),
        "client_cert_cn": common_name,
        "client_cert_verified": certificate is not None and asks_for_certificates and not failures,
        "client_cert_problem": "; ".join(failures)
        if failures
        else ("" if certificate is not None else "no client certificate"),
    }


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


# Daphne checks every connection's timeouts and pings every TIMEOUT_PERIOD seconds; we do it
# in TIMEOUT_SLICES parts (see CsmsServer.timeout_checker).
TIMEOUT_PERIOD = 2.0
TIMEOUT_SLICES = 20
# Likewise its reaping of finished applications, every REAP_PERIOD seconds.
REAP_PERIOD = 1.0
REAP_SLICES = 10


_sampling: set[asyncio.Task[None]] = set()


def _start_sampling() -> None:
    """The in-memory gauges of /metrics, refreshed on the server's loop (no I/O)."""
    from server_runtime.metrics import sample_forever

    if settings.CSMS_METRICS and settings.CSMS_METRICS_SAMPLE_SECONDS > 0:
        task = asyncio.get_running_loop().create_task(sample_forever(), name="csms-metrics")
        _sampling.add(task)


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
        # Why an endpoint could not listen: `serve` exits non-zero with it (Daphne logs and
        # stops with status 0).
        self.listen_failures: list[str] = []
        # The listening ports, closed first when the server stops.
        self.ports: list[Any] = []
        self.shutdown = Shutdown(self)
        # Sockets already listening (`serve --reuse-port`): served as they are.
        shared: list[socket.socket] = kwargs.pop("sockets", [])

        def on_ready() -> None:
            from server_runtime.nodes import NodeMonitor

            self.ws_factory.protocol = CsmsWebSocketProtocol
            self.ws_factory.setProtocolOptions(perMessageCompressionAccept=accept_deflate)
            for description in self.mtls_endpoints:
                logger.info("Configuring endpoint %s", description.split(":privateKey")[0])
                listener = mtls_endpoint(description).listen(self.http_factory)
                listener.addCallback(self.listen_success)
                listener.addErrback(self.listen_error)
                self.listeners.append(listener)
            for sock in shared:
                adopted = AdoptedStreamServerEndpoint(reactor, sock.fileno(), sock.family)
                listener = adopted.listen(self.http_factory)
                listener.addCallback(self.listen_success)
                listener.addErrback(self.listen_error)
                self.listeners.append(listener)
            # Liveness of this process as a node of the fleet (server_runtime.nodes); started
            # once the reactor's event loop runs.
            self.node_monitor = NodeMonitor()
            reactor.callLater(0, self.node_monitor.start)  # type: ignore[arg-type]
            reactor.callLater(0, _start_sampling)  # type: ignore[arg-type]
            if ready:
                ready()

        # Daphne refuses to start without endpoint strings: the shared sockets count too.
        own = [f"socket:{sock.fileno()}" for sock in shared]
        kwargs["endpoints"] = [*kwargs.get("endpoints", []), *own]
        super().__init__(*args, ready_callable=on_ready, **kwargs)
        self._timeout_round: list[Any] = []
        self._timeout_next = 0
        self._reap_round: list[Any] = []
        self._reap_next = 0
        # Daphne builds endpoints with Twisted's serverFromString, which knows no client
        # certificates: `mtls:` endpoints are ours.
        endpoints: list[str] = [str(e) for e in self.endpoints]  # type: ignore[has-type]
        self.mtls_endpoints: list[str] = [e for e in endpoints if e.startswith("mtls:")]
        self.endpoints = [e for e in endpoints if not e.startswith("mtls:") and e not in own]

    # Daphne's run() makes its HTTP factory and listens at once: the guarded factory takes its
    # place (slow handshakes bounded, server_runtime.handshakes).
    @property
    def http_factory(self) -> Any:
        return self._http_factory

    @http_factory.setter
    def http_factory(self, factory: Any) -> None:
        if type(factory) is HTTPFactory:
            factory = GuardedHTTPFactory(self)
        self._http_factory = factory

    def listen_success(self, port: Any) -> None:
        self.ports.append(port)
        super().listen_success(port)

    def listen_error(self, failure: Any) -> None:
        self.listen_failures.append(failure.getErrorMessage())
        super().listen_error(failure)

    def run(self) -> None:
        if self.signal_handlers:
            # TERM/INT/QUIT close the stations' sockets first (server_runtime.shutdown).
            reactor.callWhenRunning(self.shutdown.install)
        super().run()

    def timeout_checker(self) -> None:
        """Daphne's timeout and keep-alive ping check, spread over its 2 s period.

        Daphne visits every connection at once every 2 s: with 10,000 stations that is a
        stall of a hundred milliseconds or more (the pings of a tenth of them included)
        that every station's answer waits behind. Each connection is still visited every
        2 s, a twentieth of them every 0.1 s.
        """
        if self._timeout_next >= len(self._timeout_round):
            self._timeout_round = list(self.connections.keys())
            self._timeout_next = 0
        step = max(1, -(-len(self._timeout_round) // TIMEOUT_SLICES))
        chunk = self._timeout_round[self._timeout_next : self._timeout_next + step]
        self._timeout_next += step
        for protocol in chunk:
            if protocol in self.connections:
                protocol.check_timeouts()
        self._schedule(TIMEOUT_PERIOD / TIMEOUT_SLICES, self.timeout_checker)

    def application_checker(self) -> None:
        """Daphne's reaping of finished application instances, spread over its 1 s period as
        `timeout_checker` is: a tenth of the connections every 0.1 s."""
        if self._reap_next >= len(self._reap_round):
            self._reap_round = list(self.connections.keys())
            self._reap_next = 0
        step = max(1, -(-len(self._reap_round) // REAP_SLICES))
        chunk = self._reap_round[self._reap_next : self._reap_next + step]
        self._reap_next += step
        for protocol in chunk:
            details = self.connections.get(protocol)
            if details is not None:
                self._reap(protocol, details)
        self._schedule(REAP_PERIOD / REAP_SLICES, self.application_checker)

    def _reap(self, protocol: Any, details: dict[str, Any]) -> None:
        """What Daphne's `application_checker` does for one connection (Daphne 4.2)."""
        disconnected = details.get("disconnected")
        instance = details.get("application_instance")
        # An application that outlives its connection by too long is cancelled.
        if disconnected and time.time() - disconnected > self.application_close_timeout:
            if instance and not instance.done():
                logger.warning(
                    "Application instance %r for connection %r took too long to shut down "
                    "and was killed.",
                    instance,
                    protocol,
                )
                instance.cancel()
        if instance and instance.done():
            try:
                exception = instance.exception()
            except asyncio.CancelledError:
                exception = None
            if isinstance(exception, KeyboardInterrupt):
                self.stop()
            elif exception is not None:
                logger.error("Exception inside application: %s", exception, exc_info=exception)
                if not disconnected:
                    protocol.handle_exception(exception)
            del details["application_instance"]
            instance = None
        if not instance and disconnected:
            del self.connections[protocol]
            release(protocol)

    def _schedule(self, delay: float, func: Any) -> None:
        reactor.callLater(delay, func)  # type: ignore[arg-type]

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        if scope.get("type") == "websocket" and protocol.transport is not None:
            peer = protocol.transport.getPeer()
            extensions = scope.setdefault("extensions", {})
            extensions[PING] = {}
            extensions[PEER] = {"host": str(getattr(peer, "host", ""))}
            tls = tls_scope(protocol.transport)
            if tls is not None:
                extensions[TLS] = tls
        return super().create_application(protocol, scope)

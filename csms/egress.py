"""Who the CSMS may send HTTP requests to: one allowlist for every URL a user, an
integrator or a station chose (command callbacks, event subscriptions, integrator webhooks,
OCSP responders and CRLs named by stations).

Two settings decide:

- `CSMS_OUTBOUND_ALLOWED_HOSTS` (read from `CSMS_CALLBACK_ALLOWED_HOSTS` when unset): the
  host names a URL may name (`hooks.example.com`, `.example.com` with its subdomains, an IP
  address, `*`); empty lets any name through.
- `CSMS_OUTBOUND_ALLOWED_NETWORKS`: the addresses outside the public internet a host may
  resolve to (`127.0.0.1`, `10.20.0.0/16`, `fd00::/8`). Loopback, private, link-local,
  shared, multicast, unspecified and reserved addresses (IPv4 and IPv6, IPv4-mapped and
  NAT64 forms unwrapped) are refused unless listed.

Names are checked on the address they resolve to, not on their spelling, and at the time
of the request: the client from `async_client()`/`client()` resolves, checks every address
and connects to a checked one (never resolving twice, so a DNS answer that changes between
check and connection cannot aim it elsewhere), and TLS still verifies the name. Saving a
URL runs the same check (`validate_url`) for a clear error in the API and the admin.
Numeric spellings (`2130706433`, `0x7f.1`) resolve as the system resolver reads them and
are refused as the address they mean. The clients follow no redirects and use no proxy
from the environment.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from functools import cache

import anyio
import httpcore
import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http.request import validate_host

HOSTS_SETTING = "CSMS_OUTBOUND_ALLOWED_HOSTS"
NETWORKS_SETTING = "CSMS_OUTBOUND_ALLOWED_NETWORKS"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class NotResolved(httpcore.ConnectError):
    """The URL's host does not resolve."""


class Refused(httpcore.ConnectError):
    """The URL's host, or an address it resolves to, is not allowed. Raised as a connect
    error, so every caller already handling httpx errors records it as a failed attempt."""


@cache
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _unwrapped(address: Address) -> Address:
    """The IPv4 address an IPv6 one stands for (::ffff:a.b.c.d, 64:ff9b::a.b.c.d,
    2002:aabb:ccdd::), or the address itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def is_public(address: Address) -> bool:
    """Whether `address` is on the public internet (not loopback, private, link-local,
    shared, multicast, unspecified or reserved)."""
    address = _unwrapped(address)
    if (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or not address.is_global
    ):
        return False
    return not (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)


def address_problem(address: Address) -> str:
    """Why the CSMS may not connect to `address` ("" if it may)."""
    if is_public(address):
        return ""
    listed = _networks(tuple(settings.CSMS_OUTBOUND_ALLOWED_NETWORKS))
    if any(address in network or _unwrapped(address) in network for network in listed):
        return ""
    return (
        f"{address} is not a public address (loopback, private, link-local or reserved): "
        f"list its network in {NETWORKS_SETTING} to allow it"
    )


def host_problem(host: str) -> str:
    """Why the CSMS may not send to `host` by name ("" if it may)."""
    allowed = settings.CSMS_OUTBOUND_ALLOWED_HOSTS
    if not host:
        return "the URL names no host"
    if allowed and not validate_host(host.lower().rstrip("."), allowed):
        return f"the host {host} is not in {HOSTS_SETTING}"
    return ""


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _checked(host: str, infos: typing.Iterable[tuple[typing.Any, ...]]) -> list[str]:
    """The addresses of `host` to connect to, all allowed; raises Refused."""
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise Refused(f"{host} resolves to no address")
    for text in addresses:
        problem = address_problem(ipaddress.ip_address(text.split("%")[0]))
        if problem:
            # Any address refused refuses the host: a name resolving to both a public and
            # an internal address is the shape of a rebinding attack.
            raise Refused(f"{host}: {problem}")
    return addresses


def resolve(host: str, port: int) -> list[str]:
    """The allowed addresses of `host` (blocking); raises Refused."""
    problem = host_problem(host)
    if problem:
        raise Refused(problem)
    literal = _literal(host)
    if literal is not None:
        return _checked(host, [(None, None, None, None, (str(literal), port))])
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise NotResolved(f"{host} does not resolve: {exc}") from exc
    return _checked(host, infos)


async def resolve_async(host: str, port: int) -> list[str]:
    problem = host_problem(host)
    if problem:
        raise Refused(problem)
    literal = _literal(host)
    if literal is not None:
        return _checked(host, [(None, None, None, None, (str(literal), port))])
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise NotResolved(f"{host} does not resolve: {exc}") from exc
    return _checked(host, infos)


def url_problem(url: str) -> str:
    """Why the CSMS may not send to `url` now ("" if it may). Resolves the host."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        return f"not a valid URL: {exc}"
    if parsed.scheme not in ("http", "https"):
        return "only http and https URLs are supported"
    # The host as the client will read it: the userinfo of `http://a.example@10.0.0.1/` is
    # no host, and httpx refuses what it cannot parse (backslashes, bad IPv4 spellings).
    host = parsed.host
    try:
        resolve(host, parsed.port or (443 if parsed.scheme == "https" else 80))
    except Refused as exc:
        return str(exc)
    except NotResolved:
        # Not resolvable now (its DNS record may come later): each request checks again.
        return ""
    return ""


def validate_url(value: str) -> None:
    """Validator of every stored outbound URL (models, serializers, admin forms)."""
    if value:
        problem = url_problem(value)
        if problem:
            raise ValidationError(f"This URL may not be called: {problem}.", code="egress")


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in await resolve_async(host, port):
            try:
                return await self._backend.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        raise Refused("outbound requests go over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class _SyncBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in resolve(host, port):
            try:
                return self._backend.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    def connect_unix_socket(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        raise Refused("outbound requests go over TCP only")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class AsyncTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, connecting through the allowlist."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        # The pool httpx builds, with our network backend: httpx takes no backend argument.
        # (SSL_CERT_FILE / SSL_CERT_DIR still name the trusted CAs; proxies are not taken.)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=True),
            network_backend=_AsyncBackend(),
        )


class Transport(httpx.HTTPTransport):
    """httpx's blocking transport, connecting through the allowlist."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=True),
            network_backend=_SyncBackend(),
        )


def async_client(**kwargs: typing.Any) -> httpx.AsyncClient:
    """An httpx.AsyncClient for user-chosen URLs: allowlisted, no redirects, no env proxy."""
    return httpx.AsyncClient(
        transport=AsyncTransport(), follow_redirects=False, trust_env=False, **kwargs
    )


def client(**kwargs: typing.Any) -> httpx.Client:
    """A blocking httpx.Client for user-chosen URLs, as `async_client`."""
    return httpx.Client(transport=Transport(), follow_redirects=False, trust_env=False, **kwargs)

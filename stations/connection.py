"""The connection gate: who may connect, and the online state in the database."""

from __future__ import annotations

import ipaddress
import logging
from functools import cache
from typing import Any

from django.conf import settings

from csms import auth_limits
from ocpp_router.datetimes import utcnow
from ocpp_router.session import Handshake, Session
from stations import passwords, rules, security_events, services

logger = logging.getLogger(__name__)


@cache
def _trusted_networks(
    entries: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def is_trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _trusted_networks(tuple(settings.CSMS_TRUSTED_PROXIES)))


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def connection_security(handshake: Handshake) -> tuple[rules.ConnectionSecurity, str]:
    """What the handshake proves, and the address the station connects from.

    TLS and the client certificate come from our own TLS endpoint (`scope["extensions"]`,
    set by server_runtime.server) or, only when the socket's peer is one of
    CSMS_TRUSTED_PROXIES, from the proxy's X-Forwarded-Proto and client-certificate header.
    """
    extensions: dict[str, Any] = handshake.scope.get("extensions") or {}
    peer = (extensions.get("csms.peer") or {}).get("host") or handshake.remote_address
    tls_info = extensions.get("tls")
    tls = tls_info is not None
    cert_cn = ""
    cert_problem = ""
    if tls_info is not None:
        if tls_info.get("client_cert_verified"):
            cert_cn = tls_info.get("client_cert_cn", "")
        else:
            cert_problem = tls_info.get("client_cert_problem", "")
    remote = peer
    if is_trusted_proxy(peer):
        forwarded_for = handshake.headers.get("x-forwarded-for", "").split(",")[0].strip()
        remote = forwarded_for or handshake.remote_address or peer
        proto = handshake.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if proto in ("https", "wss"):
            tls = True
        header = settings.CSMS_PROXY_CLIENT_CERT_HEADER.lower()
        if header and handshake.headers.get(header):
            cert_cn = handshake.headers[header].strip()
    username: str | None = None
    password: bytes | None = None
    authorization = handshake.headers.get("authorization", "")
    if authorization:
        credentials = passwords.basic_credentials(authorization, handshake.station_id)
        if credentials is not None:
            username, password = credentials
    security = rules.ConnectionSecurity(
        tls=tls,
        client_cert_cn=cert_cn,
        client_cert_problem=cert_problem,
        username=username,
        password=password,
    )
    return security, remote


class StationGate:
    """Implements `ocpp_router.registry.ConnectionGate` for the stations app."""

    def admit(self, handshake: Handshake) -> Session | None:
        security, remote = connection_security(handshake)
        limited = auth_limits.keys(
            auth_limits.STATION, identity=handshake.station_id, address=remote
        )
        # Locked out (too many failures of this id or from this address): refused before
        # any lookup or password check, the right password included.
        wait = auth_limits.retry_after(limited)
        if wait:
            handshake.refuse(429, f"locked out for {wait} s after failed attempts", wait)
            security_events.security_event_record(
                type="AuthenticationLockedOut",
                source="csms",
                identity=handshake.station_id,
                tech_info="Refused connection: too many failed attempts of this id or address",
                remote_address=remote,
            )
            return None
        try:
            station = services.station_admit(
                identity=handshake.station_id,
                allow_unknown=settings.CSMS_ALLOW_UNKNOWN_STATIONS,
                security=security,
            )
        except services.StationRefused as refused:
            handshake.refuse(refused.status, refused.reason)
            locked = auth_limits.failed(limited) if refused.status == services.REFUSED else 0
            if refused.event_type:
                security_events.security_event_record(
                    type=refused.event_type,
                    source="csms",
                    station_pk=refused.station.pk if refused.station else None,
                    identity=handshake.station_id,
                    tech_info=f"Refused connection: {refused.reason}"
                    + (f"; locked out for {locked} s" if locked else ""),
                    remote_address=remote,
                )
            return None
        if security.has_credentials:
            auth_limits.succeeded(limited)
        if station.security_profile == 0 and not is_loopback(remote):
            logger.warning(
                "Station %s connected from %s with security profile 0 (no authentication): "
                "for development only",
                station.identity,
                remote or "?",
            )
        return Session(
            station_pk=station.pk,
            station_id=station.identity,
            version=handshake.version,
            remote_address=remote,
            account=handshake.account,
            # Registration state lives in the database: a station accepted before and
            # reconnecting without a new BootNotification is served as Accepted.
            registration=station.registration_status,
            # The consumer checks this connection is alive before it accepts the new one.
            previous_channel=station.channel_name if station.is_online else "",
            # Profiles 1-3: this connection proved the station's password or certificate, so
            # it replaces an earlier one (the newest authenticated connection wins).
            extra={"authenticated": station.security_profile >= 1},
        )

    def duplicate_refused(self, session: Session) -> None:
        security_events.security_event_record(
            type="DuplicateConnection",
            source="csms",
            station_pk=session.station_pk,
            tech_info="Refused a second connection: the first one still answers pings",
            remote_address=session.remote_address,
        )

    def connected(self, session: Session) -> bool:
        claimed = services.station_connect(
            station_pk=session.station_pk,
            identity=session.station_id,
            protocol=session.version,
            remote_address=session.remote_address,
            channel_name=session.channel_name,
            account=session.account,
            at=session.connected_at or utcnow(),
            expected=session.previous_channel,
        )
        if not claimed:
            session.previous_channel = services.station_holder(station_pk=session.station_pk)
        return claimed

    def disconnected(self, session: Session) -> None:
        services.station_disconnect(
            station_pk=session.station_pk,
            identity=session.station_id,
            channel_name=session.channel_name,
            at=utcnow(),
        )

    def seen(self, session: Session) -> None:
        services.station_seen(station_pk=session.station_pk, at=utcnow())

"""What a station's connection and boot come to, decided in memory: pure functions, no I/O.

`profile_problem`: whether a connection meets the station's security profile (A00-A05);
`boot_decision`: the answer to its next BootNotification (B01-B03).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from stations import passwords
from stations.choices import RegistrationStatus
from stations.models import ChargingStation


@dataclass(frozen=True)
class ConnectionSecurity:
    """What a connecting station proved in its handshake.

    `tls`: the socket is TLS (ours, or a trusted proxy's). `client_cert_cn`: subject CN of a
    client certificate that chains to the configured CA ("" if none or not verified).
    `username`/`password`: HTTP Basic credentials, None when absent.
    """

    tls: bool = False
    client_cert_cn: str = ""
    client_cert_problem: str = ""
    username: str | None = None
    password: bytes | None = None

    @property
    def has_credentials(self) -> bool:
        return self.password is not None or bool(self.client_cert_cn)


@dataclass(frozen=True)
class BootDecision:
    status: str
    interval: int
    # While Pending: fetch the station's inventory (2.x GetBaseReport, 1.6 GetConfiguration).
    fetch_inventory: bool = False


def boot_decision(station: ChargingStation) -> BootDecision:
    """The answer to the station's next BootNotification, from its boot configuration."""
    status = station.boot_status or settings.CSMS_BOOT_STATUS
    if status == RegistrationStatus.ACCEPTED:
        interval = station.heartbeat_interval or settings.CSMS_HEARTBEAT_INTERVAL
    else:
        # OCPP 2.0.1 B02.FR.02 / B03.FR.02: when not Accepted the interval is the time the
        # station waits before its next BootNotification.
        interval = station.boot_retry_interval or settings.CSMS_BOOT_RETRY_INTERVAL
    fetch = station.boot_get_base_report
    if fetch is None:
        fetch = settings.CSMS_BOOT_GET_BASE_REPORT
    return BootDecision(
        status=status,
        interval=interval,
        fetch_inventory=bool(fetch) and status == RegistrationStatus.PENDING,
    )


def profile_problem(
    station: ChargingStation, security: ConnectionSecurity, profile: int | None = None
) -> tuple[str, str]:
    """Why the connection does not meet the station's security profile (or `profile`), and
    the event type.

    The profile is what the operator set; a connection below it is refused, never served at
    a lower profile (1.6 security whitepaper, OCPP 2.0.1 A05.FR.09, OCTT TC_A_19_CSMS).
    """
    if profile is None:
        profile = station.security_profile
    if profile == 0:
        return "", ""
    if profile >= 2 and not security.tls:
        return f"security profile {profile} requires TLS (wss://)", "SecurityProfileDowngrade"
    if profile == 3:
        if not security.client_cert_cn:
            problem = security.client_cert_problem or "no valid client certificate"
            return f"security profile 3: {problem}", "InvalidChargingStationCertificate"
        if security.client_cert_cn != station.identity:
            return (
                f"security profile 3: certificate CN {security.client_cert_cn[:64]!r} "
                "is not the station id",
                "InvalidChargingStationCertificate",
            )
        return "", ""
    if security.password is None:
        return f"security profile {profile}: no Basic credentials", "InvalidCredentials"
    if security.username != station.identity:
        return "Basic auth username is not the station id", "InvalidCredentials"
    if not station.password_hash and not station.password_pending_hash:
        return "the station has no password set", "InvalidCredentials"
    if not passwords.password_matches(security.password, station.password_hash):
        # OCPP 2.0.1 A01: the password just sent, which the station may use as soon as it
        # has answered Accepted (before the CSMS has stored that answer).
        if not passwords.password_matches(security.password, station.password_pending_hash):
            return "wrong Basic auth password", "InvalidCredentials"
    return "", ""

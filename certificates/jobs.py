"""Background jobs of the certificates block (server_runtime.scheduler)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from django.conf import settings

from certificates.choices import CsrStatus
from certificates.models import CertificateSigningRequest
from ocpp_router.datetimes import utcnow
from stations.choices import EventSource
from stations.models import SecurityEvent
from stations.security_events import security_event_record

logger = logging.getLogger(__name__)

EXPIRING = "CertificateExpiring"


@dataclass(frozen=True)
class Known:
    """A certificate the CSMS knows, with what names it in the warning."""

    what: str
    serial: str
    not_after: datetime
    station_pk: int | None = None
    identity: str = ""


def _configured() -> list[Known]:
    """The CA, V2G sub-CA and contract root certificates of the settings."""
    known = []
    for setting in ("CSMS_CA_CERT_FILE", "CSMS_V2G_CA_CERT_FILE", "CSMS_CONTRACT_ROOT_CERTS"):
        path = getattr(settings, setting)
        if not path:
            continue
        try:
            certificates = x509.load_pem_x509_certificates(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            logger.error("%s (%s) cannot be read: %s", setting, path, exc)
            continue
        for certificate in certificates:
            known.append(
                Known(
                    f"{setting} {certificate.subject.rfc4514_string()}",
                    format(certificate.serial_number, "X"),
                    certificate.not_valid_after_utc,
                )
            )
    return known


def _stations(horizon: datetime) -> list[Known]:
    """The newest certificate the CSMS signed per station and certificate type."""
    newest: dict[tuple[int, str], CertificateSigningRequest] = {}
    signed = (
        CertificateSigningRequest.objects.filter(
            status__in=[CsrStatus.SIGNED, CsrStatus.DELIVERED], not_after__isnull=False
        )
        .select_related("station")
        .order_by("-received")
    )
    for csr in signed:
        newest.setdefault((csr.station_id, csr.certificate_type), csr)
    return [
        Known(
            f"station certificate {csr.certificate_type or 'ChargingStationCertificate'}",
            csr.serial_number,
            csr.not_after,
            csr.station_id,
            csr.station.identity,
        )
        for csr in newest.values()
        if csr.not_after is not None and csr.not_after <= horizon
    ]


def certificates_expiry_warn() -> int:
    """Certificates expiring within CSMS_CERT_EXPIRY_WARN_DAYS: a warning in the log and a
    security event (published to webhooks as security.event), once per certificate per day;
    how many were warned about now."""
    now = utcnow()
    horizon = now + timedelta(days=settings.CSMS_CERT_EXPIRY_WARN_DAYS)
    warned = 0
    for cert in [c for c in _configured() if c.not_after <= horizon] + _stations(horizon):
        state = "expired" if cert.not_after <= now else "expires"
        info = f"{cert.what} serial {cert.serial} {state} {cert.not_after:%Y-%m-%d %H:%M} UTC"
        if SecurityEvent.objects.filter(
            type=EXPIRING, tech_info=info[:255], timestamp__gte=now - timedelta(days=1)
        ).exists():
            continue  # warned within the day
        logger.warning(
            "Certificate %s%s", info, f" of station {cert.identity}" * bool(cert.identity)
        )
        security_event_record(
            type=EXPIRING,
            source=EventSource.CSMS,
            station_pk=cert.station_pk,
            identity=cert.identity,
            timestamp=now,
            tech_info=info,
        )
        warned += 1
    return warned


SCHEDULE = {"certificates_expiry_warn": settings.CSMS_JOB_CERT_EXPIRY_INTERVAL}

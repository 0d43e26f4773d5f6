"""Station certificates: signing CSRs (A02/A03), installed certificates (M03-M05), OCSP (M06)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography import x509
from django.conf import settings
from django.db import transaction

from certificates import ca, plug_and_charge
from certificates.choices import CsrStatus
from certificates.models import CertificateSigningRequest, InstalledCertificate
from csms import egress
from ocpp_router.datetimes import to_ocpp, utcnow

logger = logging.getLogger(__name__)

OCSP_TIMEOUT = 5.0


@dataclass(frozen=True)
class SigningOutcome:
    accepted: bool
    reason: str = ""
    certificate_chain: str = ""


def certificate_sign_request(
    *, station_pk: int, identity: str, csr: str, certificate_type: str = ""
) -> SigningOutcome:
    """Check and sign a station's CSR with the CSMS's signing CA; record the request either way."""
    reason = ""
    certificate = None
    signing_ca = None
    if certificate_type == "V2GCertificate":
        # OCPP 2.0.1 A02/A03 with ISO 15118: the SECC certificate comes from the V2G PKI.
        if not (settings.CSMS_V2G_CA_CERT_FILE and settings.CSMS_V2G_CA_KEY_FILE):
            reason = "no V2G sub-CA is configured (CSMS_V2G_CA_CERT_FILE, CSMS_V2G_CA_KEY_FILE)"
        else:
            signing_ca = plug_and_charge.v2g_ca(
                settings.CSMS_V2G_CA_CERT_FILE,
                settings.CSMS_V2G_CA_KEY_FILE,
                settings.CSMS_V2G_CA_KEY_PASSWORD,
            )
            try:
                certificate = plug_and_charge.sign_v2g_csr(
                    csr, signer=signing_ca, validity_days=settings.CSMS_V2G_CERT_VALIDITY_DAYS
                )
            except ca.CsrRefused as refused:
                reason = str(refused)
    elif not (settings.CSMS_CA_CERT_FILE and settings.CSMS_CA_KEY_FILE):
        reason = "no signing CA is configured (CSMS_CA_CERT_FILE, CSMS_CA_KEY_FILE)"
    else:
        signing_ca = ca.load_ca(
            settings.CSMS_CA_CERT_FILE, settings.CSMS_CA_KEY_FILE, settings.CSMS_CA_KEY_PASSWORD
        )
        try:
            certificate = ca.sign_station_csr(
                csr,
                identity=identity,
                ca=signing_ca,
                validity_days=settings.CSMS_CERT_VALIDITY_DAYS,
                organization=settings.CSMS_CERT_ORGANIZATION,
            )
        except ca.CsrRefused as refused:
            reason = str(refused)
    if certificate is None or signing_ca is None:
        logger.warning("Refused to sign a certificate for station %s: %s", identity, reason)
        CertificateSigningRequest.objects.create(
            station_id=station_pk,
            certificate_type=certificate_type,
            csr=csr,
            status=CsrStatus.REJECTED,
            reason=reason[:255],
            received=utcnow(),
        )
        return SigningOutcome(accepted=False, reason=reason)
    certificate_pem = ca.pem(certificate)
    CertificateSigningRequest.objects.create(
        station_id=station_pk,
        certificate_type=certificate_type,
        csr=csr,
        status=CsrStatus.SIGNED,
        certificate=certificate_pem,
        serial_number=format(certificate.serial_number, "x"),
        not_after=ca.not_after(certificate),
        received=utcnow(),
    )
    return SigningOutcome(accepted=True, certificate_chain=certificate_pem + signing_ca.chain_pem)


def certificate_signed_result(*, station_pk: int, chain: str, status: str) -> None:
    """Record whether the station installed the certificate we signed (CertificateSigned)."""
    try:
        serial = format(x509.load_pem_x509_certificate(chain.encode()).serial_number, "x")
    except ValueError:
        return
    CertificateSigningRequest.objects.filter(station_id=station_pk, serial_number=serial).update(
        status=CsrStatus.DELIVERED if status == "Accepted" else CsrStatus.REFUSED
    )


def installed_certificates_reported(
    *, station_pk: int, requested_types: list[str], chains: list[dict[str, Any]]
) -> None:
    """Replace what we know of the station's installed certificates of the requested types
    (all types when none were requested) with its answer to GetInstalledCertificateIds."""
    with transaction.atomic():
        known = InstalledCertificate.objects.filter(station_id=station_pk)
        if requested_types:
            known = known.filter(certificate_type__in=requested_types)
        known.delete()
        InstalledCertificate.objects.bulk_create(
            [
                InstalledCertificate(
                    station_id=station_pk,
                    certificate_type=chain["certificateType"],
                    hash_algorithm=chain["certificateHashData"]["hashAlgorithm"],
                    issuer_name_hash=chain["certificateHashData"]["issuerNameHash"],
                    issuer_key_hash=chain["certificateHashData"]["issuerKeyHash"],
                    serial_number=chain["certificateHashData"]["serialNumber"],
                    child_certificates=chain.get("childCertificateHashData"),
                )
                for chain in chains
            ],
            ignore_conflicts=True,
        )


def certificate_installed(*, station_pk: int, certificate_type: str, certificate: str) -> None:
    """Record a certificate the station accepted through InstallCertificate."""
    try:
        data = ca.hash_data(certificate)
    except ValueError:
        logger.warning("Station %s installed a certificate we cannot parse", station_pk)
        return
    InstalledCertificate.objects.update_or_create(
        station_id=station_pk,
        hash_algorithm=data.hash_algorithm,
        issuer_name_hash=data.issuer_name_hash,
        issuer_key_hash=data.issuer_key_hash,
        serial_number=data.serial_number,
        defaults={"certificate_type": certificate_type},
    )


def certificate_deleted(*, station_pk: int, hash_data: dict[str, str]) -> None:
    InstalledCertificate.objects.filter(
        station_id=station_pk,
        hash_algorithm=hash_data["hashAlgorithm"],
        issuer_name_hash__iexact=hash_data["issuerNameHash"],
        issuer_key_hash__iexact=hash_data["issuerKeyHash"],
        serial_number__iexact=hash_data["serialNumber"],
    ).delete()


@dataclass(frozen=True)
class OcspOutcome:
    ok: bool
    ocsp_result: str = ""
    reason: str = ""


def certificate_status_lookup(*, request_data: dict[str, str]) -> OcspOutcome:
    """Ask the certificate's OCSP responder on the station's behalf (OCPP 2.0.1 M06)."""
    try:
        der = ca.ocsp_request(
            request_data["issuerNameHash"],
            request_data["issuerKeyHash"],
            request_data["serialNumber"],
            request_data["hashAlgorithm"],
        )
        # The responder URL comes from the station: through the outbound allowlist.
        with egress.client() as client:
            response = client.post(
                request_data["responderURL"],
                content=der,
                headers={"Content-Type": "application/ocsp-request"},
                timeout=OCSP_TIMEOUT,
            )
        response.raise_for_status()
    except (ValueError, KeyError, httpx.HTTPError) as exc:
        logger.warning("OCSP lookup at %s failed: %s", request_data.get("responderURL"), exc)
        return OcspOutcome(ok=False, reason=str(exc)[:200])
    return OcspOutcome(ok=True, ocsp_result=ca.b64(response.content))


def certificate_chain_status(*, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OCPP 2.1 GetCertificateChainStatus: each certificate's status
    from its OCSP responders or CRL distribution points, the first that answers; Failed
    when none does."""
    statuses = []
    for request in requests:
        hash_data = request["certificateHashData"]
        status, next_update = "Failed", utcnow()
        for url in request["urls"]:
            if request["source"] == "OCSP":
                found = plug_and_charge.ocsp_status(
                    hash_algorithm=hash_data["hashAlgorithm"],
                    issuer_name_hash=hash_data["issuerNameHash"],
                    issuer_key_hash=hash_data["issuerKeyHash"],
                    serial=hash_data["serialNumber"],
                    url=url,
                )
                status = {"Accepted": "Good", "CertificateRevoked": "Revoked"}.get(found, "Failed")
            else:
                try:
                    with egress.client() as client:
                        response = client.get(url, timeout=OCSP_TIMEOUT)
                    response.raise_for_status()
                    body = response.content
                    crl = (
                        x509.load_pem_x509_crl(body)
                        if body.lstrip().startswith(b"-----")
                        else x509.load_der_x509_crl(body)
                    )
                except (ValueError, httpx.HTTPError) as exc:
                    logger.warning("CRL at %s unusable: %s", url, exc)
                    continue
                revoked = crl.get_revoked_certificate_by_serial_number(
                    int(hash_data["serialNumber"], 16)
                )
                status = "Revoked" if revoked is not None else "Good"
                next_update = crl.next_update_utc or next_update
            if status != "Failed":
                break
        statuses.append(
            {
                "certificateHashData": hash_data,
                "source": request["source"],
                "status": status,
                "nextUpdate": to_ocpp(next_update),
            }
        )
    return statuses

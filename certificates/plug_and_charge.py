"""Plug & Charge (ISO 15118 through OCPP 2.0.1 A02, C07, M01-M06): what the CSMS does with
V2G and contract certificates, with `cryptography`.

- V2G certificates (the station's SECC certificate, SignCertificate V2GCertificate) are
  signed by a V2G sub-CA of the operator (CSMS_V2G_CA_*), never by the station CA.
- A contract certificate in Authorize is checked against the MO/V2G roots the operator
  trusts (CSMS_CONTRACT_ROOT_CERTS) and its revocation asked of the OCSP responder the
  certificate (or the station's hash data) names; answers are cached until their nextUpdate.
- Get15118EVCertificate is relayed to the operator's contract-certificate service
  (CSMS_CONTRACT_CERTIFICATE_URL): the EXI request goes there base64-encoded as the station
  sent it, its EXI answer back unchanged (OCPP 2.0.1 M01/M02).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
from django.conf import settings

from certificates import ca
from csms import egress
from ocpp_router.datetimes import utcnow

logger = logging.getLogger(__name__)

OCSP_TIMEOUT = 5.0

# --- V2G certificates (A02/A03 with certificateType V2GCertificate) -----------------------


@cache
def v2g_ca(cert_file: str, key_file: str, password: str = "") -> ca.SigningCa:
    """The V2G sub-CA: its certificate first in `cert_file`, then its own issuers (sent to
    the station with the signed certificate, ISO 15118-2 SECC chain)."""
    certificates = x509.load_pem_x509_certificates(Path(cert_file).read_bytes())
    key = serialization.load_pem_private_key(
        Path(key_file).read_bytes(), password=password.encode() or None
    )
    chain = "".join(ca.pem(certificate) for certificate in certificates)
    return ca.SigningCa(certificates[0], key, chain)


def sign_v2g_csr(csr_pem: str, *, signer: ca.SigningCa, validity_days: int) -> x509.Certificate:
    """An SECC leaf certificate for a station's V2G CSR (ISO 15118-2 Annex F: digital
    signature and key agreement, no CA)."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError:
        raise ca.CsrRefused("the CSR is not a PEM-encoded PKCS#10 request") from None
    if not csr.is_signature_valid:
        raise ca.CsrRefused("the CSR's signature is invalid")
    if not csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        raise ca.CsrRefused("the V2G CSR names no common name (the SECC id)")
    now = utcnow()
    return (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(signer.certificate.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=validity_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(signer.key, hashes.SHA256())  # type: ignore[arg-type]
    )


# --- contract certificates (C07) and OCSP -----------------------------------------------


@cache
def contract_roots(path: str) -> tuple[x509.Certificate, ...]:
    return tuple(x509.load_pem_x509_certificates(Path(path).read_bytes()))


def _issuer_of(
    certificate: x509.Certificate, candidates: list[x509.Certificate]
) -> x509.Certificate | None:
    for candidate in candidates:
        if candidate.subject == certificate.issuer:
            try:
                certificate.verify_directly_issued_by(candidate)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return candidate
    return None


def chain_problem(
    chain: list[x509.Certificate], roots: tuple[x509.Certificate, ...], at: datetime
) -> tuple[str, x509.Certificate | None]:
    """(certificateStatus if the chain fails, the leaf's issuer) for a contract chain."""
    leaf, intermediates = chain[0], chain[1:]
    current = leaf
    issuer_of_leaf = None
    for _ in range(len(chain) + 1):
        if not (current.not_valid_before_utc <= at < current.not_valid_after_utc):
            return "CertificateExpired", None
        root = _issuer_of(current, list(roots))
        if root is not None:
            return "", issuer_of_leaf or root
        issuer = _issuer_of(current, intermediates)
        if issuer is None:
            if any(c.subject == current.issuer for c in [*roots, *intermediates]):
                return "SignatureError", None
            return "CertChainError", None
        issuer_of_leaf = issuer_of_leaf or issuer
        current = issuer
    return "CertChainError", None


@dataclass(frozen=True)
class _Cached:
    status: str
    until: datetime


_CACHE: dict[tuple[str, str, str, str], _Cached] = {}
_CACHE_LOCK = threading.Lock()


def ocsp_status(
    *, hash_algorithm: str, issuer_name_hash: str, issuer_key_hash: str, serial: str, url: str
) -> str:
    """ "Accepted", "CertificateRevoked" or "NoCertificateAvailable" (no answer to be had)
    for one certificate, from `url` or from the cache until the answer's nextUpdate."""
    key = (hash_algorithm, issuer_name_hash.lower(), issuer_key_hash.lower(), serial.lower())
    now = utcnow()
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached.until > now:
            return cached.status
    try:
        request = ca.ocsp_request(issuer_name_hash, issuer_key_hash, serial, hash_algorithm)
        # The responder URL comes from the station's certificate data: through the allowlist.
        with egress.client() as client:
            response = client.post(
                url,
                content=request,
                headers={"Content-Type": "application/ocsp-request"},
                timeout=OCSP_TIMEOUT,
            )
        response.raise_for_status()
        answer = ocsp.load_der_ocsp_response(response.content)
    except (ValueError, KeyError, httpx.HTTPError) as exc:
        logger.warning(
            "OCSP responder %s gave no usable answer for contract certificate %s: %s; "
            "check CSMS_CONTRACT_ROOT_CERTS and the responder",
            url,
            serial,
            exc,
        )
        return "NoCertificateAvailable"
    if answer.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        logger.warning("OCSP responder %s answered %s", url, answer.response_status.name)
        return "NoCertificateAvailable"
    status = {
        ocsp.OCSPCertStatus.GOOD: "Accepted",
        ocsp.OCSPCertStatus.REVOKED: "CertificateRevoked",
    }.get(answer.certificate_status, "NoCertificateAvailable")
    next_update = answer.next_update_utc
    if next_update is not None and next_update > now:
        with _CACHE_LOCK:
            _CACHE[key] = _Cached(status, next_update)
    return status


def _ocsp_url(certificate: x509.Certificate) -> str:
    try:
        access = certificate.extensions.get_extension_for_class(
            x509.AuthorityInformationAccess
        ).value
    except x509.ExtensionNotFound:
        return ""
    for description in access:
        if description.access_method == AuthorityInformationAccessOID.OCSP:
            return str(description.access_location.value)
    return ""


def contract_certificate_status(
    *, certificate: str | None, hash_data: list[dict[str, Any]] | None, at: datetime | None = None
) -> str | None:
    """certificateStatus for a 2.x Authorize carrying a contract certificate (OCPP 2.0.1 C07).

    A PEM chain is checked against CSMS_CONTRACT_ROOT_CERTS, then its leaf asked of the OCSP
    responder it names; hash data (the station checked the chain) is asked of the responders
    it names. A status that cannot be established is not Accepted. None when neither came.
    """
    at = at or utcnow()
    if certificate:
        try:
            chain = x509.load_pem_x509_certificates(certificate.encode())
        except ValueError:
            return "SignatureError"
        if not settings.CSMS_CONTRACT_ROOT_CERTS:
            logger.warning(
                "Authorize with a contract certificate, but no MO/V2G root store is "
                "configured (CSMS_CONTRACT_ROOT_CERTS): answered CertChainError"
            )
            return "CertChainError"
        problem, issuer = chain_problem(
            chain, contract_roots(settings.CSMS_CONTRACT_ROOT_CERTS), at
        )
        if problem or issuer is None:
            return problem or "CertChainError"
        leaf = chain[0]
        url = _ocsp_url(leaf)
        if not url:
            return "Accepted"  # no responder named: the chain is what can be checked
        data = ca.issued_hash_data(leaf, issuer)
        return ocsp_status(
            hash_algorithm=data.hash_algorithm,
            issuer_name_hash=data.issuer_name_hash,
            issuer_key_hash=data.issuer_key_hash,
            serial=data.serial_number,
            url=url,
        )
    if hash_data:
        statuses = [
            ocsp_status(
                hash_algorithm=item["hashAlgorithm"],
                issuer_name_hash=item["issuerNameHash"],
                issuer_key_hash=item["issuerKeyHash"],
                serial=item["serialNumber"],
                url=item["responderURL"],
            )
            for item in hash_data
        ]
        for status in ("CertificateRevoked", "NoCertificateAvailable"):
            if status in statuses:
                return status
        return "Accepted"
    return None


# --- Get15118EVCertificate (M01 install, M02 update) -------------------------------------


def ev_certificate_get(*, identity: str, version: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The answer to Get15118EVCertificate: the contract-certificate service's, or Failed
    with the reason when none is configured or it cannot be reached."""
    url = settings.CSMS_CONTRACT_CERTIFICATE_URL
    if not url:
        return _failed("NoService", "no contract-certificate service is configured on the CSMS")
    body = {
        "stationId": identity,
        "ocppVersion": version,
        "iso15118SchemaVersion": payload["iso15118SchemaVersion"],
        "action": payload["action"],
        "exiRequest": payload["exiRequest"],
    }
    for optional in ("maximumContractCertificateChains", "prioritizedEMAIDs"):
        if optional in payload:
            body[optional] = payload[optional]
    try:
        response = httpx.post(url, json=body, timeout=settings.CSMS_CONTRACT_CERTIFICATE_TIMEOUT)
        response.raise_for_status()
        answer = response.json()
        status, exi = answer["status"], answer.get("exiResponse", "")
        if status not in ("Accepted", "Failed") or not isinstance(exi, str):
            raise ValueError(f"unexpected answer status {status!r}")
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        logger.warning(
            "Contract-certificate service %s failed for station %s (%s): %s",
            url,
            identity,
            payload["action"],
            exc,
        )
        return _failed("ServiceUnavailable", "the contract-certificate service did not answer")
    result: dict[str, Any] = {"status": status, "exiResponse": exi}
    if isinstance(answer.get("statusInfo"), dict) and answer["statusInfo"].get("reasonCode"):
        result["statusInfo"] = {
            "reasonCode": str(answer["statusInfo"]["reasonCode"])[:20],
            **(
                {"additionalInfo": str(answer["statusInfo"]["additionalInfo"])[:512]}
                if answer["statusInfo"].get("additionalInfo")
                else {}
            ),
        }
    if version == "2.1" and isinstance(answer.get("remainingContracts"), int):
        result["remainingContracts"] = answer["remainingContracts"]
    return result


def _failed(reason: str, info: str) -> dict[str, Any]:
    return {
        "status": "Failed",
        "exiResponse": "",
        "statusInfo": {"reasonCode": reason, "additionalInfo": info},
    }

"""Certificate work with `cryptography`: signing station CSRs, OCPP certificate hash data, OCSP."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ocpp_router.datetimes import utcnow


class CsrRefused(Exception):
    """A CSR the CSMS will not sign; the message says why (for the operator, not the station)."""


@dataclass(frozen=True)
class SigningCa:
    certificate: x509.Certificate
    key: object
    chain_pem: str


@cache
def load_ca(cert_file: str, key_file: str, password: str = "") -> SigningCa:
    certificate = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    key = serialization.load_pem_private_key(
        Path(key_file).read_bytes(), password=password.encode() or None
    )
    return SigningCa(
        certificate, key, certificate.public_bytes(serialization.Encoding.PEM).decode()
    )


def sign_station_csr(
    csr_pem: str, *, identity: str, ca: SigningCa, validity_days: int, organization: str = ""
) -> x509.Certificate:
    """Sign a station's CSR after the checks of OCPP 2.0.1 A02.FR.06/A03: a valid signature,
    the station's own identity as common name, and the operator's organization if configured."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError:
        raise CsrRefused("the CSR is not a PEM-encoded PKCS#10 request") from None
    if not csr.is_signature_valid:
        raise CsrRefused("the CSR's signature is invalid")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names or names[0].value != identity:
        raise CsrRefused(f"the CSR's common name is not the station identity {identity!r}")
    if organization:
        orgs = csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        if not orgs or orgs[0].value != organization:
            raise CsrRefused(f"the CSR's organization is not {organization!r}")
    now = utcnow()
    return (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=validity_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def not_after(certificate: x509.Certificate) -> datetime:
    return certificate.not_valid_after_utc


@dataclass(frozen=True)
class HashData:
    """OCPP CertificateHashDataType."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def as_ocpp(self) -> dict[str, str]:
        return {
            "hashAlgorithm": self.hash_algorithm,
            "issuerNameHash": self.issuer_name_hash,
            "issuerKeyHash": self.issuer_key_hash,
            "serialNumber": self.serial_number,
        }


def hash_data(certificate_pem: str) -> HashData:
    """Certificate hash data as OCPP defines it: SHA-256 of the issuer's DER name and of the
    issuer's public key bits (for a root, the certificate's own), serial number in hex."""
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    key_bits = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # The key hash is over the subjectPublicKey BIT STRING; for a self-signed root the issuer
    # key is the certificate's own. Stations compute it from their issuer: good enough to match
    # roots, which is what InstallCertificate installs.
    spki_bits = _subject_public_key_bits(key_bits)
    return HashData(
        hash_algorithm="SHA256",
        issuer_name_hash=hashlib.sha256(certificate.issuer.public_bytes()).hexdigest(),
        issuer_key_hash=hashlib.sha256(spki_bits).hexdigest(),
        serial_number=format(certificate.serial_number, "x"),
    )


def issued_hash_data(certificate: x509.Certificate, issuer: x509.Certificate) -> HashData:
    """Hash data of a certificate with its issuer's key hash (OCSP CertID, RFC 6960)."""
    issuer_spki = issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return HashData(
        hash_algorithm="SHA256",
        issuer_name_hash=hashlib.sha256(certificate.issuer.public_bytes()).hexdigest(),
        issuer_key_hash=hashlib.sha256(_subject_public_key_bits(issuer_spki)).hexdigest(),
        serial_number=format(certificate.serial_number, "x"),
    )


def _subject_public_key_bits(spki_der: bytes) -> bytes:
    """The subjectPublicKey BIT STRING contents of a DER SubjectPublicKeyInfo."""

    def read_length(data: bytes, offset: int) -> tuple[int, int]:
        first = data[offset]
        if first < 0x80:
            return first, offset + 1
        count = first & 0x7F
        return int.from_bytes(data[offset + 1 : offset + 1 + count], "big"), offset + 1 + count

    # SEQUENCE { AlgorithmIdentifier SEQUENCE, BIT STRING }
    _, offset = read_length(spki_der, 1)
    algorithm_length, algorithm_start = read_length(spki_der, offset + 1)
    offset = algorithm_start + algorithm_length
    bits_length, bits_start = read_length(spki_der, offset + 1)
    return spki_der[bits_start + 1 : bits_start + bits_length]  # skip the unused-bits byte


def ocsp_request(
    issuer_name_hash: str, issuer_key_hash: str, serial_number: str, algorithm: str
) -> bytes:
    """A DER OCSP request for the certificate OCPP's OCSPRequestDataType identifies."""
    algorithms = {"SHA256": hashes.SHA256(), "SHA384": hashes.SHA384(), "SHA512": hashes.SHA512()}
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        bytes.fromhex(issuer_name_hash),
        bytes.fromhex(issuer_key_hash),
        int(serial_number, 16),
        algorithms[algorithm],
    )
    return builder.build().public_bytes(serialization.Encoding.DER)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()

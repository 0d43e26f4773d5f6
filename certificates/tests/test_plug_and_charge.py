"""Plug & Charge (ISO 15118 through OCPP 2.0.1 A02, C07, M01-M02): V2G CSRs signed by the V2G
sub-CA, contract certificates checked against the MO root store and a local OCSP responder,
Get15118EVCertificate relayed to a local contract-certificate service. Certificates are made
with `cryptography`; the servers are real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
from ocpp.v21 import call as call21
from ocpp.v201 import call as call201

from certificates import ca as ca_module
from certificates import plug_and_charge
from certificates.tests.test_certificates import Station201, make_ca, make_csr
from ocpp_router.datetimes import utcnow
from tests.live import connect, eventually
from tests.test_ocpp_core import boot_call


@dataclass
class Issuer:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _certificate(subject: str, issuer: Issuer | None, *, ca: bool, ocsp_url: str = "", days=30):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = utcnow()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.certificate.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ocsp_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
                    )
                ]
            ),
            critical=False,
        )
    signer = issuer.key if issuer else key
    return Issuer(builder.sign(signer, hashes.SHA256()), key)


def pem(*certificates: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)


class Responder:
    """An OCSP responder signing with the MO sub-CA: serials in `revoked` are revoked."""

    def __init__(self):
        self.revoked: set[int] = set()
        self.requests = 0
        self.issuer: Issuer | None = None
        responder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                request = ocsp.load_der_ocsp_request(
                    self.rfile.read(int(self.headers["Content-Length"]))
                )
                responder.requests += 1
                issuer = responder.issuer
                assert issuer is not None
                now = utcnow()
                revoked = request.serial_number in responder.revoked
                builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
                    issuer_name_hash=request.issuer_name_hash,
                    issuer_key_hash=request.issuer_key_hash,
                    serial_number=request.serial_number,
                    algorithm=request.hash_algorithm,
                    cert_status=ocsp.OCSPCertStatus.REVOKED
                    if revoked
                    else ocsp.OCSPCertStatus.GOOD,
                    this_update=now - timedelta(minutes=1),
                    next_update=now + timedelta(hours=1),
                    revocation_time=now - timedelta(minutes=1) if revoked else None,
                    revocation_reason=None,
                )
                body = (
                    builder.responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.certificate)
                    .sign(issuer.key, hashes.SHA256())
                    .public_bytes(serialization.Encoding.DER)
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ocsp"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mo_pki(settings, tmp_path: Path):
    """MO root (in CSMS_CONTRACT_ROOT_CERTS) > MO sub-CA > contract certificates whose OCSP
    responder is a local server."""
    responder = Responder()
    root = _certificate("MO Root", None, ca=True)
    sub = _certificate("MO Sub-CA", root, ca=True)
    responder.issuer = sub
    roots = tmp_path / "mo-roots.pem"
    roots.write_text(pem(root.certificate))
    settings.CSMS_CONTRACT_ROOT_CERTS = str(roots)
    plug_and_charge._CACHE.clear()

    def contract(emaid: str, **kwargs) -> Issuer:
        return _certificate(emaid, sub, ca=False, ocsp_url=responder.url, **kwargs)

    yield root, sub, contract, responder
    responder.close()
    plug_and_charge.contract_roots.cache_clear()


def test_c07_contract_chain_good_at_the_ocsp_responder_is_accepted_and_cached(mo_pki):
    _root, sub, contract, responder = mo_pki
    leaf = contract("DEMOU1234567890")
    chain = pem(leaf.certificate, sub.certificate)
    assert plug_and_charge.contract_certificate_status(certificate=chain, hash_data=None) == (
        "Accepted"
    )
    # Cached until the answer's nextUpdate: no second request.
    assert plug_and_charge.contract_certificate_status(certificate=chain, hash_data=None) == (
        "Accepted"
    )
    assert responder.requests == 1


def test_c07_revoked_contract_certificate_is_certificate_revoked(mo_pki):
    _root, sub, contract, responder = mo_pki
    leaf = contract("DEMOU0000000REV")
    responder.revoked.add(leaf.certificate.serial_number)
    chain = pem(leaf.certificate, sub.certificate)
    assert (
        plug_and_charge.contract_certificate_status(certificate=chain, hash_data=None)
        == "CertificateRevoked"
    )


def test_c07_chain_to_an_unknown_root_is_cert_chain_error(mo_pki, tmp_path):
    other_root = _certificate("Other Root", None, ca=True)
    other_sub = _certificate("Other Sub", other_root, ca=True)
    leaf = _certificate("DEMOU0000000OTH", other_sub, ca=False)
    chain = pem(leaf.certificate, other_sub.certificate)
    assert (
        plug_and_charge.contract_certificate_status(certificate=chain, hash_data=None)
        == "CertChainError"
    )


def test_c07_expired_contract_certificate_is_certificate_expired(mo_pki):
    _root, sub, contract, _responder = mo_pki
    leaf = contract("DEMOU0000000EXP", days=-0.5)
    chain = pem(leaf.certificate, sub.certificate)
    assert (
        plug_and_charge.contract_certificate_status(certificate=chain, hash_data=None)
        == "CertificateExpired"
    )


def test_c07_hash_data_is_asked_of_the_responder_it_names(mo_pki):
    _root, sub, contract, responder = mo_pki
    good, bad = contract("DEMOU00000000OK"), contract("DEMOU0000000BAD")
    responder.revoked.add(bad.certificate.serial_number)

    def hash_data(leaf):
        data = ca_module.issued_hash_data(leaf.certificate, sub.certificate)
        return {**data.as_ocpp(), "responderURL": responder.url}

    assert (
        plug_and_charge.contract_certificate_status(certificate=None, hash_data=[hash_data(good)])
        == "Accepted"
    )
    assert (
        plug_and_charge.contract_certificate_status(
            certificate=None, hash_data=[hash_data(good), hash_data(bad)]
        )
        == "CertificateRevoked"
    )


def test_c07_unreachable_responder_is_not_accepted(mo_pki):
    _root, sub, contract, responder = mo_pki
    leaf = contract("DEMOU0000000OFF")
    responder.close()
    chain = pem(leaf.certificate, sub.certificate)
    assert (
        plug_and_charge.contract_certificate_status(certificate=chain, hash_data=None)
        == "NoCertificateAvailable"
    )


# --- A02/A03: V2G CSRs -------------------------------------------------------------------


@pytest.fixture
def v2g_sub_ca(settings, tmp_path):
    root, _root_file, root_key_file = make_ca(tmp_path, "V2G Root CA")
    root_key = serialization.load_pem_private_key(root_key_file.read_bytes(), None)
    sub = _certificate("CPO Sub-CA 2", Issuer(root, root_key), ca=True)  # type: ignore[arg-type]
    cert_file, key_file = tmp_path / "cpo-sub.pem", tmp_path / "cpo-sub.key"
    cert_file.write_text(pem(sub.certificate))
    key_file.write_bytes(
        sub.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    settings.CSMS_V2G_CA_CERT_FILE = str(cert_file)
    settings.CSMS_V2G_CA_KEY_FILE = str(key_file)
    yield sub.certificate
    plug_and_charge.v2g_ca.cache_clear()


async def test_a02_v2g_csr_is_signed_by_the_v2g_sub_ca(csms, v2g_sub_ca):
    async with connect(csms, "PNC-V2G", "2.0.1", charge_point_class=Station201) as cp:
        await cp.call(boot_call("2.0.1"))
        answer = await cp.call(
            call201.SignCertificate(csr=make_csr("SECC-PNC-V2G"), certificate_type="V2GCertificate")
        )
        assert answer.status == "Accepted"
        await eventually(lambda: cp.signed_chain)
    leaf, *rest = x509.load_pem_x509_certificates(cp.signed_chain.encode())
    leaf.verify_directly_issued_by(v2g_sub_ca)
    assert rest[0] == v2g_sub_ca
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_agreement


async def test_a02_v2g_csr_without_a_v2g_sub_ca_is_rejected_with_the_reason(csms):
    async with connect(csms, "PNC-NOV2G", "2.0.1", charge_point_class=Station201) as cp:
        await cp.call(boot_call("2.0.1"))
        answer = await cp.call(
            call201.SignCertificate(csr=make_csr("SECC-1"), certificate_type="V2GCertificate")
        )
    assert answer.status == "Rejected"
    assert "V2G sub-CA" in answer.status_info["additional_info"]


# --- M01/M02: Get15118EVCertificate --------------------------------------------------------


class ContractService:
    """A contract-certificate service answering each request with an EXI reply of its own."""

    def __init__(self):
        self.bodies: list[dict] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                service.bodies.append(body)
                answer = json.dumps(
                    {
                        "status": "Accepted",
                        "exiResponse": "RVhJLXJlc3BvbnNl",
                        "remainingContracts": 2,
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ev-certificate"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def contract_service(settings):
    service = ContractService()
    settings.CSMS_CONTRACT_CERTIFICATE_URL = service.url
    yield service
    service.server.shutdown()
    service.server.server_close()


@pytest.mark.parametrize("action", ["Install", "Update"])
async def test_m01_m02_ev_certificate_request_is_relayed_to_the_contract_service(
    csms, contract_service, action
):
    async with connect(csms, f"PNC-EV-{action}", "2.0.1") as cp:
        await cp.call(boot_call("2.0.1"))
        answer = await cp.call(
            call201.Get15118EVCertificate(
                iso15118_schema_version="urn:iso:15118:2:2013:MsgDef",
                action=action,
                exi_request="RVhJLXJlcXVlc3Q=",
            )
        )
    assert (answer.status, answer.exi_response) == ("Accepted", "RVhJLXJlc3BvbnNl")
    assert contract_service.bodies == [
        {
            "stationId": f"PNC-EV-{action}",
            "ocppVersion": "2.0.1",
            "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
            "action": action,
            "exiRequest": "RVhJLXJlcXVlc3Q=",
        }
    ]


async def test_m01_21_ev_certificate_answer_carries_remaining_contracts(csms, contract_service):
    async with connect(csms, "PNC-EV-21", "2.1") as cp:
        await cp.call(boot_call("2.1"))
        answer = await cp.call(
            call21.Get15118EVCertificate(
                iso_15118_schema_version="urn:iso:std:iso:15118:-20:CommonMessages",
                action="Install",
                exi_request="RVhJ",
                maximum_contract_certificate_chains=2,
            )
        )
    assert (answer.status, answer.remaining_contracts) == ("Accepted", 2)
    assert contract_service.bodies[0]["maximumContractCertificateChains"] == 2


async def test_m01_without_a_contract_service_the_answer_is_failed_with_the_reason(csms):
    async with connect(csms, "PNC-EV-NONE", "2.0.1") as cp:
        await cp.call(boot_call("2.0.1"))
        answer = await cp.call(
            call201.Get15118EVCertificate(
                iso15118_schema_version="urn:iso:15118:2:2013:MsgDef",
                action="Install",
                exi_request="RVhJ",
            )
        )
    assert answer.status == "Failed"
    assert "contract-certificate service" in answer.status_info["additional_info"]

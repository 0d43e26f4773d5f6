"""Certificate management end to end with the `ocpp` package's ChargePoint as the station."""

from __future__ import annotations

import asyncio
import base64
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from asgiref.sync import sync_to_async
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from certificates import ca as ca_module
from certificates.models import CertificateSigningRequest, InstalledCertificate
from ocpp_router.datetimes import utcnow
from tests.live import connect, eventually
from tests.test_ocpp_core import boot_call


def make_ca(tmp_path, name: str = "CSMS Test CA"):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = utcnow()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate, cert_file, key_file


def make_csr(common_name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def signing_ca(settings, tmp_path):
    certificate, cert_file, key_file = make_ca(tmp_path)
    settings.CSMS_CA_CERT_FILE = str(cert_file)
    settings.CSMS_CA_KEY_FILE = str(key_file)
    return certificate


class Station201(ChargePoint201):
    signed_chain: str | None = None

    @on("CertificateSigned")
    async def on_certificate_signed(self, certificate_chain, **kwargs):
        self.signed_chain = certificate_chain
        return result201.CertificateSigned(status="Accepted")


class Station16(ChargePoint16):
    signed_chain: str | None = None

    @on("CertificateSigned")
    async def on_certificate_signed(self, certificate_chain):
        self.signed_chain = certificate_chain
        return result16.CertificateSigned(status="Accepted")


@pytest.mark.parametrize(("version", "cls"), [("2.0.1", Station201), ("1.6", Station16)])
async def test_a02_csr_is_signed_and_delivered_with_certificate_signed(
    csms, signing_ca, version, cls
):
    identity = f"CERT-{version}"
    async with connect(csms, identity, version, charge_point_class=cls) as cp:
        await cp.call(boot_call(version))
        if version == "1.6":
            answer = await cp.call(call16.SignCertificate(csr=make_csr(identity)))
        else:
            answer = await cp.call(
                call201.SignCertificate(
                    csr=make_csr(identity), certificate_type="ChargingStationCertificate"
                )
            )
        assert answer.status == "Accepted"
        await eventually(lambda: cp.signed_chain)
        leaf = x509.load_pem_x509_certificates(cp.signed_chain.encode())[0]
        assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == identity
        assert leaf.issuer == signing_ca.subject
        leaf.verify_directly_issued_by(signing_ca)

        @sync_to_async
        def delivered():
            return CertificateSigningRequest.objects.filter(
                station__identity=identity, status="Delivered"
            ).exists()

        await eventually(delivered)


async def test_a02_csr_for_another_identity_is_rejected(csms, signing_ca):
    async with connect(csms, "CERT-OWN", "2.0.1", charge_point_class=Station201) as cp:
        await cp.call(boot_call("2.0.1"))
        answer = await cp.call(call201.SignCertificate(csr=make_csr("SOMEONE-ELSE")))
        assert answer.status == "Rejected"
        assert answer.status_info["reason_code"] == "InvalidCSR"
        await asyncio.sleep(0.2)
        assert cp.signed_chain is None
    request = await sync_to_async(CertificateSigningRequest.objects.get)(
        station__identity="CERT-OWN"
    )
    assert request.status == "Rejected"
    assert "common name" in request.reason


async def test_csr_is_rejected_when_no_ca_is_configured(csms, settings):
    settings.CSMS_CA_CERT_FILE = ""
    async with connect(csms, "CERT-NOCA", "1.6", charge_point_class=Station16) as cp:
        await cp.call(boot_call("1.6"))
        answer = await cp.call(call16.SignCertificate(csr=make_csr("CERT-NOCA")))
        assert answer.status == "Rejected"


class Installing201(ChargePoint201):
    installed: dict

    @on("InstallCertificate")
    async def on_install(self, certificate_type, certificate, **kwargs):
        self.installed = {"type": certificate_type, "pem": certificate}
        return result201.InstallCertificate(status="Accepted")

    @on("GetInstalledCertificateIds")
    async def on_get_ids(self, certificate_type=None, **kwargs):
        data = ca_module.hash_data(self.installed["pem"])
        return result201.GetInstalledCertificateIds(
            status="Accepted",
            certificate_hash_data_chain=[
                {
                    "certificate_type": self.installed["type"],
                    "certificate_hash_data": {
                        "hash_algorithm": data.hash_algorithm,
                        "issuer_name_hash": data.issuer_name_hash,
                        "issuer_key_hash": data.issuer_key_hash,
                        "serial_number": data.serial_number,
                    },
                }
            ],
        )

    @on("DeleteCertificate")
    async def on_delete(self, certificate_hash_data, **kwargs):
        return result201.DeleteCertificate(status="Accepted")


async def test_m03_m04_m05_installed_certificates_are_tracked_through_install_list_and_delete(
    csms, tmp_path
):
    root, cert_file, _ = make_ca(tmp_path, "Operator Root")
    pem = cert_file.read_text()

    @sync_to_async
    def installed():
        return list(
            InstalledCertificate.objects.filter(station__identity="CERT-M05").values_list(
                "certificate_type", "serial_number"
            )
        )

    async with connect(csms, "CERT-M05", "2.0.1", charge_point_class=Installing201) as cp:
        await cp.call(boot_call("2.0.1"))
        outcome = await csms.call(
            "CERT-M05",
            "InstallCertificate",
            {"certificateType": "CSMSRootCertificate", "certificate": pem},
        )
        assert outcome.response["status"] == "Accepted"
        expected = [("CSMSRootCertificate", format(root.serial_number, "x"))]
        assert await installed() == expected
        # The station's own list agrees: the hash data we computed matches the station's.
        await csms.call("CERT-M05", "GetInstalledCertificateIds", {})
        assert await installed() == expected
        data = ca_module.hash_data(pem)
        await csms.call("CERT-M05", "DeleteCertificate", {"certificateHashData": data.as_ocpp()})
        assert await installed() == []


class OcspResponder(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        OcspResponder.received.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.end_headers()
        self.wfile.write(b"\x30\x03\x0a\x01\x06")  # OCSPResponse: unauthorized

    def log_message(self, *args):
        pass


async def test_m06_certificate_status_is_looked_up_at_the_ocsp_responder(csms, tmp_path):
    root, cert_file, _ = make_ca(tmp_path, "V2G Root")
    data = ca_module.hash_data(cert_file.read_text())
    server = HTTPServer(("127.0.0.1", 0), OcspResponder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    request = {
        "hash_algorithm": "SHA256",
        "issuer_name_hash": data.issuer_name_hash,
        "issuer_key_hash": data.issuer_key_hash,
        "serial_number": data.serial_number,
        "responder_url": f"http://127.0.0.1:{server.server_port}/ocsp",
    }
    try:
        async with connect(csms, "CERT-OCSP", "2.0.1") as cp:
            await cp.call(boot_call("2.0.1"))
            answer = await cp.call(call201.GetCertificateStatus(ocsp_request_data=request))
            assert answer.status == "Accepted"
            assert base64.b64decode(answer.ocsp_result) == b"\x30\x03\x0a\x01\x06"
            from cryptography.x509 import ocsp

            sent = ocsp.load_der_ocsp_request(OcspResponder.received[-1])
            assert sent.serial_number == root.serial_number
            down = {**request, "responder_url": "http://127.0.0.1:9/ocsp"}
            answer = await cp.call(call201.GetCertificateStatus(ocsp_request_data=down))
            assert answer.status == "Failed"
    finally:
        server.shutdown()

"""Security profiles 2 and 3 through `python manage.py serve` with an `mtls:` endpoint, run in
a subprocess on the test database, and the `ocpp` package's ChargePoint over wss://."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from ocpp.v201 import ChargePoint as ChargePoint201

from stations import passwords
from stations.models import ChargingStation, SecurityEvent
from tests.certs import Authority
from tests.test_ocpp_core import boot_call

BASE_DIR = Path(settings.BASE_DIR)
PASSWORD = "Correct-Horse-Battery-Staple-42"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_env() -> dict[str, str]:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return {"CSMS_SQLITE_PATH": str(db["NAME"]), "DATABASE_URL": ""}
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return {"DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"}


class Pki:
    def __init__(self, directory: Path):
        self.ca = Authority(directory, "csms-ca")
        self.server = self.ca.issue("localhost", server=True)
        self.rsa_server = self.ca.issue("localhost", server=True, rsa_key=True)
        self.rogue_ca = Authority(directory, "rogue-ca")

    def client_context(self, cert=None) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca.path))
        if cert is not None:
            context.load_cert_chain(str(cert.cert), str(cert.key))
        return context


@pytest.fixture(scope="module")
def tls_server(django_db_setup, tmp_path_factory):
    """`manage.py serve` with one plain and one mtls endpoint, in a subprocess."""
    pki = Pki(tmp_path_factory.mktemp("pki"))
    tls_port, ssl_port, plain_port = _free_port(), _free_port(), _free_port()
    env = {
        **os.environ,
        **_database_env(),
        "CSMS_MESSAGE_LOG": "false",
        "CSMS_ALLOW_UNKNOWN_STATIONS": "false",
    }
    endpoint = (
        f"mtls:port={tls_port}:interface=127.0.0.1:privateKey={pki.server.key}"
        f":certKey={pki.server.cert}:caCerts={pki.ca.path}"
        f":secondPrivateKey={pki.rsa_server.key}:secondCertKey={pki.rsa_server.cert}"
    )
    # Twisted's own TLS endpoint (profile 2 only: it asks for no client certificate).
    ssl_endpoint = f"ssl:{ssl_port}:interface=127.0.0.1:privateKey={pki.server.key}" + (
        f":certKey={pki.server.cert}"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "serve",
            "--bind",
            "127.0.0.1",
            "--port",
            str(plain_port),
            "-e",
            endpoint,
            "-e",
            ssl_endpoint,
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    for port in (tls_port, ssl_port, plain_port):
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    raise RuntimeError(process.stderr.read().decode()[-3000:]) from None
                time.sleep(0.1)
    pki.ssl_url = f"wss://localhost:{ssl_port}"
    yield pki, f"wss://localhost:{tls_port}", f"ws://127.0.0.1:{plain_port}"
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@sync_to_async
def make_station(identity: str, profile: int, password: str | None = None) -> ChargingStation:
    return ChargingStation.objects.create(
        identity=identity,
        security_profile=profile,
        password_hash=passwords.password_hash(password) if password else "",
    )


def basic(identity: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{identity}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def boots(url: str, identity: str, **kwargs) -> str:
    async with websockets.connect(
        f"{url}/ocpp/{identity}", subprotocols=["ocpp2.0.1"], **kwargs
    ) as ws:
        cp = ChargePoint201(identity, ws, response_timeout=10)
        task = asyncio.create_task(cp.start())
        try:
            return (await cp.call(boot_call("2.0.1"))).status
        finally:
            task.cancel()


async def refused_status(url: str, identity: str, **kwargs) -> int:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{url}/ocpp/{identity}", subprotocols=["ocpp2.0.1"], **kwargs)
    return refused.value.response.status_code


@sync_to_async
def events_of(identity: str) -> list[str]:
    return list(SecurityEvent.objects.filter(identity=identity).values_list("type", flat=True))


async def test_profile2_right_password_over_wss_is_accepted(tls_server, transactional_db):
    pki, wss, _ws = tls_server
    await make_station("SP2-OK", 2, PASSWORD)
    status = await boots(
        wss, "SP2-OK", ssl=pki.client_context(), additional_headers=basic("SP2-OK", PASSWORD)
    )
    assert status == "Accepted"
    assert await events_of("SP2-OK") == []


async def test_profile2_wrong_password_over_wss_is_401_and_a_security_event(
    tls_server, transactional_db
):
    pki, wss, _ws = tls_server
    await make_station("SP2-BAD", 2, PASSWORD)
    status = await refused_status(
        wss, "SP2-BAD", ssl=pki.client_context(), additional_headers=basic("SP2-BAD", "x" * 20)
    )
    assert status == 401
    assert await events_of("SP2-BAD") == ["InvalidCredentials"]


async def test_profile2_station_without_tls_is_refused_even_with_the_right_password(
    tls_server, transactional_db
):
    """A05.FR.09 / TC_A_19_CSMS: a connection below the station's profile is refused."""
    _pki, _wss, ws = tls_server
    await make_station("SP2-PLAIN", 2, PASSWORD)
    status = await refused_status(ws, "SP2-PLAIN", additional_headers=basic("SP2-PLAIN", PASSWORD))
    assert status == 401
    assert await events_of("SP2-PLAIN") == ["SecurityProfileDowngrade"]


async def test_profile3_certificate_with_the_station_id_is_accepted(tls_server, transactional_db):
    pki, wss, _ws = tls_server
    await make_station("SP3-OK", 3)
    cert = pki.ca.issue("SP3-OK")
    assert await boots(wss, "SP3-OK", ssl=pki.client_context(cert)) == "Accepted"


async def test_profile3_without_certificate_is_401(tls_server, transactional_db):
    pki, wss, _ws = tls_server
    await make_station("SP3-NOCERT", 3)
    assert await refused_status(wss, "SP3-NOCERT", ssl=pki.client_context()) == 401
    assert await events_of("SP3-NOCERT") == ["InvalidChargingStationCertificate"]


async def test_profile3_certificate_of_another_ca_is_401(tls_server, transactional_db):
    pki, wss, _ws = tls_server
    await make_station("SP3-ROGUE", 3)
    cert = pki.rogue_ca.issue("SP3-ROGUE")
    assert await refused_status(wss, "SP3-ROGUE", ssl=pki.client_context(cert)) == 401
    assert await events_of("SP3-ROGUE") == ["InvalidChargingStationCertificate"]


async def test_profile3_certificate_for_another_station_is_401(tls_server, transactional_db):
    pki, wss, _ws = tls_server
    await make_station("SP3-VICTIM", 3)
    cert = pki.ca.issue("SP3-OTHER")
    assert await refused_status(wss, "SP3-VICTIM", ssl=pki.client_context(cert)) == 401
    assert await events_of("SP3-VICTIM") == ["InvalidChargingStationCertificate"]


async def test_profile3_station_over_plain_ws_is_refused(tls_server, transactional_db):
    _pki, _wss, ws = tls_server
    await make_station("SP3-PLAIN", 3)
    assert await refused_status(ws, "SP3-PLAIN") == 401
    assert await events_of("SP3-PLAIN") == ["SecurityProfileDowngrade"]


async def test_unknown_station_over_wss_gets_the_same_401(tls_server, transactional_db):
    pki, wss, _ws = tls_server
    status = await refused_status(
        wss, "NOBODY", ssl=pki.client_context(), additional_headers=basic("NOBODY", PASSWORD)
    )
    assert status == 401
    assert await events_of("NOBODY") == ["UnknownStation"]


async def test_profile2_over_twisted_ssl_endpoint_and_profile3_refused_there(
    tls_server, transactional_db
):
    """The plain `ssl:` endpoint serves profile 2; it asks for no certificate, so a
    profile 3 station presenting one is still refused."""
    pki, _wss, _ws = tls_server
    await make_station("SSL-2", 2, PASSWORD)
    await make_station("SSL-3", 3)
    status = await boots(
        pki.ssl_url, "SSL-2", ssl=pki.client_context(), additional_headers=basic("SSL-2", PASSWORD)
    )
    assert status == "Accepted"
    cert = pki.ca.issue("SSL-3")
    assert await refused_status(pki.ssl_url, "SSL-3", ssl=pki.client_context(cert)) == 401


# OCPP 2.0.1 A00.FR.318: the four cipher suites the CSMS SHALL offer (OpenSSL names).
A00_FR_318_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
}


@pytest.mark.parametrize("suite", sorted(A00_FR_318_SUITES))
async def test_a00_fr_318_each_required_cipher_suite_handshakes(
    tls_server, transactional_db, suite
):
    """A station whose TLS 1.2 client offers only one of the required suites boots over
    the one `mtls:` endpoint, which holds an ECDSA and an RSA certificate."""
    pki, wss, _ws = tls_server
    identity = f"A00-{suite[4:20]}"
    await make_station(identity, 2, PASSWORD)
    context = pki.client_context()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(A00_FR_318_SUITES[suite])
    async with websockets.connect(
        f"{wss}/ocpp/{identity}",
        subprotocols=["ocpp2.0.1"],
        ssl=context,
        additional_headers=basic(identity, PASSWORD),
    ) as ws:
        negotiated = ws.transport.get_extra_info("ssl_object")
        assert negotiated.cipher()[0] == A00_FR_318_SUITES[suite]
        assert negotiated.version() == "TLSv1.2"
        cp = ChargePoint201(identity, ws, response_timeout=10)
        task = asyncio.create_task(cp.start())
        try:
            assert (await cp.call(boot_call("2.0.1"))).status == "Accepted"
        finally:
            task.cancel()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
async def test_a00_fr_318_tls_below_1_2_is_refused(tls_server, transactional_db, version):
    """A client that speaks only TLS 1.0 or 1.1 (its own security level lowered so that it
    offers them) is refused by the server with a protocol_version alert."""
    pki, wss, _ws = tls_server
    await make_station("A00-OLD-TLS", 2, PASSWORD)
    context = pki.client_context()
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = version
    context.maximum_version = version
    with pytest.raises(ssl.SSLError) as refused:
        await websockets.connect(
            f"{wss}/ocpp/A00-OLD-TLS",
            subprotocols=["ocpp2.0.1"],
            ssl=context,
            additional_headers=basic("A00-OLD-TLS", PASSWORD),
        )
    assert "PROTOCOL_VERSION" in str(refused.value).upper()

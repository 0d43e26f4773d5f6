"""Security catalogue, outbound layer (issue 21, "who may reach what"): every URL the CSMS
calls on someone else's word goes through one allowlist (csms.egress).

Each test is one case of the probe, against the live server with real HTTP receivers: an
Operator token pointed an event subscription and an integrator webhook at 127.0.0.1, and the
internal service's reply was passed on to a station.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from ocpp.v201 import call as call201

from csms import egress
from integrations import config
from integrations.delivery import worker
from integrations.models import EventDelivery, EventSubscription, IntegratorWebhook
from tests.api_helpers import make_user
from tests.http_endpoint import Answer, Endpoint
from tests.live import connect, eventually, raw_connect

INTERNAL_SECRET = {"payload": {"idTokenInfo": {"status": "Accepted"}}, "secret": "internal"}

# Spellings of internal addresses a naive check lets through; the port is the receiver's.
INTERNAL_URLS = [
    "http://127.0.0.1:{port}/hook",
    "http://localhost:{port}/hook",
    "http://hooks.example.com@127.0.0.1:{port}/hook",
    "http://hooks.example.com:x@127.0.0.1:{port}/hook",
    "http://2130706433:{port}/hook",
    "http://0x7f.1:{port}/hook",
    "http://127.1:{port}/hook",
    "http://[::1]:{port}/hook",
    "http://[::ffff:127.0.0.1]:{port}/hook",
    "http://[::ffff:7f00:1]:{port}/hook",
    "http://[64:ff9b::7f00:1]:{port}/hook",
    "http://[2002:7f00:1::]:{port}/hook",
    "http://0.0.0.0:{port}/hook",
    "http://[::]:{port}/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[fe80::1]/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://[fc00::1]/hook",
    "http://[fec0::1]/hook",
    "http://224.0.0.1/hook",
    "http://[ff02::1]/hook",
    "http://240.0.0.1/hook",
    "http://255.255.255.255/hook",
]


@pytest.fixture
def nothing_internal(settings):
    """The production default: no internal network listed."""
    settings.CSMS_OUTBOUND_ALLOWED_NETWORKS = []
    settings.CSMS_OUTBOUND_ALLOWED_HOSTS = []
    config.invalidate()
    yield settings
    worker.flush(10)
    config.invalidate()


def operator_client():
    from rest_framework.test import APIClient

    _, token = make_user("api-operator", "operator")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("template", INTERNAL_URLS)
def test_subscription_to_an_internal_address_is_refused_by_the_api_naming_the_setting(
    nothing_internal, template
):
    response = operator_client().post(
        "/api/event-subscriptions/",
        {
            "name": "probe",
            "url": template.format(port=8000),
            "secret": "k",
            "events": ["station.booted"],
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert egress.NETWORKS_SETTING in response.json()["url"][0]
    assert not EventSubscription.objects.exists()


@pytest.mark.django_db
def test_integrator_webhook_to_loopback_is_refused_by_the_api_and_the_admin(
    nothing_internal, staff_client
):
    response = operator_client().post(
        "/api/integrator-webhooks/",
        {"name": "probe", "url": "http://127.0.0.1:8000/api/", "actions": ["Authorize"]},
        format="json",
    )
    assert response.status_code == 400
    assert egress.NETWORKS_SETTING in response.json()["url"][0]
    page = staff_client.post(
        "/admin/integrations/integratorwebhook/add/",
        {
            "name": "probe",
            "enabled": "on",
            "url": "http://127.0.0.1:8000/api/",
            "actions": "[]",
            "versions": "[]",
            "auth_type": "none",
            "timeout": "5",
            "on_failure": "fallback",
            "priority": "0",
        },
    )
    assert page.status_code == 200  # the form again, with the error
    assert egress.NETWORKS_SETTING in page.content.decode()
    assert not IntegratorWebhook.objects.exists()


@pytest.mark.django_db
def test_subscription_host_not_in_the_allowed_hosts_is_refused(nothing_internal):
    nothing_internal.CSMS_OUTBOUND_ALLOWED_HOSTS = ["hooks.example.com", ".integrator.net"]
    client = operator_client()

    def post(url: str) -> int:
        return client.post(
            "/api/event-subscriptions/",
            {"name": url, "url": url, "secret": "k", "events": ["station.booted"]},
            format="json",
        ).status_code

    assert post("https://evil.example.org/x") == 400
    assert post("https://hooks.example.com.evil.org/x") == 400
    assert post("https://evil.org/?hooks.example.com") == 400
    assert post("https://a.integrator.net/x") == 201
    assert post("https://hooks.example.com/x") == 201


@pytest.mark.django_db
def test_public_addresses_are_allowed_by_default(nothing_internal):
    for url in ("https://93.184.215.14/x", "https://[2606:4700:4700::1111]/x"):
        assert egress.url_problem(url) == "", url


@pytest.mark.parametrize("template", INTERNAL_URLS[:14])
def test_request_time_check_refuses_every_spelling_of_loopback_before_connecting(
    nothing_internal, template
):
    """The save-time check aside, the client itself refuses: nothing reaches the receiver."""
    with Endpoint(lambda r: Answer(body=INTERNAL_SECRET)) as endpoint:
        url = template.format(port=endpoint.server.server_address[1])
        with pytest.raises(httpx.ConnectError, match=egress.NETWORKS_SETTING):
            with egress.client(timeout=5) as client:
                client.post(url, json={})
    assert endpoint.requests == []


async def test_integrator_webhook_stored_towards_an_internal_service_never_reaches_it_and_its_reply_never_reaches_the_station(  # noqa: E501
    csms, nothing_internal
):
    """The probe's case: a webhook at 127.0.0.1 (stored before the check existed, or
    straight into the database) is not called, the station gets the CSMS's own answer."""
    with Endpoint(lambda r: Answer(body=INTERNAL_SECRET)) as internal:
        await sync_to_async(IntegratorWebhook.objects.create)(
            name="probe", url=internal.url, actions=["BootNotification"], on_failure="fallback"
        )
        ws = await raw_connect(csms, "PROBE-INT")
        try:
            await ws.send(
                json.dumps(
                    [
                        2,
                        "b1",
                        "BootNotification",
                        {
                            "chargingStation": {"vendorName": "Acme", "model": "AC-22"},
                            "reason": "PowerUp",
                        },
                    ]
                )
            )
            answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
        finally:
            await ws.close()
    assert internal.requests == []
    assert answer[0] == 3
    assert answer[2]["interval"] == 300  # the CSMS's own BootNotification answer
    assert "secret" not in json.dumps(answer)


async def test_event_subscription_stored_towards_an_internal_service_is_never_posted(
    csms, nothing_internal
):
    with Endpoint(lambda r: Answer(status=204, body=b"")) as internal:
        await sync_to_async(EventSubscription.objects.create)(
            name="probe", url=internal.url, secret="k", events=["station.connected"], max_attempts=1
        )
        async with connect(csms, "PROBE-SUB", "2.0.1"):
            pass

        def failed():
            return EventDelivery.objects.filter(status="failed").first()

        delivery = await eventually(sync_to_async(failed), timeout=10)
    assert internal.requests == []
    assert egress.NETWORKS_SETTING in delivery.error


async def test_command_callback_towards_loopback_is_refused_with_400_naming_the_setting(
    csms, nothing_internal, api
):
    async with connect(csms, "PROBE-CB", "2.0.1") as cp:
        await cp.call(
            call201.BootNotification(
                charging_station={"vendor_name": "Acme", "model": "AC-22"}, reason="PowerUp"
            )
        )
        response = await api.post(
            "/api/stations/PROBE-CB/commands/Reset",
            params={"callback_url": "http://hooks.example.com@[::ffff:127.0.0.1]:8000/hook"},
            json={"type": "Immediate"},
        )
    assert response.status_code == 400
    assert egress.NETWORKS_SETTING in response.json()["callback_url"][0]


async def test_listed_internal_network_is_reached(csms, nothing_internal):
    nothing_internal.CSMS_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with Endpoint(lambda r: Answer(status=204, body=b"")) as receiver:
        await sync_to_async(EventSubscription.objects.create)(
            name="ops", url=receiver.url, secret="k", events=["station.connected"]
        )
        async with connect(csms, "PROBE-OK", "2.0.1"):
            pass
        await eventually(lambda: len(receiver.requests) >= 1, timeout=10)
    assert receiver.requests[0].json()["event"] == "station.connected"


def test_dns_rebinding_a_name_that_passed_at_save_is_checked_again_and_connected_by_the_checked_address(  # noqa: E501
    nothing_internal, monkeypatch
):
    """hooks.rebind.test resolves to a public address when saved, then to 127.0.0.1: the
    request resolves once, refuses, and never connects; with loopback listed it connects to
    the very address it checked (the name resolves nowhere else)."""
    answers = iter(["93.184.215.14", "127.0.0.1", "127.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "hooks.rebind.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with Endpoint(lambda r: Answer(body=INTERNAL_SECRET)) as internal:
        url = f"http://hooks.rebind.test:{internal.server.server_address[1]}/hook"
        assert egress.url_problem(url) == ""  # saved: public then
        with pytest.raises(httpx.ConnectError, match=egress.NETWORKS_SETTING):
            with egress.client(timeout=5) as client:
                client.post(url, json={})
        assert internal.requests == []
        nothing_internal.CSMS_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1"]
        with egress.client(timeout=5) as client:
            assert client.post(url, json={}).status_code == 200
        assert internal.requests[0].headers["host"].startswith("hooks.rebind.test")


def test_station_supplied_ocsp_responder_on_loopback_is_not_asked(nothing_internal):
    from certificates.services import certificate_status_lookup

    with Endpoint(lambda r: Answer(body=b"\x30\x03\x0a\x01\x00")) as responder:
        outcome = certificate_status_lookup(
            request_data={
                "hashAlgorithm": "SHA256",
                "issuerNameHash": "00" * 32,
                "issuerKeyHash": "00" * 32,
                "serialNumber": "01",
                "responderURL": responder.url,
            }
        )
    assert responder.requests == []
    assert not outcome.ok
    assert egress.NETWORKS_SETTING in outcome.reason


def test_former_setting_name_still_restricts_hosts():
    env = dict(os.environ, CSMS_CALLBACK_ALLOWED_HOSTS="hooks.example.com")
    env.pop("CSMS_OUTBOUND_ALLOWED_HOSTS", None)
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.CSMS_OUTBOUND_ALLOWED_HOSTS)",
        ],
        env={**env, "DJANGO_SETTINGS_MODULE": "csms.settings"},
        capture_output=True,
        text=True,
        cwd=django_settings.BASE_DIR,
        check=True,
    )
    assert shown.stdout.strip() == "['hooks.example.com']"


def test_https_receiver_is_reached_through_the_checked_address_with_its_certificate_verified(
    nothing_internal, monkeypatch, tmp_path
):
    import ssl

    from tests.certs import Authority

    authority = Authority(tmp_path, "hooks-ca")
    issued = authority.issue("localhost", server=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(issued.cert, issued.key)
    nothing_internal.CSMS_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1"]
    with Endpoint(lambda r: Answer(body={"ok": True})) as receiver:
        receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
        url = f"https://localhost:{receiver.server.server_address[1]}/hook"
        # Verification stays on: a certificate from a CA the CSMS does not trust fails.
        with pytest.raises(httpx.ConnectError), egress.client(timeout=5) as client:
            client.post(url, json={})
        monkeypatch.setenv("SSL_CERT_FILE", str(authority.path))
        with egress.client(timeout=5) as client:
            assert client.post(url, json={}).json() == {"ok": True}

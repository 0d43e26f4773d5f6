"""CSMS_OUTBOUND_ALLOWED_HOSTS: which hosts a message-API caller may have the CSMS POST to."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from commands.api.serializers import CallOptionsSerializer
from commands.models import Command
from stations.models import ChargingStation
from tests.api_helpers import make_user


def callback_errors(url: str) -> list[str]:
    options = CallOptionsSerializer(data={"callback_url": url})
    return [] if options.is_valid() else [str(e) for e in options.errors["callback_url"]]


def test_any_public_host_is_accepted_when_the_setting_is_empty(settings):
    settings.CSMS_OUTBOUND_ALLOWED_HOSTS = []
    settings.CSMS_OUTBOUND_ALLOWED_NETWORKS = []
    assert callback_errors("http://93.184.215.14:8080/hook") == []
    assert callback_errors("https://hooks.example.com/x") == []
    assert callback_errors("ftp://hooks.example.com/x") != []
    # Internal addresses need their network listed (csms.egress).
    assert "CSMS_OUTBOUND_ALLOWED_NETWORKS" in callback_errors("http://10.0.0.5:8080/hook")[0]
    settings.CSMS_OUTBOUND_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert callback_errors("http://10.0.0.5:8080/hook") == []


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.example.com/x", True),
        ("https://HOOKS.example.com:8443/x", True),
        ("https://a.integrator.net/x", True),
        ("https://integrator.net/x", True),
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://localhost:8000/admin", False),
        ("https://hooks.example.com.evil.org/x", False),
        ("https://evil.org/?hooks.example.com", False),
    ],
)
def test_only_listed_hosts_are_accepted_when_set(settings, url, allowed):
    settings.CSMS_OUTBOUND_ALLOWED_HOSTS = ["hooks.example.com", ".integrator.net"]
    errors = callback_errors(url)
    assert (errors == []) is allowed
    if not allowed:
        assert "CSMS_OUTBOUND_ALLOWED_HOSTS" in errors[0]


@pytest.mark.django_db(transaction=True)
def test_message_api_refuses_a_callback_to_a_host_not_allowed_with_400(settings):
    settings.CSMS_OUTBOUND_ALLOWED_HOSTS = ["hooks.example.com"]
    ChargingStation.objects.create(identity="CP-1", is_online=True, protocol="2.0.1")
    _, token = make_user("operator", "operator")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.post(
        "/api/stations/CP-1/commands/Reset?callback_url=http://127.0.0.1:9/hook",
        {"type": "Immediate"},
        format="json",
    )
    assert response.status_code == 400
    assert "callback_url" in response.json()
    assert not Command.objects.exists()

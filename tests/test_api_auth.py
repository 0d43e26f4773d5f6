"""API authentication and roles: nobody anonymous; Viewers read; Operators write and send."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from commands.models import Command
from stations.models import ChargingStation
from tests.api_helpers import make_user

pytestmark = pytest.mark.django_db


def client_for(token: str | None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.mark.parametrize(
    "url",
    ["/api/stations/", "/api/commands/", "/api/messages/", "/api/boots/", "/api/evses/"],
)
def test_anonymous_requests_are_refused_with_401(url):
    response = APIClient().get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_wrong_token_is_refused_with_401():
    assert client_for("not-a-token").get("/api/stations/").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_anonymous_cannot_send_a_command():
    ChargingStation.objects.create(identity="CP-1", is_online=True, protocol="2.0.1")
    response = APIClient().post(
        "/api/stations/CP-1/commands/Reset", {"type": "Immediate"}, format="json"
    )
    assert response.status_code == 401


def test_groups_exist_with_their_permissions():
    viewers = Group.objects.get(name="Viewers")
    operators = Group.objects.get(name="Operators")
    viewer_perms = set(viewers.permissions.values_list("codename", flat=True))
    operator_perms = set(operators.permissions.values_list("codename", flat=True))
    assert {"view_chargingstation", "view_command", "view_ocppmessage"} <= viewer_perms
    assert not any(p.startswith(("add_", "change_", "delete_")) for p in viewer_perms)
    assert "send_command" not in viewer_perms
    assert {"send_command", "add_chargingstation", "change_chargingstation"} <= operator_perms


def test_user_without_role_cannot_read():
    _, token = make_user("nobody", None)
    assert client_for(token).get("/api/stations/").status_code == 403


def test_viewer_reads_but_cannot_write_or_send():
    ChargingStation.objects.create(identity="CP-1", is_online=True, protocol="2.0.1")
    _, token = make_user("viewer", "viewer")
    client = client_for(token)
    assert client.get("/api/stations/").status_code == 200
    assert client.get("/api/stations/CP-1/").status_code == 200
    assert client.post("/api/stations/", {"station_id": "NEW"}, format="json").status_code == 403
    assert client.patch("/api/stations/CP-1/", {"enabled": False}, format="json").status_code == 403
    assert client.delete("/api/stations/CP-1/").status_code == 403
    assert ChargingStation.objects.get(identity="CP-1").enabled


# The message API runs its database work in threads of their own: the users it checks must
# be committed, hence the transactional database.
@pytest.mark.django_db(transaction=True)
def test_viewer_cannot_send_commands():
    ChargingStation.objects.create(identity="CP-1", is_online=True, protocol="2.0.1")
    _, token = make_user("viewer", "viewer")
    client = client_for(token)
    sent = client.post("/api/stations/CP-1/commands/Reset", {"type": "Immediate"}, format="json")
    assert sent.status_code == 403
    assert "send_command" in sent.json()["detail"]
    reset = client.post("/api/stations/CP-1/reset", {"type": "hard"}, format="json")
    assert reset.status_code == 403
    fan_out = client.post(
        "/api/commands/fan-out",
        {"action": "Reset", "payload": {"type": "Immediate"}, "station_ids": ["CP-1"]},
        format="json",
    )
    assert fan_out.status_code == 403
    assert not Command.objects.exists()


def test_operator_writes_stations():
    _, token = make_user("operator", "operator")
    client = client_for(token)
    created = client.post(
        "/api/stations/", {"station_id": "NEW-1", "security_profile": 1}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["station_id"] == "NEW-1"
    changed = client.patch("/api/stations/NEW-1/", {"enabled": False}, format="json")
    assert changed.status_code == 200
    assert ChargingStation.objects.get(identity="NEW-1").enabled is False
    assert client.delete("/api/stations/NEW-1/").status_code == 204


def test_session_authentication_works_for_logged_in_users():
    user, _ = make_user("browser", "viewer")
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/stations/").status_code == 200

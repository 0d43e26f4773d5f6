"""Security cases of stored secrets, one test per case found by an outside probe: after a
station's password changes, or an integrator webhook is given credentials, the probe is a
read-only (Viewers) API token and a Viewers staff user reading every API list and admin page,
and the database rows themselves."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

import httpx
from asgiref.sync import sync_to_async
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.urls import reverse
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from commands.groups import VIEWERS
from csms.urls import API_ROOT
from integrations import config
from integrations.delivery import worker
from integrations.models import EventSubscription, IntegratorWebhook
from stations import passwords
from stations.message_log import message_log
from stations.models import ChargingStation
from tests.api_helpers import make_user
from tests.http_endpoint import Answer, Endpoint, Request
from tests.live import connect
from tests.test_ocpp_core import boot_call

NOW = "2026-12-07T10:00:00Z"
PASSWORD_VARIABLE = {
    "component": {"name": "SecurityCtrlr"},
    "variable": {"name": "BasicAuthPassword"},
}


# --- the probe -----------------------------------------------------------------------------


def _forms(secret: str) -> list[str]:
    """Every way a station password shows: as is, and the 1.6 AuthorizationKey hex."""
    hexed = secret.encode().hex()
    return [secret, hexed, hexed.upper()]


async def _viewer_reads_every_api_list(csms) -> dict[str, str]:
    """GET every data-API list (and each command's detail) with a Viewers token."""
    _, token = await sync_to_async(make_user)("probe-viewer", "viewer")
    bodies: dict[str, str] = {}
    async with httpx.AsyncClient(
        base_url=csms.http_url, headers={"Authorization": f"Token {token}"}, timeout=30
    ) as viewer:
        for prefix in sorted(API_ROOT):
            answer = await viewer.get(f"/api/{prefix}/", params={"limit": 1000})
            assert answer.status_code == 200, (prefix, answer.status_code)
            bodies[prefix] = answer.text
            if prefix == "commands":
                for record in answer.json()["results"]:
                    detail = await viewer.get(f"/api/commands/{record['id']}/")
                    bodies[f"commands/{record['id']}"] = detail.text
    return bodies


def _viewer_staff_reads_every_admin_page(models: Iterable[type] | None = None) -> dict[str, str]:
    """A staff user with only the Viewers role opens every changelist and change page."""
    user = User.objects.create(username="probe-viewer-staff", is_staff=True)
    user.groups.add(Group.objects.get(name=VIEWERS))
    client = Client()
    client.force_login(user)
    pages: dict[str, str] = {}
    for model, model_admin in admin.site._registry.items():
        if models is not None and model not in models:
            continue
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        answer = client.get(url)
        if answer.status_code == 403:
            continue  # not a Viewers model (auth users, groups)
        pages[url] = answer.content.decode()
        for obj in model_admin.get_queryset(_request(user))[:50]:
            change = reverse(
                f"admin:{meta.app_label}_{meta.model_name}_change", args=[quote(obj.pk)]
            )
            pages[change] = client.get(change).content.decode()
    return pages


def _request(user: User) -> Any:
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _every_stored_row() -> dict[str, str]:
    """Every row of every table of the project, as text."""
    rows: dict[str, str] = {}
    for model in apps.get_models():
        for values in model._base_manager.values():
            rows[f"{model._meta.label}:{values.get('id', values.get('pk'))}"] = json.dumps(
                values, default=str
            )
    return rows


def _leaks(texts: dict[str, str], secrets: list[str]) -> list[str]:
    return sorted(where for where, text in texts.items() if any(s in text for s in secrets))


# --- case: a station's password after a password change -------------------------------------


class CarelessStation201(ChargePoint201):
    """Takes a new password, and reports it back when asked (some stations do)."""

    password = ""

    @on("SetVariables")
    async def on_set_variables(self, set_variable_data, **kwargs):
        for item in set_variable_data:
            if item["variable"]["name"] == "BasicAuthPassword":
                self.password = item["attribute_value"]
        return result201.SetVariables(
            set_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in set_variable_data
            ]
        )

    @on("GetVariables")
    async def on_get_variables(self, get_variable_data, **kwargs):
        return result201.GetVariables(
            get_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "attribute_value": self.password,
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in get_variable_data
            ]
        )


class CarelessStation16(ChargePoint16):
    """Takes a new AuthorizationKey, and reports it back in GetConfiguration."""

    key = ""

    @on("ChangeConfiguration")
    async def on_change_configuration(self, key, value):
        if key == "AuthorizationKey":
            self.key = value
        return result16.ChangeConfiguration(status="Accepted")

    @on("GetConfiguration")
    async def on_get_configuration(self, **kwargs):
        return result16.GetConfiguration(
            configuration_key=[
                {"key": "AuthorizationKey", "readonly": False, "value": self.key},
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
            ]
        )


async def _change_password(api, identity: str) -> str:
    answer = await api.post(f"/api/stations/{identity}/password", json={"setOnCharger": True})
    assert answer.status_code == 200, answer.text
    return answer.json()["password"]


async def _probe_station_password(csms, secrets: list[str]) -> None:
    message_log.flush()
    forms = [form for secret in secrets for form in _forms(secret)]
    api_leaks = _leaks(await _viewer_reads_every_api_list(csms), forms)
    admin_leaks = _leaks(await sync_to_async(_viewer_staff_reads_every_admin_page)(), forms)
    stored_leaks = _leaks(await sync_to_async(_every_stored_row)(), forms)
    leaks = {"api": api_leaks, "admin": admin_leaks, "stored": stored_leaks}
    assert not any(leaks.values()), f"the password shows in {leaks}"


async def test_station_password_201_is_not_readable_by_a_viewer_after_a_password_change(csms, api):
    with Endpoint(lambda request: Answer()) as subscriber:
        # An integrator subscribed to these frames: what it is sent is stored, and redacted.
        await sync_to_async(EventSubscription.objects.create)(
            name="frames",
            url=subscriber.url,
            secret="frames-signing-secret",
            events=["ocpp.message"],
            ocpp_actions=["SetVariables", "GetVariables", "NotifyReport", "NotifyEvent"],
        )
        config.invalidate()
        password, by_hand = await _station_201_password_scenario(csms, api)
        message_log.flush()
        assert worker.flush(10)
    assert len(subscriber.requests) >= 8
    assert _leaks({r.path: r.body.decode() for r in subscriber.requests}, _forms(password)) == []
    await _probe_station_password(csms, [password, by_hand])
    config.invalidate()


async def _station_201_password_scenario(csms, api) -> tuple[str, str]:
    async with connect(csms, "SECRET-201", "2.0.1", charge_point_class=CarelessStation201) as cp:
        await cp.call(boot_call("2.0.1"))
        password = await _change_password(api, "SECRET-201")
        # The station got the real password; the CSMS keeps its hash to admit it.
        assert cp.password == password
        stored = await sync_to_async(ChargingStation.objects.get)(identity="SECRET-201")
        assert passwords.password_matches(password.encode(), stored.password_hash)
        # The station reports it back: in a GetVariables answer, a NotifyReport, a NotifyEvent.
        read = await api.post(
            "/api/stations/SECRET-201/commands/GetVariables",
            json={"getVariableData": [PASSWORD_VARIABLE]},
        )
        assert read.status_code == 200, read.text
        await cp.call(
            call201.NotifyReport(
                request_id=1,
                generated_at=NOW,
                seq_no=0,
                report_data=[
                    {
                        **PASSWORD_VARIABLE,
                        "variable_attribute": [
                            {"type": "Actual", "value": password, "mutability": "WriteOnly"}
                        ],
                    }
                ],
            )
        )
        await cp.call(
            call201.NotifyEvent(
                generated_at=NOW,
                seq_no=0,
                event_data=[
                    {
                        "event_id": 1,
                        "timestamp": NOW,
                        "trigger": "Delta",
                        "actual_value": password,
                        "event_notification_type": "HardWiredNotification",
                        **PASSWORD_VARIABLE,
                    }
                ],
            )
        )
        # An operator sets a password by hand through the message API: its record shows
        # the request redacted, the answer of the call included.
        by_hand = "Typed-By-Hand-Password-123456"
        sent = await api.post(
            "/api/stations/SECRET-201/commands/SetVariables",
            json={"setVariableData": [{**PASSWORD_VARIABLE, "attributeValue": by_hand}]},
        )
        assert sent.status_code == 200, sent.text
        assert cp.password == by_hand
        assert by_hand not in sent.text
    return password, by_hand


async def test_station_password_16_is_not_readable_by_a_viewer_after_a_password_change(csms, api):
    async with connect(csms, "SECRET-16", "1.6", charge_point_class=CarelessStation16) as cp:
        await cp.call(boot_call("1.6"))
        password = await _change_password(api, "SECRET-16")
        assert cp.key == passwords.hex_encode(password)
        stored = await sync_to_async(ChargingStation.objects.get)(identity="SECRET-16")
        assert passwords.password_matches(password.encode(), stored.password_hash)
        read = await api.post("/api/stations/SECRET-16/commands/GetConfiguration", json={})
        assert read.status_code == 200, read.text
        by_hand = "Typed-By-Hand-Key-12"
        sent = await api.post(
            "/api/stations/SECRET-16/commands/ChangeConfiguration",
            json={"key": "AuthorizationKey", "value": passwords.hex_encode(by_hand)},
        )
        assert sent.status_code == 200, sent.text
        assert cp.key == passwords.hex_encode(by_hand)
        assert passwords.hex_encode(by_hand) not in sent.text
    await _probe_station_password(csms, [password, by_hand])


# --- case: integrator webhook credentials ----------------------------------------------------

BASIC_PASSWORD = "integrator-basic-password-7f3a"
BEARER_TOKEN = "integrator-bearer-token-91c2e"


def _authorize_integrator(request: Request) -> Answer:
    return Answer(body={"payload": {"idTokenInfo": {"status": "Accepted"}}})


@sync_to_async
def _in_the_columns(secret: str) -> bool:
    """True if the webhook table's credential columns hold `secret` in plain text."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT password, token FROM integrations_integratorwebhook")
        return any(secret in (column or "") for row in cursor.fetchall() for column in row)


def _admin_change_page(user: User, pk: int) -> str:
    client = Client()
    client.force_login(user)
    url = reverse("admin:integrations_integratorwebhook_change", args=[pk])
    return client.get(url).content.decode()


def _superuser() -> User:
    return User.objects.create(username="probe-superuser", is_staff=True, is_superuser=True)


def _viewer_staff() -> User:
    user = User.objects.create(username="probe-webhook-viewer", is_staff=True)
    user.groups.add(Group.objects.get(name=VIEWERS))
    return user


def _admin_saves_without_touching_the_password(user: User, pk: int) -> int:
    """The superuser saves the change form as shown: the password fields left empty."""
    client = Client()
    client.force_login(user)
    url = reverse("admin:integrations_integratorwebhook_change", args=[pk])
    webhook = IntegratorWebhook.objects.get(pk=pk)
    answer = client.post(
        url,
        {
            "name": webhook.name,
            "enabled": "on",
            "url": webhook.url,
            "actions": json.dumps(webhook.actions),
            "versions": json.dumps(webhook.versions),
            "auth_type": webhook.auth_type,
            "username": webhook.username,
            "password": "",
            "token": "",
            "timeout": "5",
            "on_failure": webhook.on_failure,
            "priority": "0",
        },
    )
    return answer.status_code


async def _authorize(csms, identity: str) -> str:
    async with connect(csms, identity, "2.0.1") as cp:
        await cp.call(boot_call("2.0.1"))
        answer = await cp.call(
            call201.Authorize(id_token={"id_token": "CARD-1", "type": "ISO14443"})
        )
    return answer.id_token_info["status"]


async def test_integrator_webhook_credentials_are_encrypted_at_rest_and_write_only(csms, api):
    config.invalidate()
    with Endpoint(_authorize_integrator) as endpoint:
        created = await api.post(
            "/api/integrator-webhooks/",
            json={
                "name": "billing",
                "url": endpoint.url,
                "actions": ["Authorize"],
                "auth_type": "basic",
                "username": "csms",
                "password": BASIC_PASSWORD,
            },
        )
        assert created.status_code == 201, created.text
        assert BASIC_PASSWORD not in created.text
        assert created.json()["password_set"] is True
        assert created.json()["token_set"] is False
        pk = created.json()["id"]
        # Encrypted at rest: the column holds no plaintext.
        assert not await _in_the_columns(BASIC_PASSWORD)
        # Deliveries still authenticate: the integrator sees the real Basic credentials.
        config.invalidate()
        assert await _authorize(csms, "WEBHOOK-1") == "Accepted"
        expected = "Basic " + base64.b64encode(f"csms:{BASIC_PASSWORD}".encode()).decode()
        assert endpoint.requests[-1].headers["authorization"] == expected

        # Bearer, set through the API; the response says a token is set, never which.
        changed = await api.patch(
            f"/api/integrator-webhooks/{pk}/", json={"auth_type": "bearer", "token": BEARER_TOKEN}
        )
        assert changed.status_code == 200, changed.text
        assert BEARER_TOKEN not in changed.text and changed.json()["token_set"] is True
        assert not await _in_the_columns(BEARER_TOKEN)
        config.invalidate()
        assert await _authorize(csms, "WEBHOOK-2") == "Accepted"
        assert endpoint.requests[-1].headers["authorization"] == f"Bearer {BEARER_TOKEN}"

        # Neither a Viewers token nor a Viewers staff user reads them; nor does the admin
        # form show them to a superuser.
        secrets = [BASIC_PASSWORD, BEARER_TOKEN]
        assert _leaks(await _viewer_reads_every_api_list(csms), secrets) == []
        viewer_page = await sync_to_async(
            lambda: _admin_change_page(_viewer_staff(), pk), thread_sensitive=True
        )()
        assert "billing" in viewer_page and _leaks({"viewer": viewer_page}, secrets) == []
        superuser = await sync_to_async(_superuser)()
        form = await sync_to_async(_admin_change_page)(superuser, pk)
        assert 'type="password"' in form and _leaks({"form": form}, secrets) == []
        # Saved with the password fields left empty: the stored credentials stay.
        assert await sync_to_async(_admin_saves_without_touching_the_password)(superuser, pk) == 302
        stored = await sync_to_async(IntegratorWebhook.objects.get)(pk=pk)
        assert (stored.password, stored.token) == (BASIC_PASSWORD, BEARER_TOKEN)
        config.invalidate()
        assert await _authorize(csms, "WEBHOOK-3") == "Accepted"
        assert endpoint.requests[-1].headers["authorization"] == f"Bearer {BEARER_TOKEN}"
    config.invalidate()


# --- case: station passwords stored before the fix ---------------------------------------------


def _migration(app: str, name: str):
    from importlib import import_module

    return import_module(f"{app}.migrations.{name}")


def test_station_passwords_stored_before_are_redacted_by_the_data_migrations(db):
    import uuid

    from commands.models import Command
    from devicemodel.models import (
        ConfigurationKey,
        DeviceEvent,
        ReportPart,
        ReportRequest,
        Variable,
        VariableAttribute,
        VariableOperation,
    )
    from devicemodel.services import component_get_or_create
    from ocpp_router.datetimes import utcnow
    from stations.models import OcppMessage

    secret, at = "Stored-Before-The-Fix-1234", utcnow()
    station = ChargingStation.objects.create(identity="OLD-ROWS")
    component = component_get_or_create(station_pk=station.pk, component={"name": "securityctrlr"})
    variable = Variable.objects.create(component=component, name="BasicAuthPassword")
    VariableAttribute.objects.create(variable=variable, value=secret, updated=at)
    VariableOperation.objects.create(
        station=station,
        variable=variable,
        kind="SET",
        component_name="SecurityCtrlr",
        variable_name="BasicAuthPassword",
        value=secret,
        status="Accepted",
        timestamp=at,
    )
    ConfigurationKey.objects.create(
        station=station, key="AuthorizationKey", value=secret.encode().hex(), updated=at
    )
    item = {**PASSWORD_VARIABLE, "variableAttribute": [{"value": secret}]}
    report = ReportRequest.objects.create(
        station=station, kind="BaseReport", request_id=1, requested_at=at
    )
    ReportPart.objects.create(
        report=report, seq_no=0, payload={"reportData": [item]}, received_at=at
    )
    event = {**PASSWORD_VARIABLE, "eventId": 1, "actualValue": secret}
    DeviceEvent.objects.create(
        station=station,
        variable=variable,
        event_id=1,
        timestamp=at,
        trigger="Delta",
        actual_value=secret,
        event_notification_type="HardWiredNotification",
        component_name="SecurityCtrlr",
        variable_name="BasicAuthPassword",
        payload=event,
        received_at=at,
    )
    profile = {"configurationSlot": 1, "connectionData": {"basicAuthPassword": secret}}
    Command.objects.create(
        station=station, action="SetNetworkProfile", protocol="2.1", request=profile, created=at
    )
    OcppMessage.objects.create(
        id=uuid.uuid4(),
        station=station,
        timestamp=at,
        direction="in",
        message_type=2,
        action="NotifyReport",
        payload={"requestId": 1, "reportData": [item]},
    )
    assert _leaks(_every_stored_row(), _forms(secret))

    for app, name, function in [
        ("stations", "0008_redact_station_passwords", "redact_message_log"),
        ("devicemodel", "0003_redact_station_passwords", "redact_device_model"),
        ("commands", "0005_redact_station_passwords", "redact_commands"),
    ]:
        getattr(_migration(app, name), function)(apps, None)

    assert _leaks(_every_stored_row(), _forms(secret)) == []
    assert VariableAttribute.objects.get().value == "***"
    assert ConfigurationKey.objects.get().value == "***"

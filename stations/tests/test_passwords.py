"""Station passwords (OCPP A01): rules, hashing cost, the API, set-on-charger, redaction."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission, User
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from rest_framework.test import APIClient

from stations import passwords
from stations.message_log import message_log, redact
from stations.models import ChargingStation, OcppMessage
from tests.live import connect, eventually
from tests.test_ocpp_core import boot_call


def test_a01_generated_password_is_40_characters_of_the_restricted_set():
    password = passwords.password_generate()
    assert len(password) == 40
    assert set(password) <= set(passwords.GENERATED_ALPHABET)
    assert ":" not in passwords.GENERATED_ALPHABET
    assert passwords.password_problem(password) == ""


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("a" * 15, "16 to 64"),
        ("a" * 65, "16 to 64"),
        ("a" * 20 + " ", "only letters"),
        ("pässwordpässword12", "only letters"),
    ],
)
def test_a01_non_compliant_password_is_rejected_with_a_clear_reason(password, problem):
    assert problem in passwords.password_problem(password)


def test_a01_password_hash_is_salted_and_verifies_in_microseconds():
    """A reconnect storm must not pay a slow KDF per handshake (see stations.passwords)."""
    password = passwords.password_generate()
    first, second = passwords.password_hash(password), passwords.password_hash(password)
    assert first != second
    assert password not in first
    started = time.perf_counter()
    for _ in range(1000):
        assert passwords.password_matches(password.encode(), first)
    per_check = (time.perf_counter() - started) / 1000
    assert per_check < 0.001  # PBKDF2 with Django's defaults takes about 0.2 s
    assert not passwords.password_matches(b"x" + password.encode(), first)


def test_a01_basic_credentials_take_ids_holding_a_colon():
    header = "Basic " + base64.b64encode(b"CP:01:secret:with:colons").decode()
    assert passwords.basic_credentials(header, "CP:01") == ("CP:01", b"secret:with:colons")
    assert passwords.basic_credentials("Bearer abc", "CP:01") is None


def test_a01_message_log_redacts_passwords_in_requests_and_answers():
    set_variables = {
        "setVariableData": [
            {
                "attributeValue": "secret-secret-secret",
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
            },
            {
                "attributeValue": "60",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            },
        ]
    }
    redacted = redact("SetVariables", set_variables)
    assert redacted["setVariableData"][0]["attributeValue"] == "***"
    assert redacted["setVariableData"][1]["attributeValue"] == "60"
    assert set_variables["setVariableData"][0]["attributeValue"] == "secret-secret-secret"
    assert redact("ChangeConfiguration", {"key": "AuthorizationKey", "value": "AB"})["value"] == (
        "***"
    )
    assert (
        redact(
            "GetConfiguration",
            {"configurationKey": [{"key": "AuthorizationKey", "readonly": False, "value": "AB"}]},
        )["configurationKey"][0]["value"]
        == "***"
    )


URL = "/api/stations/{}/password"


@pytest.mark.django_db
def test_a01_api_requires_the_change_station_permission():
    ChargingStation.objects.create(identity="API-PERM")
    client = APIClient()
    assert client.post(URL.format("API-PERM"), {}, format="json").status_code in (401, 403)
    client.force_authenticate(User.objects.create_user("viewer"))
    assert client.post(URL.format("API-PERM"), {}, format="json").status_code == 403


def test_a01_api_stores_a_given_password_hashed_and_does_not_echo_it(operator_api):
    ChargingStation.objects.create(identity="API-1")
    response = operator_api.post(
        URL.format("API-1"), {"password": "Given-Password-1234", "setOnCharger": False}, "json"
    )
    assert response.status_code == 200
    assert response.json() == {}
    stored = ChargingStation.objects.get(identity="API-1").password_hash
    assert stored.startswith("station_hmac_sha256$")
    assert "Given-Password-1234" not in stored
    assert passwords.password_matches(b"Given-Password-1234", stored)


def test_a01_api_returns_a_generated_password_once(operator_api):
    ChargingStation.objects.create(identity="API-2")
    response = operator_api.post(URL.format("API-2"), {}, "json")
    generated = response.json()["password"]
    assert len(generated) == 40
    stored = ChargingStation.objects.get(identity="API-2").password_hash
    assert passwords.password_matches(generated.encode(), stored)


def test_a01_api_rejects_a_non_compliant_password(operator_api):
    ChargingStation.objects.create(identity="API-3")
    response = operator_api.post(URL.format("API-3"), {"password": "short"}, "json")
    assert response.status_code == 400
    assert "16 to 64" in response.json()["password"][0]
    assert ChargingStation.objects.get(identity="API-3").password_hash == ""


def test_a01_api_unknown_station_and_offline_station(operator_api):
    assert operator_api.post(URL.format("NOPE"), {}, "json").status_code == 404
    ChargingStation.objects.create(identity="API-OFF")
    response = operator_api.post(URL.format("API-OFF"), {"setOnCharger": True}, "json")
    assert response.status_code == 409
    assert ChargingStation.objects.get(identity="API-OFF").password_hash == ""


class Station201(ChargePoint201):
    answer = "Accepted"

    @on("SetVariables")
    async def on_set_variables(self, set_variable_data, **kwargs):
        self.received = set_variable_data
        return result201.SetVariables(
            set_variable_result=[
                {
                    "attribute_status": self.answer,
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in set_variable_data
            ]
        )


class Station16(ChargePoint16):
    @on("ChangeConfiguration")
    async def on_change_configuration(self, key, value):
        self.received = (key, value)
        return result16.ChangeConfiguration(status="Accepted")


def _post_as_operator(identity: str, body: dict):
    user = User.objects.create_user(f"op-{identity}")
    user.user_permissions.add(Permission.objects.get(codename="change_chargingstation"))
    client = APIClient()
    client.force_authenticate(user)
    return client.post(URL.format(identity), body, "json")


@sync_to_async
def stored_hash(identity: str) -> str:
    return ChargingStation.objects.get(identity=identity).password_hash


async def test_a01_set_on_charger_pushes_set_variables_then_stores_and_the_station_reconnects(csms):
    async with connect(csms, "PUSH-201", "2.0.1", charge_point_class=Station201) as cp:
        await cp.call(boot_call("2.0.1"))
        # The API call runs in a thread of the server's loop, as Django runs a sync view
        # under ASGI (a thread per request context, not the consumers' sync thread).
        response = await csms.run(
            sync_to_async(_post_as_operator, thread_sensitive=False)(
                "PUSH-201", {"setOnCharger": True}
            )
        )
        assert response.status_code == 200, response.json()
        password = response.json()["password"]
        assert cp.received[0]["attribute_value"] == password
        assert cp.received[0]["variable"]["name"] == "BasicAuthPassword"
    assert passwords.password_matches(password.encode(), await stored_hash("PUSH-201"))
    # The password is nowhere in the message log.
    message_log.flush()
    logged = await sync_to_async(
        lambda: [
            str(p)
            for p in OcppMessage.objects.filter(station__identity="PUSH-201").values_list(
                "payload", flat=True
            )
        ]
    )()
    assert any("***" in payload for payload in logged)
    assert not any(password in payload for payload in logged)
    # Raise the station to profile 1: it connects with its new password.
    await sync_to_async(ChargingStation.objects.filter(identity="PUSH-201").update)(
        security_profile=1
    )

    async def offline():
        return not (await sync_to_async(ChargingStation.objects.get)(identity="PUSH-201")).is_online

    await eventually(offline)
    token = base64.b64encode(f"PUSH-201:{password}".encode()).decode()
    async with connect(
        csms, "PUSH-201", "2.0.1", additional_headers={"Authorization": f"Basic {token}"}
    ) as cp:
        assert (await cp.call(boot_call("2.0.1"))).status == "Accepted"


async def test_a01_password_refused_by_the_station_is_not_stored(csms):
    class Refusing(Station201):
        answer = "Rejected"

    async with connect(csms, "PUSH-NO", "2.0.1", charge_point_class=Refusing) as cp:
        await cp.call(boot_call("2.0.1"))
        response = await csms.run(
            sync_to_async(_post_as_operator, thread_sensitive=False)(
                "PUSH-NO", {"password": "Operator-Given-12345", "setOnCharger": True}
            )
        )
        assert response.status_code == 502
        assert "Rejected" in response.json()["detail"]
    assert await stored_hash("PUSH-NO") == ""


async def test_a01_16_set_on_charger_sends_the_authorization_key_hex_encoded(csms):
    async with connect(csms, "PUSH-16", "1.6", charge_point_class=Station16) as cp:
        await cp.call(boot_call("1.6"))
        response = await csms.run(
            sync_to_async(_post_as_operator, thread_sensitive=False)(
                "PUSH-16", {"setOnCharger": True}
            )
        )
        password = response.json()["password"]
        assert len(password) == 20
        assert cp.received == ("AuthorizationKey", password.encode().hex().upper())
    assert passwords.password_matches(password.encode(), await stored_hash("PUSH-16"))


def _admin_action(identity: str):
    from django.test import Client

    admin = User.objects.create_superuser(f"admin-{identity}", password=None)
    client = Client()
    client.force_login(admin)
    pk = ChargingStation.objects.get(identity=identity).pk
    return client.post(
        "/admin/stations/chargingstation/",
        {"action": "set_generated_password", "_selected_action": [pk]},
        follow=True,
    )


async def test_a01_admin_action_sets_a_generated_password_on_the_charger(csms):
    async with connect(csms, "ADMIN-PW", "2.0.1", charge_point_class=Station201) as cp:
        await cp.call(boot_call("2.0.1"))
        response = await csms.run(sync_to_async(_admin_action, thread_sensitive=False)("ADMIN-PW"))
        assert response.status_code == 200
        assert "the station accepted a new password" in response.content.decode()
        password = cp.received[0]["attribute_value"]
        # Shown nowhere: the station has it, the database only its hash.
        assert password not in response.content.decode()
    assert passwords.password_matches(password.encode(), await stored_hash("ADMIN-PW"))


async def _reconnects_at_once(csms, identity: str, version: str, station_class: type) -> str:
    """A profile 1 station answers the password change Accepted and, in the same instant,
    drops its connection and connects again with the new password; the status of the
    boot on that second connection."""
    old = "Old-Password-Of-The-Station-1"
    await sync_to_async(ChargingStation.objects.filter(identity=identity).update)(
        security_profile=1, password_hash=passwords.password_hash(old)
    )
    header = {"Authorization": "Basic " + base64.b64encode(f"{identity}:{old}".encode()).decode()}
    reconnected: asyncio.Future = asyncio.get_running_loop().create_future()

    class Reconnecting(station_class):  # type: ignore[misc, valid-type]
        @after("SetVariables")
        async def reconnect_201(self, **kwargs):
            await self.reconnect()

        @after("ChangeConfiguration")
        async def reconnect_16(self, **kwargs):
            await self.reconnect()

        async def reconnect(self):
            await self._connection.close()
            new = cp_password(self)
            token = base64.b64encode(f"{identity}:{new}".encode()).decode()
            try:
                async with connect(
                    csms, identity, version, additional_headers={"Authorization": f"Basic {token}"}
                ) as again:
                    reconnected.set_result((await again.call(boot_call(version))).status)
            except Exception as refused:
                reconnected.set_result(repr(refused))

    async with connect(
        csms, identity, version, charge_point_class=Reconnecting, additional_headers=header
    ) as cp:
        await cp.call(boot_call(version))
        response = await csms.run(
            sync_to_async(_post_as_operator, thread_sensitive=False)(
                identity, {"setOnCharger": True}
            )
        )
        assert response.status_code == 200, response.json()
        status = await asyncio.wait_for(reconnected, 10)
    assert passwords.password_matches(
        response.json()["password"].encode(), await stored_hash(identity)
    )
    return status


def cp_password(cp) -> str:
    received = cp.received
    if isinstance(received, tuple):  # 1.6 (AuthorizationKey, hex)
        return bytes.fromhex(received[1]).decode()
    return received[0]["attribute_value"]


async def test_a01_station_reconnecting_at_once_with_the_new_password_is_admitted(csms):
    """OCPP 2.0.1 A01.FR.11-12: after answering Accepted the station reconnects with the
    new password; it is admitted even when it is faster than the CSMS storing the answer."""
    await sync_to_async(ChargingStation.objects.create)(identity="A01-FAST")
    assert await _reconnects_at_once(csms, "A01-FAST", "2.0.1", Station201) == "Accepted"


async def test_a01_16_station_reconnecting_at_once_with_the_new_key_is_admitted(csms):
    await sync_to_async(ChargingStation.objects.create)(identity="A01-FAST-16")
    assert await _reconnects_at_once(csms, "A01-FAST-16", "1.6", Station16) == "Accepted"

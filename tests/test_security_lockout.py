"""Security catalogue, authentication layer (issue 21, "who may reach what"): failed
attempts are limited per identity and per source address at every door, with lockout and
back-off (csms.auth_limits), and repeated security events are one row with a count.

The probe's case: 1,000 wrong station passwords in 3.5 s, then the right one worked, and
1,000 security-event rows were written. Every test drives the live server: stations are
raw websocket handshakes (`websockets`) and the `ocpp` package's ChargePoint, the API and
the admin are reached over HTTP (httpx).
"""

from __future__ import annotations

import asyncio
import base64
import re
import time

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from ocpp.v201 import call as call201

from integrations import config
from integrations.delivery import worker
from integrations.models import EventSubscription
from stations import passwords
from stations.models import ChargingStation, SecurityEvent
from tests.api_helpers import make_user
from tests.http_endpoint import Answer, Endpoint
from tests.live import connect, eventually

PASSWORD = "Station-Password-0123456789"


@pytest.fixture
def limits(settings):
    """Small limits, so that the cases stay short: 5 failures per id, 20 per address."""
    settings.CSMS_AUTH_FAILURES_PER_ID = 5
    settings.CSMS_AUTH_FAILURES_PER_ADDRESS = 20
    settings.CSMS_AUTH_FAILURE_WINDOW = 60
    settings.CSMS_AUTH_LOCKOUT = 30
    settings.CSMS_AUTH_LOCKOUT_MAX = 900
    settings.CSMS_ALLOW_UNKNOWN_STATIONS = False
    # One window of security events for the whole test (their windows are aligned to
    # multiples of it since the epoch): a burst straddling two would make two rows a kind.
    settings.CSMS_SECURITY_EVENT_WINDOW = 10**9
    return settings


@sync_to_async
def make_station(identity: str, profile: int = 1) -> ChargingStation:
    return ChargingStation.objects.create(
        identity=identity,
        security_profile=profile,
        password_hash=passwords.password_hash(PASSWORD) if profile else "",
    )


def basic(identity: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{identity}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def handshake(csms, identity: str, password: str | None, **headers: str):
    """The HTTP status of a station's upgrade (101 if accepted) and its response headers."""
    extra = {**(basic(identity, password) if password is not None else {}), **headers}
    try:
        ws = await websockets.connect(
            csms.station_url(identity), subprotocols=["ocpp2.0.1"], additional_headers=extra
        )
    except websockets.InvalidStatus as refused:
        return refused.response.status_code, refused.response.headers
    await ws.close()
    return 101, {}


async def test_station_password_guessing_is_locked_out_and_then_even_the_right_password_gets_429_with_retry_after(  # noqa: E501
    csms, limits
):
    await make_station("LOCK-1")
    statuses = [(await handshake(csms, "LOCK-1", f"wrong-password-{n:04}"))[0] for n in range(5)]
    assert statuses == [401] * 5
    status, headers = await handshake(csms, "LOCK-1", PASSWORD)
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 30


async def test_a_different_station_connects_fine_while_one_is_locked_out(csms, limits):
    await make_station("LOCK-2")
    await make_station("OTHER-2")
    for n in range(6):
        await handshake(csms, "LOCK-2", f"wrong-password-{n:04}")
    assert (await handshake(csms, "LOCK-2", PASSWORD))[0] == 429
    # Same source address (127.0.0.1), another station id: unaffected.
    async with connect(
        csms, "OTHER-2", "2.0.1", additional_headers=basic("OTHER-2", PASSWORD)
    ) as cp:
        answer = await cp.call(
            call201.BootNotification(
                charging_station={"vendor_name": "Acme", "model": "AC-22"}, reason="PowerUp"
            )
        )
    assert answer.status == "Accepted"
    assert (await handshake(csms, "LOCK-2", PASSWORD))[0] == 429


async def test_the_right_password_works_again_once_the_lockout_expires_and_lockouts_back_off(
    csms, limits
):
    limits.CSMS_AUTH_LOCKOUT = 1
    await make_station("LOCK-3")
    for n in range(5):
        await handshake(csms, "LOCK-3", f"wrong-password-{n:04}")
    status, headers = await handshake(csms, "LOCK-3", PASSWORD)
    assert (status, headers["Retry-After"]) == (429, "1")
    await asyncio.sleep(1.1)
    assert (await handshake(csms, "LOCK-3", PASSWORD))[0] == 101
    # The right password cleared the count and the back-off: five more failures lock for
    # the first lockout's length again.
    for n in range(5):
        await handshake(csms, "LOCK-3", f"wrong-password-{n:04}")
    assert (await handshake(csms, "LOCK-3", PASSWORD))[1]["Retry-After"] == "1"
    await asyncio.sleep(1.1)
    # Locked again without a success in between: the lockout doubles.
    for n in range(5):
        assert (await handshake(csms, "LOCK-3", f"wrong-password-{n:04}"))[0] == 401
    status, headers = await handshake(csms, "LOCK-3", PASSWORD)
    assert (status, headers["Retry-After"]) == (429, "2")
    await asyncio.sleep(2.1)
    assert (await handshake(csms, "LOCK-3", PASSWORD))[0] == 101


async def test_a_source_address_trying_many_station_ids_is_locked_out_other_addresses_unaffected(
    csms, limits
):
    limits.CSMS_TRUSTED_PROXIES = ["127.0.0.1"]
    await make_station("GOOD-4")
    attacker = {"X-Forwarded-For": "198.51.100.7"}
    statuses = [
        (await handshake(csms, f"SPRAY-{n}", "wrong-password-0000", **attacker))[0]
        for n in range(20)
    ]
    assert statuses == [401] * 20
    # The address is locked: even a real station with its right password, from there.
    status, headers = await handshake(csms, "GOOD-4", PASSWORD, **attacker)
    assert status == 429 and int(headers["Retry-After"]) > 0
    # The same station from its own address connects.
    assert (await handshake(csms, "GOOD-4", PASSWORD, **{"X-Forwarded-For": "203.0.113.4"}))[
        0
    ] == 101


async def test_a_thousand_wrong_passwords_write_two_security_event_rows_with_counts_and_two_webhooks(  # noqa: E501
    csms, limits
):
    config.invalidate()
    with Endpoint(lambda r: Answer(status=204, body=b"")) as receiver:
        await sync_to_async(EventSubscription.objects.create)(
            name="soc", url=receiver.url, secret="k", events=["security.event"]
        )
        await make_station("FLOOD-5")
        started = time.monotonic()
        for batch in range(20):
            statuses = await asyncio.gather(
                *(handshake(csms, "FLOOD-5", f"wrong-password-{batch:02}{n:02}") for n in range(50))
            )
            assert all(s in (401, 429) for s, _ in statuses)
        elapsed = time.monotonic() - started
        await sync_to_async(worker.flush)(10)
        await eventually(lambda: len(receiver.requests) >= 2, timeout=10)
        await asyncio.sleep(0.5)
    rows = await sync_to_async(list)(
        SecurityEvent.objects.filter(identity="FLOOD-5").order_by("timestamp")
    )
    print(f"1000 wrong passwords in {elapsed:.1f} s: {len(rows)} security-event rows")
    assert [row.type for row in rows] == ["InvalidCredentials", "AuthenticationLockedOut"]
    # Handshakes checked at once before the fifth failure locked the id may still be told
    # 401: at most one per handler thread.
    assert 5 <= rows[0].count <= 5 + settings.CSMS_HANDLER_THREADS
    assert rows[0].count + rows[1].count == 1000
    assert all(row.last_seen >= row.timestamp for row in rows)
    # One webhook per row (the first of its window), not one per attempt.
    assert sorted(r.json()["data"]["type"] for r in receiver.requests) == [
        "AuthenticationLockedOut",
        "InvalidCredentials",
    ]
    assert (await handshake(csms, "FLOOD-5", PASSWORD))[0] == 429
    config.invalidate()


async def test_api_wrong_tokens_are_locked_out_per_address_with_429_retry_after_other_addresses_unaffected(  # noqa: E501
    csms, limits
):
    limits.CSMS_AUTH_FAILURES_PER_ADDRESS = 5
    limits.CSMS_TRUSTED_PROXIES = ["127.0.0.1"]
    _, token = await sync_to_async(make_user)("api-user", "viewer")
    attacker = {"X-Forwarded-For": "198.51.100.8"}
    async with httpx.AsyncClient(base_url=csms.http_url, timeout=10) as client:
        for n in range(5):
            wrong = await client.get(
                "/api/stations/", headers={**attacker, "Authorization": f"Token wrong{n:036}"}
            )
            assert wrong.status_code == 401
        locked = await client.get(
            "/api/stations/", headers={**attacker, "Authorization": f"Token {token}"}
        )
        assert locked.status_code == 429
        assert 1 <= int(locked.headers["Retry-After"]) <= 30
        elsewhere = await client.get(
            "/api/stations/",
            headers={"X-Forwarded-For": "203.0.113.8", "Authorization": f"Token {token}"},
        )
        assert elsewhere.status_code == 200


@sync_to_async
def make_staff(username: str, password: str) -> None:
    User.objects.create_user(username=username, password=password, is_staff=True)


async def admin_login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    page = await client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None
    return await client.post(
        "/admin/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": token.group(1),
            "next": "/admin/",
        },
    )


async def test_admin_login_guessing_is_locked_out_per_user_with_429_other_users_log_in_and_the_right_password_works_after_expiry(  # noqa: E501
    csms, limits
):
    limits.CSMS_AUTH_LOCKOUT = 1
    await make_staff("alice", "alice-right-password")
    await make_staff("bob", "bob-right-password")
    async with httpx.AsyncClient(base_url=csms.http_url, timeout=10) as client:
        for n in range(5):
            failed = await admin_login(client, "alice", f"guess-{n}")
            assert failed.status_code == 200 and "errornote" in failed.text
        locked = await admin_login(client, "alice", "alice-right-password")
        assert locked.status_code == 429
        assert locked.headers["Retry-After"] == "1"
    async with httpx.AsyncClient(base_url=csms.http_url, timeout=10) as other:
        assert (await admin_login(other, "bob", "bob-right-password")).status_code == 302
    await asyncio.sleep(1.1)
    async with httpx.AsyncClient(base_url=csms.http_url, timeout=10) as client:
        assert (await admin_login(client, "alice", "alice-right-password")).status_code == 302


def test_ocpp_s_station_password_guessing_is_locked_out_with_429_and_retry_after(csms, limits):
    from tests.test_soap import NS16, _envelope, _post

    ChargingStation.objects.create(
        identity="SOAP-LOCK",
        security_profile=1,
        password_hash=passwords.password_hash(PASSWORD),
    )
    heartbeat = _envelope("SOAP-LOCK", f'<heartbeatRequest xmlns="{NS16}"/>')
    for n in range(5):
        wrong = _post(csms, heartbeat, **basic("SOAP-LOCK", f"wrong-password-{n:04}"))
        assert wrong.status_code == 401
    locked = _post(csms, heartbeat, **basic("SOAP-LOCK", PASSWORD))
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 30

"""Integrator webhooks (station calls answered by the integrator) and event webhooks."""

from __future__ import annotations

import asyncio
import base64
import json
from urllib.parse import quote

import pytest
import websockets
from asgiref.sync import sync_to_async
from ocpp.v16 import call as call16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201

from integrations import config
from integrations.delivery import retry_delay, verify, worker
from integrations.models import EventDelivery, EventSubscription, IntegratorWebhook
from ocpp_router import errors
from ocpp_router.dispatch import handle_call
from ocpp_router.registry import HOOKS, add_call_interceptor, remove_call_interceptor
from ocpp_router.rpc import Call, CallError, CallResult
from ocpp_router.session import Session
from stations.message_log import message_log
from stations.models import BootNotification, ChargingStation
from tests.http_endpoint import Answer, Endpoint, Request
from tests.live import connect, eventually, raw_connect

BOOT_201 = {
    "chargingStation": {"vendorName": "Acme", "model": "AC-22", "firmwareVersion": "1.0"},
    "reason": "PowerUp",
}
BOOT_16 = {"chargePointVendor": "Acme", "chargePointModel": "AC-22"}
NOW = "2026-11-25T10:00:00Z"


def integrator(request: Request) -> Answer:
    """An integrator's system: accepts boots with interval 77 and only the idToken 'GOOD'."""
    body = request.json()
    payload = body["payload"]
    if body["action"] == "BootNotification":
        return Answer(body={"payload": {"status": "Accepted", "currentTime": NOW, "interval": 77}})
    if body["action"] == "Authorize":
        if "idTag" in payload:
            status = "Accepted" if payload["idTag"] == "GOOD" else "Blocked"
            return Answer(body={"payload": {"idTagInfo": {"status": status}}})
        status = "Accepted" if payload["idToken"]["idToken"] == "GOOD" else "Blocked"
        return Answer(body={"payload": {"idTokenInfo": {"status": status}}})
    return Answer(status=404)


@sync_to_async
def add_webhook(**fields) -> IntegratorWebhook:
    fields.setdefault("name", "integrator")
    webhook = IntegratorWebhook.objects.create(**fields)
    return webhook


@sync_to_async
def add_subscription(**fields) -> EventSubscription:
    return EventSubscription.objects.create(**fields)


@pytest.fixture(autouse=True)
def fresh_config():
    config.invalidate()
    yield
    worker.flush(10)
    config.invalidate()


async def test_integrator_answers_boot_and_authorize_with_basic_auth_and_account(csms):
    with Endpoint(integrator) as endpoint:
        await add_webhook(
            url=endpoint.url,
            actions=["BootNotification", "Authorize"],
            auth_type="basic",
            username="csms",
            password="s3cret:pw",
        )
        ws = await websockets.connect(
            f"{csms.station_url('INT 1')}/{quote('acme-fleet')}", subprotocols=["ocpp2.0.1"]
        )
        cp = ChargePoint201("INT 1", ws, response_timeout=10)
        reader = asyncio.create_task(cp.start())
        try:
            boot = await cp.call(
                call201.BootNotification(
                    charging_station={"vendor_name": "Acme", "model": "AC-22"}, reason="PowerUp"
                )
            )
            assert (boot.status, boot.interval) == ("Accepted", 77)
            good = await cp.call(
                call201.Authorize(id_token={"id_token": "GOOD", "type": "ISO14443"})
            )
            bad = await cp.call(
                call201.Authorize(id_token={"id_token": "EVIL", "type": "ISO14443"})
            )
            assert good.id_token_info["status"] == "Accepted"
            assert bad.id_token_info["status"] == "Blocked"
        finally:
            await ws.close()
            reader.cancel()

    first = endpoint.requests[0]
    expected = "Basic " + base64.b64encode(b"csms:s3cret:pw").decode()
    assert first.headers["authorization"] == expected
    body = first.json()
    assert body["identity"] == "INT 1"
    assert body["account"] == "acme-fleet"
    assert body["action"] == "BootNotification"
    assert body["payload"]["chargingStation"]["vendorName"] == "Acme"
    assert isinstance(body["uniqueId"], str) and body["uniqueId"]
    assert [r.json()["action"] for r in endpoint.requests] == [
        "BootNotification",
        "Authorize",
        "Authorize",
    ]
    # The integrator's boot decision is the station's registration, stored for reconnection.
    station = await sync_to_async(ChargingStation.objects.get)(identity="INT 1")
    assert station.account == "acme-fleet"
    assert station.registration_status == "Accepted"
    boot_row = await sync_to_async(BootNotification.objects.get)(station=station)
    assert (boot_row.status, boot_row.interval, boot_row.vendor) == ("Accepted", 77, "Acme")


async def test_integrator_with_bearer_token_answers_16_authorize(csms):
    with Endpoint(integrator) as endpoint:
        await add_webhook(
            url=endpoint.url,
            actions=["Authorize"],
            versions=["1.6"],
            auth_type="bearer",
            token="tok-123",
        )
        async with connect(csms, "INT-16", "1.6") as cp:
            boot = await cp.call(
                call16.BootNotification(
                    **{"charge_point_vendor": "Acme", "charge_point_model": "AC-22"}
                )
            )
            # BootNotification is not forwarded: our own handler answered it.
            assert boot.interval == 300
            answer = await cp.call(call16.Authorize(id_tag="GOOD"))
            assert answer.id_tag_info["status"] == "Accepted"
    assert len(endpoint.requests) == 1
    assert endpoint.requests[0].headers["authorization"] == "Bearer tok-123"
    assert endpoint.requests[0].json()["account"] == ""


async def _raw_call(ws, message_id: str, action: str, payload: dict) -> list:
    await ws.send(json.dumps([2, message_id, action, payload]))
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


async def test_invalid_integrator_answer_gives_station_internal_error(csms, caplog):
    def wrong(request: Request) -> Answer:
        return Answer(body={"payload": {"status": "Maybe", "currentTime": NOW, "interval": 1}})

    with Endpoint(wrong) as endpoint:
        await add_webhook(url=endpoint.url, actions=["BootNotification"])
        ws = await raw_connect(csms, "INT-BAD")
        try:
            answer = await _raw_call(ws, "m1", "BootNotification", BOOT_201)
        finally:
            await ws.close()
    assert answer[0] == 4
    assert answer[1] == "m1"
    assert answer[2] == "InternalError"
    # The fault is logged with the integrator's body.
    assert any('"Maybe"' in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    station = await sync_to_async(ChargingStation.objects.get)(identity="INT-BAD")
    assert station.registration_status == ""


async def test_integrator_timeout_falls_back_to_own_handler(csms):
    with Endpoint(lambda r: Answer(body={"payload": {}}, delay=2.0)) as endpoint:
        await add_webhook(url=endpoint.url, actions=["BootNotification"], timeout=0.3)
        ws = await raw_connect(csms, "INT-SLOW")
        try:
            answer = await _raw_call(ws, "b1", "BootNotification", BOOT_201)
        finally:
            await ws.close()
    assert answer[0] == 3
    assert answer[2]["status"] == "Accepted"
    assert answer[2]["interval"] == 300  # our own handler's answer
    assert len(endpoint.requests) == 1


async def test_integrator_failure_answers_callerror_when_configured(csms):
    with Endpoint(lambda r: Answer(status=503, body={"error": "down"})) as endpoint:
        await add_webhook(url=endpoint.url, actions=["BootNotification"], on_failure="error")
        ws = await raw_connect(csms, "INT-DOWN", "1.6")
        try:
            answer = await _raw_call(ws, "b1", "BootNotification", BOOT_16)
        finally:
            await ws.close()
    assert answer[:3] == [4, "b1", "InternalError"]


# --- the transport hook itself ------------------------------------------------------------


async def test_call_interceptor_answers_unhandled_action_and_its_answer_is_schema_checked():
    session = Session(station_pk=1, station_id="X", version="2.0.1", registration="Accepted")
    seen = []

    async def interceptor(ctx, payload):
        seen.append((ctx.action, payload))
        if ctx.action == "DataTransfer":
            return {"status": "Accepted"}
        if ctx.action == "Authorize":
            return {"idTokenInfo": {"status": "Dancing"}}
        if ctx.action == "Heartbeat":
            raise errors.SecurityError("no")
        return None

    before = list(HOOKS.interceptors)
    HOOKS.interceptors.clear()
    add_call_interceptor(interceptor)
    try:
        answer, _ = await handle_call(session, Call("1", "DataTransfer", {"vendorId": "acme"}))
        assert isinstance(answer, CallResult) and answer.payload == {"status": "Accepted"}
        bad, _ = await handle_call(
            session, Call("2", "Authorize", {"idToken": {"idToken": "A", "type": "Central"}})
        )
        assert isinstance(bad, CallError) and bad.code == "InternalError"
        # An OcppError raised by the interceptor is the station's CALLERROR; our own
        # Heartbeat handler never runs.
        refused, _ = await handle_call(session, Call("3", "Heartbeat", {}))
        assert isinstance(refused, CallError) and refused.code == "SecurityError"
        # Invalid requests never reach the interceptor.
        invalid, _ = await handle_call(session, Call("4", "DataTransfer", {}))
        assert isinstance(invalid, CallError)
        assert [action for action, _ in seen] == ["DataTransfer", "Authorize", "Heartbeat"]
    finally:
        remove_call_interceptor(interceptor)
        HOOKS.interceptors[:] = before


async def test_call_interceptor_not_consulted_before_boot():
    session = Session(station_pk=1, station_id="X", version="2.0.1")
    called = []

    async def interceptor(ctx, payload):
        called.append(ctx.action)
        return {"status": "Accepted"}

    before = list(HOOKS.interceptors)
    HOOKS.interceptors[:] = [interceptor]
    try:
        answer, _ = await handle_call(session, Call("1", "DataTransfer", {"vendorId": "acme"}))
    finally:
        HOOKS.interceptors[:] = before
    assert isinstance(answer, CallError) and answer.code == "SecurityError"
    assert called == []


# --- event webhooks -----------------------------------------------------------------------


async def test_event_webhooks_are_signed_retried_and_logged(csms, settings):
    settings.CSMS_WEBHOOK_RETRY_BASE = 0.05
    calls = {"n": 0}

    def flaky(request: Request) -> Answer:
        calls["n"] += 1
        # The very first attempt fails: it must be retried.
        return Answer(status=500) if calls["n"] == 1 else Answer(status=204, body=b"")

    with Endpoint(flaky) as endpoint:
        await add_subscription(
            name="ops",
            url=endpoint.url,
            secret="hush",
            events=["station.connected", "station.booted", "ocpp.message"],
            ocpp_actions=["Heartbeat"],
        )
        async with connect(csms, "EV-1", "2.0.1") as cp:
            await cp.call(
                call201.BootNotification(
                    charging_station={"vendor_name": "Acme", "model": "AC-22"}, reason="PowerUp"
                )
            )
            await cp.call(call201.Heartbeat())

        def delivered():
            return EventDelivery.objects.filter(status="delivered").count() >= 4

        await eventually(sync_to_async(delivered), timeout=10)
        await sync_to_async(worker.flush)(10)

    for request in endpoint.requests:
        assert verify(
            "hush",
            request.headers["x-csms-timestamp"],
            request.body,
            request.headers["x-csms-signature"],
        )
        assert not verify(
            "wrong",
            request.headers["x-csms-timestamp"],
            request.body,
            request.headers["x-csms-signature"],
        )
    bodies = [r.json() for r in endpoint.requests]
    kinds = {b["event"] for b in bodies}
    assert kinds == {"station.connected", "station.booted", "ocpp.message"}
    messages = [b for b in bodies if b["event"] == "ocpp.message"]
    assert {(m["data"]["direction"], m["data"]["action"]) for m in messages} == {
        ("in", "Heartbeat"),
        ("out", "Heartbeat"),
    }
    assert all(b["station"] == "EV-1" for b in bodies)
    deliveries = await sync_to_async(list)(EventDelivery.objects.order_by("created"))
    retried = [d for d in deliveries if d.attempts == 2]
    assert len(retried) == 1
    assert [h["status_code"] for h in retried[0].history] == [500, 204]
    assert retried[0].status == "delivered"
    assert all(d.status == "delivered" and d.status_code == 204 for d in deliveries)
    # The retry repeated the same delivery (same id in body and header).
    first_id = endpoint.requests[0].headers["x-csms-delivery"]
    assert sum(r.headers["x-csms-delivery"] == first_id for r in endpoint.requests) == 2
    message_log.flush()


async def test_dead_endpoint_gives_up_after_max_attempts_without_slowing_stations(csms, settings):
    settings.CSMS_WEBHOOK_RETRY_BASE = 0.05
    with Endpoint(lambda r: Answer(status=200, delay=3.0)) as endpoint:
        await add_subscription(
            name="slow",
            url=endpoint.url,
            secret="s",
            events=["station.booted"],
            max_attempts=2,
            timeout=0.2,
        )
        async with connect(csms, "EV-SLOW", "1.6") as cp:
            loop = asyncio.get_running_loop()
            started = loop.time()
            for _ in range(3):
                await cp.call(
                    call16.BootNotification(charge_point_vendor="A", charge_point_model="B")
                )
            assert loop.time() - started < 2

        def failed():
            return EventDelivery.objects.filter(status="failed").count() == 3

        await eventually(sync_to_async(failed), timeout=10)
    delivery = await sync_to_async(EventDelivery.objects.first)()
    assert delivery.attempts == 2
    assert delivery.status_code is None
    assert "Timeout" in delivery.error


def test_retry_delay_grows_exponentially(settings):
    settings.CSMS_WEBHOOK_RETRY_BASE = 2
    settings.CSMS_WEBHOOK_RETRY_MAX = 30
    assert [retry_delay(n) for n in range(1, 6)] == [2, 4, 8, 16, 30]


@pytest.mark.django_db
def test_subscription_api_creates_and_validates(admin_client):
    created = admin_client.post(
        "/api/event-subscriptions/",
        {"name": "a", "url": "http://127.0.0.1:9/x", "secret": "k", "events": ["station.booted"]},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert "secret" not in created.json()
    wrong = admin_client.post(
        "/api/event-subscriptions/",
        {"name": "b", "url": "http://127.0.0.1:9/x", "secret": "k", "events": ["nope"]},
        content_type="application/json",
    )
    assert wrong.status_code == 400
    webhook = admin_client.post(
        "/api/integrator-webhooks/",
        {"name": "i", "url": "http://127.0.0.1:9/x", "auth_type": "bearer"},
        content_type="application/json",
    )
    assert webhook.status_code == 400
    assert "token" in webhook.json()
    assert admin_client.get("/api/event-deliveries/").status_code == 200

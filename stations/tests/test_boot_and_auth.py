"""Boot configuration and gate (OCPP 2.0.1 B01-B04, 1.6 section 4.2), profile 1 Basic auth,
disabled and unknown stations, duplicate connections: through the live server."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time

import pytest
import websockets
from asgiref.sync import sync_to_async
from ocpp.exceptions import SecurityError
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201

from stations import passwords
from stations.models import BootNotification, ChargingStation, SecurityEvent
from tests.live import connect, eventually
from tests.test_ocpp_core import boot_call, heartbeat_call, status_call

PASSWORD = "Station-Password-0123456789"


@sync_to_async
def make_station(identity: str, **fields) -> ChargingStation:
    return ChargingStation.objects.create(identity=identity, **fields)


@sync_to_async
def station(identity: str) -> ChargingStation:
    return ChargingStation.objects.get(identity=identity)


@sync_to_async
def events_of(identity: str) -> list[str]:
    return list(SecurityEvent.objects.filter(identity=identity).values_list("type", flat=True))


def basic(identity: str, password: str | bytes) -> dict[str, str]:
    raw = password if isinstance(password, bytes) else password.encode()
    token = base64.b64encode(identity.encode() + b":" + raw).decode()
    return {"Authorization": f"Basic {token}"}


async def refused_status(csms, identity: str, **kwargs) -> int:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(csms.station_url(identity), subprotocols=["ocpp2.0.1"], **kwargs)
    return refused.value.response.status_code


class Inventory201(ChargePoint201):
    @on("GetBaseReport")
    async def on_get_base_report(self, request_id, report_base, **kwargs):
        self.report_request = (request_id, report_base)
        return result201.GetBaseReport(status="Accepted")


class Triggered201(ChargePoint201):
    @on("TriggerMessage")
    async def on_trigger_message(self, requested_message, **kwargs):
        return result201.TriggerMessage(status="Accepted")


class Inventory16(ChargePoint16):
    @on("GetConfiguration")
    async def on_get_configuration(self, key=None):
        self.asked_configuration = True
        return result16.GetConfiguration(configuration_key=[])


# --- boot flow -------------------------------------------------------------------------


async def test_b02_pending_with_base_report_then_accepted_on_next_boot(csms):
    await make_station(
        "BOOT-P", boot_status="Pending", boot_get_base_report=True, boot_retry_interval=17
    )
    async with connect(csms, "BOOT-P", "2.0.1", charge_point_class=Inventory201) as cp:
        answer = await cp.call(boot_call("2.0.1"))
        assert (answer.status, answer.interval) == ("Pending", 17)
        await eventually(lambda: hasattr(cp, "report_request"))
        assert cp.report_request[1] == "FullInventory"

        async def accepted_next():
            return (await station("BOOT-P")).boot_status == "Accepted"

        await eventually(accepted_next)
        again = await cp.call(boot_call("2.0.1"))
        assert (again.status, again.interval) == ("Accepted", 300)
    assert (
        await sync_to_async(BootNotification.objects.filter(station__identity="BOOT-P").count)()
        == 2
    )


async def test_boot_defaults_come_from_settings_for_auto_commissioned_stations(csms, settings):
    settings.CSMS_BOOT_STATUS = "Pending"
    settings.CSMS_BOOT_RETRY_INTERVAL = 7
    settings.CSMS_BOOT_GET_BASE_REPORT = True
    async with connect(csms, "NEW-PENDING", "2.1") as cp:
        answer = await cp.call(boot_call("2.1"))
        assert (answer.status, answer.interval) == ("Pending", 7)

        async def accepted_next():
            return (await station("NEW-PENDING")).boot_status == "Accepted"

        # The 2.1 ChargePoint without a GetBaseReport handler answers NotImplemented: no
        # inventory, so the station stays Pending.
        with pytest.raises(AssertionError):
            await eventually(accepted_next, timeout=1)
    boots = await sync_to_async(
        lambda: list(
            BootNotification.objects.filter(station__identity="NEW-PENDING").values_list(
                "status", "interval"
            )
        )
    )()
    assert boots == [("Pending", 7)]


async def test_16_pending_with_base_report_sends_get_configuration(csms):
    await make_station("BOOT-16", boot_status="Pending", boot_get_base_report=True)
    async with connect(csms, "BOOT-16", "1.6", charge_point_class=Inventory16) as cp:
        answer = await cp.call(boot_call("1.6"))
        assert (answer.status, answer.interval) == ("Pending", 60)
        await eventually(lambda: getattr(cp, "asked_configuration", False))

        async def accepted_next():
            return (await station("BOOT-16")).boot_status == "Accepted"

        await eventually(accepted_next)
        assert (await cp.call(boot_call("1.6"))).status == "Accepted"


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_b02_b03_unsolicited_requests_before_acceptance_get_security_error(csms, version):
    """TC_B_30_CSMS: while Pending (or Rejected), a Heartbeat or StatusNotification the CSMS
    did not ask for is answered with CALLERROR SecurityError."""
    for status in ("Pending", "Rejected"):
        identity = f"GATE-{status}-{version}"
        await make_station(identity, boot_status=status, heartbeat_interval=99)
        async with connect(csms, identity, version) as cp:
            answer = await cp.call(boot_call(version))
            assert (answer.status, answer.interval) == (status, 60)
            for call in (heartbeat_call(version), status_call(version)):
                with pytest.raises(SecurityError):
                    await cp.call(call, suppress=False)


async def test_b02_pending_station_may_send_what_the_csms_triggered(csms):
    await make_station("GATE-TRIG", boot_status="Pending")
    async with connect(csms, "GATE-TRIG", "2.0.1", charge_point_class=Triggered201) as cp:
        assert (await cp.call(boot_call("2.0.1"))).status == "Pending"
        with pytest.raises(SecurityError):
            await cp.call(heartbeat_call("2.0.1"), suppress=False)
        outcome = await csms.call("GATE-TRIG", "TriggerMessage", {"requestedMessage": "Heartbeat"})
        assert outcome.ok
        assert (await cp.call(heartbeat_call("2.0.1"), suppress=False)).current_time
        # Only what was asked for.
        with pytest.raises(SecurityError):
            await cp.call(status_call("2.0.1"), suppress=False)


async def test_csms_sends_nothing_to_a_rejected_station(csms):
    await make_station("GATE-REJ-SEND", boot_status="Rejected")
    async with connect(csms, "GATE-REJ-SEND", "2.0.1") as cp:
        await cp.call(boot_call("2.0.1"))
        outcome = await csms.call(
            "GATE-REJ-SEND", "GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"}
        )
        assert outcome.status == "error"
        assert outcome.error_code == "SecurityError"


async def test_reconnect_without_boot_is_served_as_accepted_from_the_database(csms):
    async with connect(csms, "RECON", "2.0.1") as cp:
        assert (await cp.call(boot_call("2.0.1"))).status == "Accepted"

    async def offline():
        return not (await station("RECON")).is_online

    await eventually(offline)
    async with connect(csms, "RECON", "2.0.1") as cp:
        assert (await cp.call(heartbeat_call("2.0.1"))).current_time


async def test_auto_commissioning_creates_station_evse_and_connector(csms):
    async with connect(csms, "AUTO-1", "1.6") as cp:
        await cp.call(boot_call("1.6"))
        await cp.call(status_call("1.6"))
    created = await station("AUTO-1")
    assert created.security_profile == 0
    connectors = await sync_to_async(
        lambda: list(created.evses.values_list("evse_id", "connectors__connector_id"))
    )()
    assert connectors == [(1, 1)]


async def test_unknown_station_is_refused_with_401_when_commissioning_is_off(csms, settings):
    settings.CSMS_ALLOW_UNKNOWN_STATIONS = False
    assert await refused_status(csms, "STRANGER") == 401
    assert await events_of("STRANGER") == ["UnknownStation"]
    assert not await sync_to_async(ChargingStation.objects.filter(identity="STRANGER").exists)()


async def test_disabled_station_is_refused_with_the_same_401(csms):
    await make_station("OFF-1", enabled=False)
    assert await refused_status(csms, "OFF-1") == 401
    assert await events_of("OFF-1") == ["StationDisabled"]


# --- profile 1 ----------------------------------------------------------------------------


async def test_profile1_right_password_connects(csms):
    await make_station(
        "SP1-OK", security_profile=1, password_hash=passwords.password_hash(PASSWORD)
    )
    async with connect(csms, "SP1-OK", "2.0.1", additional_headers=basic("SP1-OK", PASSWORD)) as cp:
        assert (await cp.call(boot_call("2.0.1"))).status == "Accepted"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("SP1-X", "wrong-password-0000"),
        basic("SOMEONE-ELSE", PASSWORD),
        {"Authorization": "Basic !!!not-base64"},
    ],
    ids=["missing", "wrong", "other-user", "garbled"],
)
async def test_profile1_missing_or_wrong_credentials_are_401_and_a_security_event(csms, headers):
    await make_station("SP1-X", security_profile=1, password_hash=passwords.password_hash(PASSWORD))
    assert await refused_status(csms, "SP1-X", additional_headers=headers) == 401
    assert await events_of("SP1-X") == ["InvalidCredentials"]


async def test_16_authorization_key_is_accepted_hex_encoded_or_raw(csms):
    """1.6 stations send the AuthorizationKey as we set it (hex) or decoded: accept both."""
    await make_station(
        "SP1-16", security_profile=1, password_hash=passwords.password_hash(PASSWORD)
    )
    for secret in (PASSWORD, passwords.hex_encode(PASSWORD)):
        async with connect(csms, "SP1-16", "1.6", additional_headers=basic("SP1-16", secret)) as cp:
            assert (await cp.call(boot_call("1.6"))).status == "Accepted"

        async def offline():
            return not (await station("SP1-16")).is_online

        await eventually(offline)
    # A station whose stored key is hex text and which sends the decoded bytes.
    key = os.urandom(20)
    await sync_to_async(ChargingStation.objects.filter(identity="SP1-16").update)(
        password_hash=passwords.password_hash(key.hex().upper())
    )
    async with connect(csms, "SP1-16", "1.6", additional_headers=basic("SP1-16", key)) as cp:
        assert (await cp.call(boot_call("1.6"))).status == "Accepted"


# --- second connection with the same id ----------------------------------------------------


async def test_second_connection_is_refused_while_the_first_answers_pings(csms):
    async with connect(csms, "DUP-ALIVE", "2.0.1") as cp:
        await cp.call(boot_call("2.0.1"))
        assert await refused_status(csms, "DUP-ALIVE") == 409
        assert await events_of("DUP-ALIVE") == ["DuplicateConnection"]
        # The first connection is untouched.
        assert (await cp.call(heartbeat_call("2.0.1"))).current_time
        assert (await station("DUP-ALIVE")).is_online


async def test_second_connection_replaces_a_first_that_no_longer_answers(csms, settings):
    settings.CSMS_DUPLICATE_PROBE_TIMEOUT = 0.5
    # A half-open first connection: handshake done, then it never reads (no pongs).
    reader, writer = await asyncio.open_connection(csms.host, csms.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /ocpp/DUP-DEAD HTTP/1.1\r\n"
            f"Host: {csms.host}:{csms.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    assert b"101" in await asyncio.wait_for(reader.readline(), 5)

    async def online_channel():
        found = await station("DUP-DEAD")
        return found.is_online and found.channel_name

    first_channel = await eventually(online_channel)
    started = time.monotonic()
    async with connect(csms, "DUP-DEAD", "2.0.1") as cp:
        assert time.monotonic() - started < 3
        assert (await cp.call(boot_call("2.0.1"))).status == "Accepted"
        # No stale state: the newcomer owns the record; the old socket was closed.
        found = await station("DUP-DEAD")
        assert found.is_online
        assert found.channel_name not in ("", first_channel)
        # The old socket was closed by the server: reading it ends (EOF or reset).
        with contextlib.suppress(ConnectionResetError):
            await asyncio.wait_for(reader.read(), 5)
        assert reader.at_eof() or writer.transport.is_closing()
    writer.close()
    assert await events_of("DUP-DEAD") == []


async def test_a_authenticated_second_connection_replaces_the_first_newest_wins(csms):
    await make_station(
        "DUP-AUTH", security_profile=1, password_hash=passwords.password_hash(PASSWORD)
    )
    auth = {"additional_headers": basic("DUP-AUTH", PASSWORD)}
    async with connect(csms, "DUP-AUTH", "2.0.1", **auth) as first:
        await first.call(boot_call("2.0.1"))
        first_channel = (await station("DUP-AUTH")).channel_name
        # The first still answers pings, but the newcomer proved the password: it wins.
        async with connect(csms, "DUP-AUTH", "2.0.1", **auth) as second:
            assert (await second.call(boot_call("2.0.1"))).status == "Accepted"
            # The old socket was closed cleanly by the server (a close frame, code 1000).
            await asyncio.wait_for(first._connection.wait_closed(), 5)
            assert first._connection.close_code == 1000
            found = await station("DUP-AUTH")
            assert found.is_online and found.channel_name not in ("", first_channel)
            assert (await second.call(heartbeat_call("2.0.1"))).current_time
    assert await events_of("DUP-AUTH") == []


async def test_a_unauthenticated_takeover_of_an_authenticated_station_is_refused(csms):
    await make_station(
        "DUP-HIJACK", security_profile=1, password_hash=passwords.password_hash(PASSWORD)
    )
    async with connect(
        csms, "DUP-HIJACK", "2.0.1", additional_headers=basic("DUP-HIJACK", PASSWORD)
    ) as first:
        await first.call(boot_call("2.0.1"))
        # Without the password the newcomer is refused at the door; the first stays.
        assert await refused_status(csms, "DUP-HIJACK") == 401
        assert (await first.call(heartbeat_call("2.0.1"))).current_time
        assert (await station("DUP-HIJACK")).is_online


# --- behind a TLS-terminating proxy ----------------------------------------------------------


async def test_forwarded_tls_and_certificate_headers_count_only_from_trusted_proxies(
    csms, settings
):
    await make_station(
        "PROXY-2", security_profile=2, password_hash=passwords.password_hash(PASSWORD)
    )
    await make_station("PROXY-3", security_profile=3)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    profile2 = {**forwarded, **basic("PROXY-2", PASSWORD)}
    profile3 = {**forwarded, "X-Client-Cert-CN": "PROXY-3"}
    # The peer (127.0.0.1) is not a trusted proxy: its headers prove nothing.
    settings.CSMS_TRUSTED_PROXIES = []
    assert await refused_status(csms, "PROXY-2", additional_headers=profile2) == 401
    assert await refused_status(csms, "PROXY-3", additional_headers=profile3) == 401
    settings.CSMS_TRUSTED_PROXIES = ["127.0.0.0/8"]
    async with connect(csms, "PROXY-2", "2.0.1", additional_headers=profile2) as cp:
        assert (await cp.call(boot_call("2.0.1"))).status == "Accepted"
        assert (await station("PROXY-2")).remote_address == "203.0.113.9"
    wrong_cn = {**forwarded, "X-Client-Cert-CN": "PROXY-2"}
    assert await refused_status(csms, "PROXY-3", additional_headers=wrong_cn) == 401
    async with connect(csms, "PROXY-3", "2.0.1", additional_headers=profile3) as cp:
        assert (await cp.call(boot_call("2.0.1"))).status == "Accepted"


async def test_profile0_station_from_a_non_loopback_address_is_warned_about(csms, settings, caplog):
    settings.CSMS_TRUSTED_PROXIES = ["127.0.0.1"]
    caplog.set_level("WARNING", logger="stations.connection")
    async with connect(csms, "OPEN-LOCAL", "2.0.1") as cp:
        await cp.call(boot_call("2.0.1"))
    assert "security profile 0" not in caplog.text
    headers = {"X-Forwarded-For": "198.51.100.7"}
    async with connect(csms, "OPEN-REMOTE", "2.0.1", additional_headers=headers) as cp:
        await cp.call(boot_call("2.0.1"))
    assert "OPEN-REMOTE connected from 198.51.100.7 with security profile 0" in caplog.text


async def test_connection_left_online_by_a_crashed_process_is_replaced_quickly(csms):
    """The database says online on a channel nobody reads (its process died): the probe gets
    no acknowledgement within a second and the newcomer takes over."""
    from channels.layers import get_channel_layer

    gone = await csms.run(get_channel_layer().new_channel())
    await make_station("CRASHED", is_online=True, channel_name=gone)
    started = time.monotonic()
    async with connect(csms, "CRASHED", "2.0.1") as cp:
        assert time.monotonic() - started < 2
        assert (await cp.call(boot_call("2.0.1"))).status == "Accepted"
        found = await station("CRASHED")
        assert found.is_online
        assert found.channel_name not in ("", gone)

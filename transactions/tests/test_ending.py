"""Transactions always end (OCPP 2.0.1 E, F, C; 1.6 the same rules): the `ocpp` package's
stations against the live server, and the CSMS ending what a station never will."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201

from tests.api_helpers import make_user
from tests.live import connect, eventually
from tests.test_ocpp_core import boot_call
from tests.test_transactions_live import (
    V2,
    _offline,
    energy,
    make_token,
    transactions_of,
    ts,
    tx_event,
)
from transactions import ending
from transactions.models import IdToken, Transaction

BASES = {"2.0.1": (ChargePoint201, result201), "2.1": (ChargePoint21, result21)}


def status_station(version: str, *, ongoing: bool, queued: bool = False) -> type:
    """A 2.x station that answers GetTransactionStatus as told and counts the questions."""
    base, results = BASES[version]

    class StatusStation(base):
        asked: list[str | None]

        @on("GetTransactionStatus")
        async def on_status(self, transaction_id=None, **kwargs):
            self.asked = [*getattr(self, "asked", []), transaction_id]
            return results.GetTransactionStatus(messages_in_queue=queued, ongoing_indicator=ongoing)

    return StatusStation


class StoppingStation16(ChargePoint16):
    """A 1.6 station that accepts RemoteStopTransaction (and records it)."""

    stops: list[int]

    @on("RemoteStopTransaction")
    async def on_remote_stop(self, transaction_id, **kwargs):
        self.stops = [*getattr(self, "stops", []), transaction_id]
        return result16.RemoteStopTransaction(status="Accepted")


@sync_to_async
def tx(pk: int) -> Transaction:
    return Transaction.objects.get(pk=pk)


@sync_to_async
def end_stale_job() -> str:
    from io import StringIO

    out = StringIO()
    call_command("end_stale_transactions", stdout=out)
    return out.getvalue()


async def start_16(cp, connector: int, tag: str, minutes: float, meter: int = 1000):
    return await cp.call(
        call16.StartTransaction(
            connector_id=connector, id_tag=tag, meter_start=meter, timestamp=ts(minutes)
        )
    )


# --- a newer transaction on the same connector ends the older one ----------------------------


async def test_e_16_start_on_a_connector_with_an_active_transaction_ends_the_older(csms):
    await make_token("GHOST-TAG")
    await make_token("NEXT-TAG")
    async with connect(csms, "SUPER16", "1.6") as cp:
        await cp.call(boot_call("1.6"))
        first = await start_16(cp, 1, "GHOST-TAG", 0)
        # The stop of the first was lost; the connector starts again with another driver.
        second = await start_16(cp, 1, "NEXT-TAG", 30)
        old = await tx(first.transaction_id)
        assert not old.is_active
        assert old.stop_reason == "Other"
        assert "superseded" in old.anomalies
        assert old.ended_by == "csms:superseded"
        assert str(second.transaction_id) in old.end_note
        assert (await tx(second.transaction_id)).is_active
        # The first driver is not locked out by the ghost.
        auth = await cp.call(call16.Authorize(id_tag="GHOST-TAG"))
        assert auth.id_tag_info["status"] == "Accepted"
        # Its StopTransaction arriving late is answered and merged, not a new transaction.
        stop = await cp.call(
            call16.StopTransaction(
                meter_stop=5000,
                timestamp=ts(20),
                transaction_id=first.transaction_id,
                reason="EVDisconnected",
            )
        )
        assert stop is not None
        old = await tx(first.transaction_id)
        assert (old.meter_stop, old.stop_reason) == (5000, "EVDisconnected")
        assert len(await transactions_of("SUPER16")) == 2
        # Another connector's transaction is left alone.
        third = await start_16(cp, 2, "GHOST-TAG", 31)
        assert (await tx(second.transaction_id)).is_active
        assert (await tx(third.transaction_id)).is_active


@pytest.mark.parametrize("version", V2)
async def test_e01_started_on_an_evse_with_an_active_transaction_ends_the_older(csms, version):
    identity = f"SUPER-{version}"
    async with connect(csms, identity, version) as cp:
        await cp.call(boot_call(version))
        await cp.call(
            tx_event(version, "Started", 0, 0, "OLD-1", evse={"id": 1, "connector_id": 1})
        )
        await cp.call(
            tx_event(version, "Updated", 1, 5, "OLD-1", meter_value=energy(version, 5, 1500))
        )
        await cp.call(
            tx_event(version, "Started", 0, 40, "NEW-1", evse={"id": 1, "connector_id": 1})
        )
        await cp.call(
            tx_event(version, "Started", 0, 41, "OTHER-EVSE", evse={"id": 2, "connector_id": 1})
        )
        rows = {t.transaction_id: t for t in await transactions_of(identity)}
        assert not rows["OLD-1"].is_active
        assert rows["OLD-1"].stop_reason == "Other"
        assert "superseded" in rows["OLD-1"].anomalies
        # What was stored stays: its energy.
        assert rows["OLD-1"].energy_wh is not None
        assert rows["NEW-1"].is_active and rows["OTHER-EVSE"].is_active
        # A late Ended of the old one is merged into it.
        await cp.call(
            tx_event(
                version,
                "Ended",
                2,
                10,
                "OLD-1",
                trigger_reason="EVCommunicationLost",
                info={"stopped_reason": "EVDisconnected"},
            )
        )
        old = await sync_to_async(Transaction.objects.get)(transaction_id="OLD-1")
        assert old.stop_reason == "EVDisconnected"
        assert old.event_count == 3
        assert len(await transactions_of(identity)) == 3


# --- the concurrent-transaction check counts only authorized transactions ---------------------


async def test_c_16_a_refused_start_never_blocks_the_token_and_is_ended(csms, settings):
    settings.CSMS_TRANSACTION_RECONNECT_GRACE = 1
    await make_token("LATE-PAY", status="Blocked")
    async with connect(csms, "REFUSED16", "1.6") as cp:
        await cp.call(boot_call("1.6"))
        refused = await start_16(cp, 1, "LATE-PAY", 0)
        assert refused.id_tag_info["status"] == "Blocked"
        # The driver pays; the station never stopped the refused session.
        await sync_to_async(IdToken.objects.filter(value="LATE-PAY").update)(status="Accepted")
        auth = await cp.call(call16.Authorize(id_tag="LATE-PAY"))
        assert auth.id_tag_info["status"] == "Accepted"
        # Once the grace has passed with no message, the job ends it.
        await asyncio.sleep(1.2)
        assert "1 transaction(s) ended" in await end_stale_job()
        ended = await tx(refused.transaction_id)
        assert not ended.is_active
        assert ended.stop_reason == "DeAuthorized"
        assert "refused_not_stopped" in ended.anomalies


# --- after a reboot ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", V2)
async def test_e14_after_a_reboot_a_transaction_the_station_says_is_over_is_ended(csms, version):
    identity = f"REBOOT-{version}"
    station_class = status_station(version, ongoing=False)
    async with connect(csms, identity, version, charge_point_class=station_class) as cp:
        await cp.call(boot_call(version))
        await cp.call(
            tx_event(version, "Started", 0, 0, "LOST-END", evse={"id": 1, "connector_id": 1})
        )
        pk = (await transactions_of(identity))[0].pk
        # The station reboots mid-session and forgets the transaction.
        await cp.call(boot_call(version))

        async def ended():
            return not (await tx(pk)).is_active

        await eventually(ended, timeout=10)
        assert cp.asked == ["LOST-END"]
        row = await tx(pk)
        assert row.stop_reason == "Reboot"
        assert "not_continued" in row.anomalies
        assert row.ended_by == "csms:not_continued"


@pytest.mark.parametrize("version", V2)
async def test_e14_after_a_reboot_an_ongoing_transaction_stays_active(csms, version):
    identity = f"GOESON-{version}"
    station_class = status_station(version, ongoing=True)
    async with connect(csms, identity, version, charge_point_class=station_class) as cp:
        await cp.call(boot_call(version))
        await cp.call(
            tx_event(version, "Started", 0, 0, "GOES-ON", evse={"id": 1, "connector_id": 1})
        )
        pk = (await transactions_of(identity))[0].pk
        await cp.call(boot_call(version))
        await eventually(lambda: getattr(cp, "asked", None), timeout=10)
        await asyncio.sleep(0.3)
        assert (await tx(pk)).is_active


async def test_e_16_after_a_reboot_a_transaction_not_continued_within_the_grace_is_ended(
    csms, settings
):
    settings.CSMS_TRANSACTION_RECONNECT_GRACE = 1
    await make_token("REBOOT-A")
    await make_token("REBOOT-B")
    async with connect(csms, "REBOOT16", "1.6") as cp:
        await cp.call(boot_call("1.6"))
        lost = await start_16(cp, 1, "REBOOT-A", 0)
        kept = await start_16(cp, 2, "REBOOT-B", 0)
        await asyncio.sleep(0.05)
        await cp.call(boot_call("1.6"))
        # The station goes on with the second transaction only.
        await cp.call(
            call16.MeterValues(
                connector_id=2,
                transaction_id=kept.transaction_id,
                meter_value=[
                    {"timestamp": ts(10), "sampled_value": [{"value": "2000", "unit": "Wh"}]}
                ],
            )
        )

        async def lost_ended():
            return not (await tx(lost.transaction_id)).is_active

        await eventually(lost_ended, timeout=10)
        row = await tx(lost.transaction_id)
        assert (row.stop_reason, row.ended_by) == ("Reboot", "csms:not_continued")
        assert "not_continued" in row.anomalies
        assert (await tx(kept.transaction_id)).is_active


async def test_e_16_after_a_reboot_a_connector_reported_idle_ends_its_transaction_at_once(csms):
    """The emulator killed mid-session and started again: its card must work at once, not
    after the reconnect grace (900 s by default)."""
    await make_token("IDLE-A")
    await make_token("IDLE-B")
    async with connect(csms, "IDLE16", "1.6") as cp:
        await cp.call(boot_call("1.6"))
        ghost = await start_16(cp, 1, "IDLE-A", 0)
        charging = await start_16(cp, 2, "IDLE-B", 0)
        await asyncio.sleep(0.05)
        await cp.call(boot_call("1.6"))
        for connector, status in ((1, "Available"), (2, "Charging")):
            await cp.call(
                call16.StatusNotification(
                    connector_id=connector, error_code="NoError", status=status, timestamp=ts(5)
                )
            )

        async def ghost_ended():
            return not (await tx(ghost.transaction_id)).is_active

        await eventually(ghost_ended, timeout=5)
        row = await tx(ghost.transaction_id)
        assert (row.stop_reason, row.ended_by) == ("Reboot", "csms:not_continued")
        assert "connector 1 Available" in row.end_note
        # The connector still charging after the boot keeps its transaction.
        assert (await tx(charging.transaction_id)).is_active
        answer = await cp.call(call16.Authorize(id_tag="IDLE-A"))
        assert answer.id_tag_info["status"] == "Accepted"
        # The StopTransaction the station still delivers is merged, not a second record.
        await cp.call(
            call16.StopTransaction(
                transaction_id=ghost.transaction_id, meter_stop=1500, timestamp=ts(6)
            )
        )
        row = await tx(ghost.transaction_id)
        assert (row.meter_stop, row.energy_wh, row.is_active) == (1500, 500, False)
        count = Transaction.objects.filter(station__identity="IDLE16", evse_id=1).count
        assert await sync_to_async(count)() == 1


# --- stale transactions, by the job -----------------------------------------------------------


async def test_e_a_transaction_with_no_message_for_the_stale_period_is_ended_by_the_job(
    csms, settings
):
    await make_token("SLEEPY")
    async with connect(csms, "STALE16", "1.6") as cp:
        await cp.call(boot_call("1.6"))
        quiet = await start_16(cp, 1, "SLEEPY", 0)
        settings.CSMS_TRANSACTION_STALE_AFTER = 1
        await asyncio.sleep(1.2)
        # A transaction with a recent message is not stale.
        busy = await start_16(cp, 2, "SLEEPY-2", 0)
        assert "1 transaction(s) ended" in await end_stale_job()
        row = await tx(quiet.transaction_id)
        assert (row.is_active, row.stop_reason, row.ended_by) == (False, "Other", "csms:stale")
        assert "stale" in row.anomalies
        assert "CSMS_TRANSACTION_STALE_AFTER" in row.end_note
        assert (await tx(busy.transaction_id)).is_active
        settings.CSMS_TRANSACTION_STALE_AFTER = 0
        assert "0 transaction(s) ended" in await end_stale_job()


def test_e_stale_job_never_ends_with_the_period_switched_off(db, settings):
    settings.CSMS_TRANSACTION_STALE_AFTER = 0
    assert ending.end_stale() == []


# --- by an operator ---------------------------------------------------------------------------


async def test_e_an_operator_ends_a_transaction_from_the_api_with_and_without_a_stop(csms):
    await make_token("OP-1")
    await make_token("OP-2")
    _, operator = await sync_to_async(make_user)("night-shift", "operator")
    _, viewer = await sync_to_async(make_user)("auditor", "viewer")
    async with connect(csms, "OPEND16", "1.6", charge_point_class=StoppingStation16) as cp:
        await cp.call(boot_call("1.6"))
        record_only = await start_16(cp, 1, "OP-1", 0)
        with_stop = await start_16(cp, 2, "OP-2", 0)
        url = "/api/transactions/{}/end/"
        async with httpx.AsyncClient(base_url=csms.http_url, timeout=30) as http:
            refused = await http.post(
                url.format(record_only.transaction_id),
                json={"note": "x"},
                headers={"Authorization": f"Token {viewer}"},
            )
            assert refused.status_code == 403
            auth = {"Authorization": f"Token {operator}"}
            done = await http.post(
                url.format(record_only.transaction_id),
                json={"note": "driver called: car left at 18:00"},
                headers=auth,
            )
            assert done.status_code == 200, done.text
            body = done.json()
            assert (body["is_active"], body["ended_by"]) == (False, "night-shift")
            assert body["end_note"] == "driver called: car left at 18:00"
            assert "ended_by_operator" in body["anomalies"]
            assert not getattr(cp, "stops", [])
            again = await http.post(url.format(record_only.transaction_id), json={}, headers=auth)
            assert again.status_code == 409
            stopped = await http.post(
                url.format(with_stop.transaction_id), json={"stop_at_station": True}, headers=auth
            )
            assert stopped.status_code == 200, stopped.text
            assert stopped.json()["station_answer"] == "Accepted"
            assert stopped.json()["stop_reason"] == "Remote"
            assert cp.stops == [with_stop.transaction_id]
        # The command sent is recorded as the operator's.
        from commands.models import Command

        command = await sync_to_async(
            Command.objects.filter(action="RemoteStopTransaction").select_related("created_by").get
        )()
        assert command.created_by.username == "night-shift"
        # The station's StopTransaction after the remote stop is merged.
        await cp.call(
            call16.StopTransaction(
                meter_stop=4000,
                timestamp=ts(15),
                transaction_id=with_stop.transaction_id,
                reason="Remote",
            )
        )
        assert (await tx(with_stop.transaction_id)).meter_stop == 4000
        assert len(await transactions_of("OPEND16")) == 2


async def test_e_an_operator_stop_at_an_offline_station_is_refused_with_the_fix(csms):
    await make_token("GONE")
    _, operator = await sync_to_async(make_user)("day-shift", "operator")
    async with connect(csms, "GONE16", "1.6") as cp:
        await cp.call(boot_call("1.6"))
        start = await start_16(cp, 1, "GONE", 0)
    await eventually(lambda: _offline("GONE16"), timeout=5)
    async with httpx.AsyncClient(base_url=csms.http_url, timeout=30) as http:
        answer = await http.post(
            f"/api/transactions/{start.transaction_id}/end/",
            json={"stop_at_station": True},
            headers={"Authorization": f"Token {operator}"},
        )
    assert answer.status_code == 409
    assert "without stop_at_station" in answer.json()["detail"]
    assert (await tx(start.transaction_id)).is_active


def test_e_an_operator_ends_transactions_from_the_admin(admin_client, db):
    from stations.models import ChargingStation

    station = ChargingStation.objects.create(identity="ADMIN-END")
    row = Transaction.objects.create(
        station=station, ocpp_version="1.6", transaction_id="7", evse_id=1
    )
    response = admin_client.post(
        "/admin/transactions/transaction/",
        {"action": "end_record", "_selected_action": [row.pk]},
        follow=True,
    )
    assert response.status_code == 200
    row.refresh_from_db()
    assert not row.is_active
    assert row.ended_by == "admin"
    assert row.end_note == "ended from the admin"
    assert "ended_by_operator" in row.anomalies
    assert b"1 transaction(s) ended" in response.content


def test_e_ending_an_ended_transaction_changes_nothing(db):
    from stations.models import ChargingStation

    station = ChargingStation.objects.create(identity="TWICE")
    row = Transaction.objects.create(
        station=station, ocpp_version="1.6", transaction_id="8", is_active=False
    )
    assert (
        ending.transaction_end(
            transaction_pk=row.pk, reason="Other", anomaly="stale", ended_by="csms:stale"
        )
        is None
    )
    row.refresh_from_db()
    assert row.ended_by == "" and row.anomalies == []

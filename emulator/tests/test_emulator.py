"""The built-in station emulator against our live server: 20 stations of mixed versions."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from asgiref.sync import sync_to_async

from emulator.stations import (
    EmulatedStation,
    StationConfig,
    Stats,
    configs_from_options,
    load_folder,
    run_stations,
)
from emulator.tags import id_tags_create
from stations.message_log import message_log
from stations.models import BootNotification, ChargingStation, Connector, OcppMessage
from tests.live import eventually
from transactions.models import MeterValue, Transaction


@sync_to_async
def _accepted(identities: list[str]) -> int:
    return ChargingStation.objects.filter(
        identity__in=identities, registration_status="Accepted", is_online=True
    ).count()


@sync_to_async
def _connector_status(identity: str, evse_id: int) -> str:
    connector = Connector.objects.filter(
        evse__station__identity=identity, evse__evse_id=evse_id
    ).first()
    return connector.status if connector else ""


async def test_twenty_emulated_stations_boot_charge_and_obey_csms_calls(csms):
    configs = configs_from_options(
        count=20,
        prefix="EMU-",
        versions=["1.6", "2.0.1", "2.1"],
        url=f"{csms.ws_url}/ocpp",
        meter_interval=0.5,
        plug_in_after=0.5,
        charge_seconds=2.0,
        idle_seconds=0.5,
        connectors=2,
    )
    identities = [c.identity for c in configs]
    # Each emulated station presents its own card (emulate --create-tags); the CSMS knows them.
    assert len({c.id_tag for c in configs}) == 20
    await sync_to_async(id_tags_create)(tags=[c.id_tag for c in configs])
    stats = Stats()
    stop = asyncio.Event()
    run = asyncio.create_task(run_stations(configs, duration=12, stats=stats, stop=stop))
    try:

        async def all_accepted() -> bool:
            return stats.accepted == 20 and await _accepted(identities) == 20

        await eventually(all_accepted, timeout=10)
        by_version = {c.version: c.identity for c in configs}

        # 2.0.1: ChangeAvailability makes EVSE 2 Unavailable, as the station then reports.
        outcome = await csms.call(
            by_version["2.0.1"],
            "ChangeAvailability",
            {"operationalStatus": "Inoperative", "evse": {"id": 2}},
        )
        assert outcome.response["status"] in ("Accepted", "Scheduled")
        await eventually(lambda: _status_is(by_version["2.0.1"], 2, "Unavailable"), timeout=8)

        # 2.x variables and 1.6 configuration are the station's own state.
        outcome = await csms.call(
            by_version["2.1"],
            "SetVariables",
            {
                "setVariableData": [
                    {
                        "attributeValue": "42",
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    }
                ]
            },
        )
        assert outcome.response["setVariableResult"][0]["attributeStatus"] == "Accepted"
        outcome = await csms.call(
            by_version["2.1"],
            "GetVariables",
            {
                "getVariableData": [
                    {
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    },
                    {"component": {"name": "Nope"}, "variable": {"name": "Nothing"}},
                ]
            },
        )
        results = outcome.response["getVariableResult"]
        assert results[0]["attributeValue"] == "42"
        assert results[1]["attributeStatus"] == "UnknownVariable"
        outcome = await csms.call(
            by_version["1.6"], "ChangeConfiguration", {"key": "NumberOfConnectors", "value": "9"}
        )
        assert outcome.response["status"] == "Rejected"  # read-only
        outcome = await csms.call(
            by_version["1.6"], "GetConfiguration", {"key": ["NumberOfConnectors"]}
        )
        assert outcome.response["configurationKey"][0]["value"] == "2"

        # Reset: the station reboots (a second BootNotification).
        outcome = await csms.call(by_version["1.6"], "Reset", {"type": "Soft"})
        assert outcome.response["status"] == "Accepted"
        await eventually(lambda: _boots(by_version["1.6"], 2), timeout=10)
        # TriggerMessage StatusNotification makes a 2.0.1 station report its connectors.
        outcome = await csms.call(
            by_version["2.0.1"], "TriggerMessage", {"requestedMessage": "Heartbeat"}
        )
        assert outcome.response["status"] == "Accepted"
        await run
    finally:
        stop.set()
        await asyncio.gather(run, return_exceptions=True)

    assert stats.sessions > 0
    assert stats.connected == 0
    message_log.flush()
    counts = await sync_to_async(_summary)(identities)
    assert counts["booted"] == 20
    assert counts["with_status"] == 20
    # The emulator charged: its transaction messages reached the CSMS (1.6 StartTransaction
    # and 2.x TransactionEvent with meter values).
    assert counts["transaction_frames"] > 0
    assert counts["meter_frames"] > 0
    # The sessions and their meter values are stored.
    assert counts["transactions"] > 0
    assert counts["meter_rows"] > 0


def _status_is(identity: str, evse_id: int, status: str):
    async def check():
        return await _connector_status(identity, evse_id) == status

    return check()


def _boots(identity: str, count: int):
    return sync_to_async(
        lambda: BootNotification.objects.filter(station__identity=identity).count() >= count
    )()


def _summary(identities: list[str]) -> dict[str, int]:
    stations = ChargingStation.objects.filter(identity__in=identities)
    frames = OcppMessage.objects.filter(station__in=stations, direction="in", message_type=2)
    summary = {
        "booted": stations.filter(boots__isnull=False).distinct().count(),
        "with_status": stations.filter(evses__connectors__status__gt="").distinct().count(),
        "transaction_frames": frames.filter(
            action__in=["StartTransaction", "TransactionEvent"]
        ).count(),
        "meter_frames": frames.filter(action__in=["MeterValues", "TransactionEvent"])
        .filter(payload__has_key="meterValue")
        .count(),
        "transactions": Transaction.objects.filter(station__in=stations).count(),
        "meter_rows": MeterValue.objects.filter(transaction__station__in=stations).count(),
    }
    return summary


def test_station_folder_configurations(tmp_path):
    (tmp_path / "a.json").write_text(
        json.dumps({"identity": "A-1", "version": "1.6", "connectors": 2}), encoding="utf-8"
    )
    (tmp_path / "b.json").write_text(
        json.dumps([{"identity": "B-1"}, {"identity": "B-2", "version": "2.1"}]), encoding="utf-8"
    )
    configs = load_folder(tmp_path, url="ws://example.invalid/ocpp")
    assert [(c.identity, c.version, c.url) for c in configs] == [
        ("A-1", "1.6", "ws://example.invalid/ocpp"),
        ("B-1", "2.0.1", "ws://example.invalid/ocpp"),
        ("B-2", "2.1", "ws://example.invalid/ocpp"),
    ]
    assert configs[0].connectors == 2
    (tmp_path / "c.json").write_text(json.dumps({"identity": "C", "colour": "red"}))
    try:
        load_folder(tmp_path)
    except ValueError as exc:
        assert "colour" in str(exc)
    else:
        raise AssertionError("an unknown setting must be refused")
    try:
        StationConfig(identity="X", version="1.5")
    except ValueError:
        pass
    else:
        raise AssertionError("an unknown version must be refused")


async def test_emulated_station_obeys_pending_then_boots_again(csms):
    """An integrator keeps the station Pending (interval 1 s) once; the emulated station
    waits the interval, boots again and is then Accepted (OCPP 2.0.1 B02)."""
    from integrations import config
    from integrations.models import IntegratorWebhook
    from tests.http_endpoint import Answer, Endpoint

    now = "2026-11-25T10:00:00Z"

    def pending_once(request):
        seen = sum(r.json()["action"] == "BootNotification" for r in endpoint.requests)
        status = "Pending" if seen == 1 else "Accepted"
        return Answer(body={"payload": {"status": status, "currentTime": now, "interval": 1}})

    config.invalidate()
    with Endpoint(pending_once) as endpoint:
        await sync_to_async(IntegratorWebhook.objects.create)(
            name="boot", url=endpoint.url, actions=["BootNotification"]
        )
        station_config = StationConfig(
            identity="EMU-PENDING",
            version="2.0.1",
            url=f"{csms.ws_url}/ocpp",
            plug_in_after=30,
        )
        stats = Stats()
        stop = asyncio.Event()
        run = asyncio.create_task(
            run_stations([station_config], duration=8, stats=stats, stop=stop)
        )
        try:
            await eventually(lambda: stats.accepted == 1, timeout=6)
        finally:
            stop.set()
            stations = await run
    config.invalidate()
    assert stations[0].boots == 2
    assert stations[0].heartbeat_interval == 1
    statuses = await sync_to_async(
        lambda: list(
            BootNotification.objects.filter(station__identity="EMU-PENDING")
            .order_by("timestamp")
            .values_list("status", flat=True)
        )
    )()
    assert statuses == ["Pending", "Accepted"]


async def test_emulated_station_state_follows_remote_start_stop_availability_and_profiles():
    """The station's answers come from its state, and its state from the calls (no CSMS
    here: frames it would send are dropped, so only the station's own logic runs)."""
    station = EmulatedStation(
        StationConfig(identity="LOCAL", version="2.0.1", connectors=2, meter_interval=0.2),
        Stats(),
    )
    assert station.remote_start("TAG", 1, remote_start_id=7)
    # The connector is taken at once: a second remote start on it is refused.
    assert not station.remote_start("TAG", 1, remote_start_id=8)
    connector = station.connectors[1]
    await eventually(lambda: connector.transaction_id is not None, timeout=3)
    assert connector.plugged and connector.status("2.0.1") == "Occupied"
    # A 22 A three-phase profile caps the power below the 11 kW the station would draw.
    assert (
        station.set_profile(
            1,
            {
                "id": 5,
                "charging_profile_purpose": "TxDefaultProfile",
                "stack_level": 0,
                "charging_schedule": [
                    {
                        "charging_rate_unit": "A",
                        "charging_schedule_period": [{"start_period": 0, "limit": 10}],
                    }
                ],
            },
        )
        == "Accepted"
    )
    assert station._power(connector) == 10 * 230 * 3
    assert station._power(station.connectors[2]) == 11_000
    # Taking a charging connector out of service waits for the session to end.
    assert station.change_availability(1, operative=False) == "Scheduled"
    assert station.unlock(1) == "OngoingAuthorizedTransaction"
    transaction_id = connector.transaction_id
    await eventually(lambda: connector.energy_wh > 0, timeout=3)  # metering
    assert not station.remote_stop("no-such-transaction")
    assert station.remote_stop(transaction_id)
    await eventually(lambda: connector.transaction_id is None and not connector.busy, timeout=3)
    assert connector.seq_no >= 3  # Started, Updated..., Ended
    assert not connector.operative and connector.status("2.0.1") == "Unavailable"
    assert not station.remote_start("TAG", 1, remote_start_id=9)  # out of service
    assert station.clear_profiles(None, None, "TxDefaultProfile") == "Accepted"
    assert station.clear_profiles(5, None, None) == "Unknown"
    assert station.change_availability(0, operative=True) == "Accepted"
    assert connector.operative


async def test_emulated_21_station_holds_tariffs_streams_power_and_prices_its_session(csms):
    """2.1: the CSMS sets a default tariff, the emulated station streams its power
    (NotifyPeriodicEventStream) and ends its session with costDetails priced locally."""
    from devicemodel.models import PeriodicEventStreamValue
    from transactions.models import StationTariff, Transaction, TransactionEvent

    await sync_to_async(id_tags_create)(tags=["TAG-EMU21-1"])
    config = StationConfig(
        identity="EMU21-1",
        version="2.1",
        url=f"{csms.ws_url}/ocpp",
        meter_interval=0.3,
        plug_in_after=2.5,
        charge_seconds=3.0,
        idle_seconds=0.5,
    )
    stop = asyncio.Event()
    run = asyncio.create_task(run_stations([config], duration=14, stop=stop))
    try:
        await eventually(lambda: _accepted(["EMU21-1"]), timeout=8)
        tariff = {
            "tariffId": "EMU-T",
            "currency": "EUR",
            "energy": {"prices": [{"priceKwh": 0.5}], "taxRates": [{"type": "VAT", "tax": 20}]},
            "fixedFee": {"prices": [{"priceFixed": 1.0}]},
        }
        outcome = await csms.call("EMU21-1", "SetDefaultTariff", {"evseId": 0, "tariff": tariff})
        assert outcome.response == {"status": "Accepted"}
        outcome = await csms.call("EMU21-1", "GetTariffs", {"evseId": 0})
        assert outcome.response["tariffAssignments"][0]["tariffId"] == "EMU-T"
        assert await StationTariff.objects.filter(station__identity="EMU21-1").acount() == 1

        # I11: the running session's tariff changes; both sides price each part apart.
        running = await eventually(
            lambda: Transaction.objects.filter(
                station__identity="EMU21-1", is_active=True, energy_wh__gt=0
            ).afirst(),
            timeout=8,
        )
        cheaper = {**tariff, "tariffId": "EMU-T2", "energy": {"prices": [{"priceKwh": 0.25}]}}
        outcome = await csms.call(
            "EMU21-1",
            "ChangeTransactionTariff",
            {"transactionId": running.transaction_id, "tariff": cheaper},
        )
        assert outcome.response == {"status": "Accepted"}

        async def ended():
            return await TransactionEvent.objects.filter(
                transaction__station__identity="EMU21-1", kind="Ended"
            ).afirst()

        event = await eventually(ended, timeout=12)
        total = event.payload["costDetails"]["totalCost"]
        assert total["currency"] == "EUR" and total["fixed"]["exclTax"] == 1.0
        assert total["total"]["inclTax"] >= total["total"]["exclTax"] >= 1.0
        # I12: the CSMS prices the session with the tariffs the station held, as it did.
        tx = await Transaction.objects.aget(pk=running.pk)
        assert tx.station_cost is not None and tx.total_cost is not None
        assert abs(tx.station_cost - tx.total_cost) <= Decimal("0.01")
        assert len(tx.tariff_history) == 1
        assert await PeriodicEventStreamValue.objects.filter(
            stream__station__identity="EMU21-1"
        ).aexists()
    finally:
        stop.set()
        await run

"""The 27 actions OCPP 2.1 adds to 2.0.1, end to end: the `ocpp` package's 2.1 ChargePoint
as the station against the live server (a raw frame for the SEND NotifyPeriodicEventStream,
which the library cannot express). One test per action, asserting what the CSMS stored or
what the station received."""

from __future__ import annotations

import asyncio
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from ocpp.routing import on
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call as call21
from ocpp.v21 import call_result as result21

from csms import events
from devicemodel.models import (
    Component,
    PeriodicEventStream,
    PeriodicEventStreamValue,
    Variable,
    VariableMonitor,
)
from smartcharging.models import (
    ChargingProfile,
    DERControl,
    DEREvent,
    DynamicScheduleUpdate,
    GridSignal,
    PriorityCharging,
)
from stations.models import ChargingStation
from tests.live import connect, eventually
from transactions.models import (
    BatterySwap,
    Settlement,
    StationTariff,
    Transaction,
    VatNumberCheck,
    WebPayment,
)

NOW = "2026-12-07T10:00:00Z"
TARIFF = {
    "tariffId": "T-1",
    "currency": "EUR",
    "energy": {"prices": [{"priceKwh": 0.30}], "taxRates": [{"type": "VAT", "tax": 21}]},
}
CURVE = {
    "priority": 1,
    "yUnit": "PctMaxW",
    "curveData": [{"x": 0.9, "y": 100}, {"x": 1.1, "y": 0}],
}


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


class Station21(ChargePoint21):
    """Answers every CSMS -> station action 2.1 adds, remembering what it received."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    def _got(self, action: str, **kwargs: Any) -> None:
        self.received.append((action, kwargs))

    @on("GetBaseReport")
    async def on_get_base_report(self, **kwargs):
        return result21.GetBaseReport(status="Accepted")

    @on("SetDefaultTariff")
    async def on_set_default_tariff(self, **kwargs):
        self._got("SetDefaultTariff", **kwargs)
        return result21.SetDefaultTariff(status="Accepted")

    @on("GetTariffs")
    async def on_get_tariffs(self, **kwargs):
        self._got("GetTariffs", **kwargs)
        return result21.GetTariffs(
            status="Accepted",
            tariff_assignments=[
                {"tariff_id": "T-2", "tariff_kind": "DefaultTariff", "evse_ids": [1]}
            ],
        )

    @on("ClearTariffs")
    async def on_clear_tariffs(self, **kwargs):
        self._got("ClearTariffs", **kwargs)
        return result21.ClearTariffs(
            clear_tariffs_result=[{"tariff_id": "T-1", "status": "Accepted"}]
        )

    @on("ChangeTransactionTariff")
    async def on_change_transaction_tariff(self, **kwargs):
        self._got("ChangeTransactionTariff", **kwargs)
        return result21.ChangeTransactionTariff(status="Accepted")

    @on("SetDERControl")
    async def on_set_der_control(self, **kwargs):
        self._got("SetDERControl", **kwargs)
        return result21.SetDERControl(status="Accepted", superseded_ids=["OLD-1"])

    der_found = True

    @on("GetDERControl")
    async def on_get_der_control(self, **kwargs):
        self._got("GetDERControl", **kwargs)
        return result21.GetDERControl(status="Accepted" if self.der_found else "NotFound")

    @on("ClearDERControl")
    async def on_clear_der_control(self, **kwargs):
        self._got("ClearDERControl", **kwargs)
        return result21.ClearDERControl(status="Accepted")

    @on("AdjustPeriodicEventStream")
    async def on_adjust_periodic_event_stream(self, **kwargs):
        self._got("AdjustPeriodicEventStream", **kwargs)
        return result21.AdjustPeriodicEventStream(status="Accepted")

    @on("GetPeriodicEventStream")
    async def on_get_periodic_event_stream(self, **kwargs):
        self._got("GetPeriodicEventStream", **kwargs)
        return result21.GetPeriodicEventStream(
            constant_stream_data=[
                {"id": 7, "variable_monitoring_id": 3, "params": {"interval": 10, "values": 5}}
            ]
        )

    @on("UpdateDynamicSchedule")
    async def on_update_dynamic_schedule(self, **kwargs):
        self._got("UpdateDynamicSchedule", **kwargs)
        return result21.UpdateDynamicSchedule(status="Accepted")

    @on("UsePriorityCharging")
    async def on_use_priority_charging(self, **kwargs):
        self._got("UsePriorityCharging", **kwargs)
        return result21.UsePriorityCharging(status="Accepted")

    @on("RequestBatterySwap")
    async def on_request_battery_swap(self, **kwargs):
        self._got("RequestBatterySwap", **kwargs)
        return result21.RequestBatterySwap(status="Accepted")

    @on("NotifyAllowedEnergyTransfer")
    async def on_notify_allowed_energy_transfer(self, **kwargs):
        self._got("NotifyAllowedEnergyTransfer", **kwargs)
        return result21.NotifyAllowedEnergyTransfer(status="Accepted")

    @on("NotifyWebPaymentStarted")
    async def on_notify_web_payment_started(self, **kwargs):
        self._got("NotifyWebPaymentStarted", **kwargs)
        return result21.NotifyWebPaymentStarted()

    @on("AFRRSignal")
    async def on_afrr_signal(self, **kwargs):
        self._got("AFRRSignal", **kwargs)
        return result21.AFRRSignal(status="Accepted")


class _Connected:
    def __init__(self, csms, identity: str):
        self.csms = csms
        self.identity = identity

    async def __aenter__(self):
        self._cm = connect(self.csms, self.identity, "2.1", charge_point_class=Station21)
        cp = await self._cm.__aenter__()
        await cp.call(
            call21.BootNotification(
                charging_station={"vendor_name": "Acme", "model": "X21"}, reason="PowerUp"
            )
        )
        return cp

    async def __aexit__(self, *exc):
        return await self._cm.__aexit__(*exc)


def station21(csms, identity: str) -> _Connected:
    """A booted 2.1 station answering every 2.1 CSMS-initiated action."""
    return _Connected(csms, identity)


def _transaction(identity: str, transaction_id: str = "TX-1") -> Transaction:
    station = ChargingStation.objects.get(identity=identity)
    return Transaction.objects.create(
        station=station, ocpp_version="2.1", transaction_id=transaction_id, evse_id=1
    )


def _monitor(identity: str, monitor_id: int) -> VariableMonitor:
    station = ChargingStation.objects.get(identity=identity)
    component = Component.objects.create(station=station, name="EVSE", evse_id=1)
    variable = Variable.objects.create(component=component, name="Power")
    from ocpp_router.datetimes import utcnow

    return VariableMonitor.objects.create(
        station=station,
        variable=variable,
        monitor_id=monitor_id,
        type="Periodic",
        value=10,
        severity=5,
        updated=utcnow(),
    )


# --- station -> CSMS (12) ----------------------------------------------------------------


async def test_battery_swap_events_are_stored(csms):
    async with station21(csms, "V21-SWAP") as cp:
        answer = await cp.call(
            call21.BatterySwap(
                event_type="BatteryIn",
                request_id=5,
                id_token={"id_token": "TOKEN1", "type": "ISO14443"},
                battery_data=[{"evse_id": 1, "serial_number": "B-9", "so_c": 80, "so_h": 95}],
            )
        )
    assert answer is not None
    swap = await db(BatterySwap.objects.get, station__identity="V21-SWAP")
    assert (swap.request_id, swap.event_type, swap.id_token_value) == (5, "BatteryIn", "TOKEN1")
    assert swap.batteries[0]["serialNumber"] == "B-9"


async def test_n11_open_periodic_event_stream_is_tracked_next_to_its_variable(csms):
    async with station21(csms, "V21-OPEN") as cp:
        monitor = await db(_monitor, "V21-OPEN", 3)
        answer = await cp.call(
            call21.OpenPeriodicEventStream(
                constant_stream_data={
                    "id": 1,
                    "variable_monitoring_id": 3,
                    "params": {"interval": 60, "values": 10},
                }
            )
        )
    assert answer.status == "Accepted"
    stream = await db(PeriodicEventStream.objects.get, station__identity="V21-OPEN")
    assert (stream.stream_id, stream.interval, stream.values, stream.is_open) == (1, 60, 10, True)
    assert stream.variable_id == monitor.variable_id


async def test_n13_close_periodic_event_stream_closes_it(csms):
    async with station21(csms, "V21-CLOSE") as cp:
        await cp.call(
            call21.OpenPeriodicEventStream(
                constant_stream_data={"id": 2, "variable_monitoring_id": 4, "params": {}}
            )
        )
        await cp.call(call21.ClosePeriodicEventStream(id=2))
    stream = await db(PeriodicEventStream.objects.get, station__identity="V21-CLOSE")
    assert not stream.is_open and stream.closed_at is not None


async def test_n15_notify_periodic_event_stream_send_is_stored_and_never_answered(csms):
    async with station21(csms, "V21-SEND") as cp:
        await cp.call(
            call21.OpenPeriodicEventStream(
                constant_stream_data={"id": 3, "variable_monitoring_id": 4, "params": {}}
            )
        )
        frame = [
            6,
            "send-1",
            "NotifyPeriodicEventStream",
            {
                "id": 3,
                "pending": 0,
                "basetime": NOW,
                "data": [{"t": 0, "v": "11.5"}, {"t": 1.5, "v": "12.0"}],
            },
        ]
        answers: list[str] = []
        original = cp.route_message

        async def spy(raw):
            answers.append(raw)
            await original(raw)

        cp.route_message = spy
        await cp._connection.send(json.dumps(frame))
        values = await eventually(
            lambda: db(
                lambda: list(
                    PeriodicEventStreamValue.objects.filter(
                        stream__station__identity="V21-SEND"
                    ).values_list("value", "timestamp")
                )
            )
        )
        await asyncio.sleep(0.3)
    assert [value for value, _ in values] == ["11.5", "12.0"]
    assert (values[1][1] - values[0][1]).total_seconds() == 1.5
    assert not any('"send-1"' in raw for raw in answers)


def test_der_events_are_webhook_event_kinds():
    from integrations.choices import EventKind

    assert {"der.alarm", "der.started", "der.stopped"} <= set(EventKind.values)


async def test_get_certificate_chain_status_answers_every_certificate(csms):
    hash_data = {
        "hash_algorithm": "SHA256",
        "issuer_name_hash": "ab" * 32,
        "issuer_key_hash": "cd" * 32,
        "serial_number": "1f",
    }
    async with station21(csms, "V21-CHAIN") as cp:
        answer = await cp.call(
            call21.GetCertificateChainStatus(
                certificate_status_requests=[
                    {
                        "certificate_hash_data": hash_data,
                        "source": "CRL",
                        "urls": ["http://127.0.0.1:9/none.crl"],
                    }
                ]
            )
        )
    [status] = answer.certificate_status
    assert (status["source"], status["status"]) == ("CRL", "Failed")
    assert status["certificate_hash_data"]["serial_number"] == "1f"


async def test_notify_der_alarm_is_stored_and_raised_as_event(csms):
    seen: list[events.Event] = []
    subscriber = events.subscribe(lambda event: seen.append(event))
    try:
        async with station21(csms, "V21-ALARM") as cp:
            await cp.call(
                call21.NotifyDERAlarm(
                    control_type="HVMustTrip", timestamp=NOW, grid_event_fault="OverVoltage"
                )
            )
            await eventually(lambda: any(e.kind == "der.alarm" for e in seen))
    finally:
        events._subscribers.remove(subscriber)
    alarm = await db(DEREvent.objects.get, station__identity="V21-ALARM")
    assert (alarm.kind, alarm.control_type, alarm.grid_event_fault) == (
        "alarm",
        "HVMustTrip",
        "OverVoltage",
    )


async def test_notify_der_start_stop_marks_the_control_active(csms):
    async with station21(csms, "V21-STARTSTOP") as cp:
        await csms.call(
            "V21-STARTSTOP",
            "SetDERControl",
            {"isDefault": False, "controlId": "C-1", "controlType": "VoltWatt", "curve": CURVE},
        )
        await cp.call(call21.NotifyDERStartStop(control_id="C-1", started=True, timestamp=NOW))
    control = await db(DERControl.objects.get, station__identity="V21-STARTSTOP")
    assert control.active
    event = await db(DEREvent.objects.get, station__identity="V21-STARTSTOP")
    assert (event.kind, event.control_type) == ("started", "VoltWatt")


async def test_report_der_control_stores_each_control(csms):
    async with station21(csms, "V21-REPORT") as cp:
        await cp.call(
            call21.ReportDERControl(
                request_id=1,
                curve=[
                    {
                        "id": "K-1",
                        "curve_type": "VoltVar",
                        "is_default": True,
                        "is_superseded": False,
                        "curve": CURVE,
                    }
                ],
                gradient=[
                    {
                        "id": "G-1",
                        "gradient": {"priority": 2, "gradient": 10, "soft_gradient": 5},
                    }
                ],
            )
        )
    controls = await db(
        lambda: list(
            DERControl.objects.filter(station__identity="V21-REPORT")
            .order_by("control_id")
            .values_list("control_id", "control_type", "priority", "status")
        )
    )
    assert controls == [
        ("G-1", "Gradients", 2, "Reported"),
        ("K-1", "VoltVar", 1, "Reported"),
    ]


async def test_notify_priority_charging_is_stored_with_its_transaction(csms):
    async with station21(csms, "V21-PRIO") as cp:
        tx = await db(_transaction, "V21-PRIO")
        await cp.call(call21.NotifyPriorityCharging(transaction_id="TX-1", activated=True))
    row = await db(PriorityCharging.objects.get, station__identity="V21-PRIO")
    assert (row.transaction_id, row.activated, row.origin) == (tx.pk, True, "station")


async def test_notify_settlement_amount_is_kept_on_the_transaction(csms):
    async with station21(csms, "V21-SETTLE") as cp:
        tx = await db(_transaction, "V21-SETTLE")
        answer = await cp.call(
            call21.NotifySettlement(
                transaction_id="TX-1",
                psp_ref="PSP-77",
                status="Settled",
                settlement_amount=12.34,
                settlement_time=NOW,
                receipt_id="R-1",
            )
        )
    assert answer.receipt_id == "R-1"
    settlement = await db(Settlement.objects.get, station__identity="V21-SETTLE")
    assert (settlement.transaction_id, settlement.amount, settlement.status) == (
        tx.pk,
        Decimal("12.34"),
        "Settled",
    )


async def test_pull_dynamic_schedule_update_answers_from_the_stored_profile(csms):
    async with station21(csms, "V21-PULL") as cp:
        station = await db(ChargingStation.objects.get, identity="V21-PULL")
        await db(
            ChargingProfile.objects.create,
            station=station,
            evse_id=1,
            profile_id=31,
            stack_level=0,
            purpose="TxDefaultProfile",
            kind="Dynamic",
            schedules=[
                {
                    "id": 1,
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
                }
            ],
            status="Accepted",
            protocol="2.1",
        )
        known = await cp.call(call21.PullDynamicScheduleUpdate(charging_profile_id=31))
        unknown = await cp.call(call21.PullDynamicScheduleUpdate(charging_profile_id=99))
    assert (known.status, known.schedule_update) == ("Accepted", {"limit": 16.0})
    assert unknown.status == "Rejected"
    assert (
        await db(DynamicScheduleUpdate.objects.filter(station=station, origin="station").count) == 2
    )


async def test_vat_number_validation_is_answered_by_the_local_rules(csms):
    async with station21(csms, "V21-VAT") as cp:
        good = await cp.call(call21.VatNumberValidation(vat_number="NL123456789B01", evse_id=1))
        bad = await cp.call(call21.VatNumberValidation(vat_number="XX12"))
    assert (good.status, good.vat_number, good.evse_id) == ("Accepted", "NL123456789B01", 1)
    assert bad.status == "Rejected"
    statuses = await db(
        lambda: sorted(
            VatNumberCheck.objects.filter(station__identity="V21-VAT").values_list(
                "status", flat=True
            )
        )
    )
    assert statuses == ["Accepted", "Rejected"]


# --- CSMS -> station (15) ----------------------------------------------------------------


async def test_set_default_tariff_is_recorded_as_held_by_the_evse(csms):
    async with station21(csms, "V21-SETTAR") as cp:
        outcome = await csms.call("V21-SETTAR", "SetDefaultTariff", {"evseId": 1, "tariff": TARIFF})
    assert outcome.response == {"status": "Accepted"}
    assert cp.received[0][0] == "SetDefaultTariff"
    row = await db(StationTariff.objects.get, station__identity="V21-SETTAR")
    assert (row.evse_id, row.tariff_id, row.currency, row.status) == (1, "T-1", "EUR", "Accepted")


async def test_a_csms_tariff_is_sent_as_default_to_its_21_station(csms):
    from transactions.models import Tariff
    from transactions.tariffs import tariff_send_default

    async with station21(csms, "V21-SENDTAR") as cp:
        station = await db(ChargingStation.objects.get, identity="V21-SENDTAR")
        tariff = await db(
            Tariff.objects.create,
            name="Night",
            station=station,
            currency="EUR",
            price_per_kwh=Decimal("0.25"),
        )
        # Sent from a worker thread of the server's loop, as the admin does.
        answers = await csms.run(
            sync_to_async(tariff_send_default)(tariff_pk=tariff.pk, origin="test")
        )
    assert answers == [("V21-SENDTAR", "Accepted")]
    sent = cp.received[0][1]["tariff"]
    assert sent["tariff_id"] == f"csms-{tariff.pk}"
    assert sent["energy"]["prices"] == [{"price_kwh": 0.25}]
    assert await db(
        StationTariff.objects.filter(station=station, tariff_id=sent["tariff_id"]).exists
    )


async def test_get_tariffs_keeps_the_record_true(csms):
    async with station21(csms, "V21-GETTAR"):
        await csms.call("V21-GETTAR", "SetDefaultTariff", {"evseId": 1, "tariff": TARIFF})
        outcome = await csms.call("V21-GETTAR", "GetTariffs", {"evseId": 1})
    assert outcome.response["status"] == "Accepted"
    held = await db(
        lambda: list(
            StationTariff.objects.filter(station__identity="V21-GETTAR").values_list(
                "tariff_id", "status"
            )
        )
    )
    assert held == [("T-2", "Reported")]  # T-1 is not reported any more: gone


async def test_clear_tariffs_removes_what_the_station_cleared(csms):
    async with station21(csms, "V21-CLRTAR") as cp:
        await csms.call("V21-CLRTAR", "SetDefaultTariff", {"evseId": 1, "tariff": TARIFF})
        await csms.call("V21-CLRTAR", "ClearTariffs", {"tariffIds": ["T-1"]})
    assert cp.received[-1] == ("ClearTariffs", {"tariff_ids": ["T-1"]})
    assert not await db(StationTariff.objects.filter(station__identity="V21-CLRTAR").exists)


async def test_change_transaction_tariff_is_recorded_for_the_transaction(csms):
    async with station21(csms, "V21-CHGTAR"):
        await db(_transaction, "V21-CHGTAR")
        outcome = await csms.call(
            "V21-CHGTAR", "ChangeTransactionTariff", {"transactionId": "TX-1", "tariff": TARIFF}
        )
    assert outcome.response == {"status": "Accepted"}
    row = await db(StationTariff.objects.get, station__identity="V21-CHGTAR")
    assert (row.transaction_id, row.evse_id, row.tariff_id) == ("TX-1", 1, "T-1")
    tx = await db(Transaction.objects.select_related("tariff").get, transaction_id="TX-1")
    assert tx.tariff.definition == TARIFF  # the CSMS prices the session with it from now on


async def test_set_der_control_stored_and_superseded_marked(csms):
    async with station21(csms, "V21-SETDER") as cp:
        station = await db(ChargingStation.objects.get, identity="V21-SETDER")
        from ocpp_router.datetimes import utcnow

        await db(
            DERControl.objects.create,
            station=station,
            control_id="OLD-1",
            control_type="VoltWatt",
            status="Accepted",
            updated=utcnow(),
        )
        outcome = await csms.call(
            "V21-SETDER",
            "SetDERControl",
            {"isDefault": True, "controlId": "NEW-1", "controlType": "VoltWatt", "curve": CURVE},
        )
    assert outcome.response["status"] == "Accepted"
    assert cp.received[0][1]["control_id"] == "NEW-1"
    statuses = await db(
        lambda: dict(DERControl.objects.filter(station=station).values_list("control_id", "status"))
    )
    assert statuses == {"OLD-1": "Superseded", "NEW-1": "Accepted"}


async def test_get_der_control_is_sent_and_not_found_clears_the_record(csms):
    async with station21(csms, "V21-GETDER") as cp:
        outcome = await csms.call(
            "V21-GETDER", "GetDERControl", {"requestId": 8, "controlType": "VoltVar"}
        )
        assert outcome.response == {"status": "Accepted"}
        assert cp.received == [("GetDERControl", {"request_id": 8, "control_type": "VoltVar"})]
        await csms.call(
            "V21-GETDER",
            "SetDERControl",
            {"isDefault": False, "controlId": "F-1", "controlType": "FreqWatt", "curve": CURVE},
        )
        cp.der_found = False
        await csms.call("V21-GETDER", "GetDERControl", {"requestId": 9})
    control = await db(DERControl.objects.get, station__identity="V21-GETDER")
    assert control.status == "Cleared"


async def test_clear_der_control_marks_the_controls_cleared(csms):
    async with station21(csms, "V21-CLRDER"):
        await csms.call(
            "V21-CLRDER",
            "SetDERControl",
            {"isDefault": True, "controlId": "D-1", "controlType": "VoltWatt", "curve": CURVE},
        )
        await csms.call(
            "V21-CLRDER", "ClearDERControl", {"isDefault": True, "controlType": "VoltWatt"}
        )
    control = await db(DERControl.objects.get, station__identity="V21-CLRDER")
    assert control.status == "Cleared"


async def test_n14_adjust_periodic_event_stream_updates_its_parameters(csms):
    async with station21(csms, "V21-ADJ") as cp:
        await cp.call(
            call21.OpenPeriodicEventStream(
                constant_stream_data={"id": 5, "variable_monitoring_id": 4, "params": {}}
            )
        )
        await csms.call(
            "V21-ADJ", "AdjustPeriodicEventStream", {"id": 5, "params": {"interval": 30}}
        )
    stream = await db(PeriodicEventStream.objects.get, station__identity="V21-ADJ")
    assert stream.interval == 30


async def test_n12_get_periodic_event_stream_reconciles_open_streams(csms):
    async with station21(csms, "V21-GETSTR") as cp:
        await cp.call(
            call21.OpenPeriodicEventStream(
                constant_stream_data={"id": 6, "variable_monitoring_id": 4, "params": {}}
            )
        )
        await csms.call("V21-GETSTR", "GetPeriodicEventStream", {})
    streams = await db(
        lambda: dict(
            PeriodicEventStream.objects.filter(station__identity="V21-GETSTR").values_list(
                "stream_id", "is_open"
            )
        )
    )
    assert streams == {6: False, 7: True}


async def test_update_dynamic_schedule_is_sent_and_recorded(csms):
    async with station21(csms, "V21-UPD") as cp:
        outcome = await csms.call(
            "V21-UPD",
            "UpdateDynamicSchedule",
            {"chargingProfileId": 31, "scheduleUpdate": {"limit": 10.0}},
        )
    assert outcome.response == {"status": "Accepted"}
    assert cp.received[0][1]["schedule_update"] == {"limit": 10.0}
    row = await db(DynamicScheduleUpdate.objects.get, station__identity="V21-UPD")
    assert (row.origin, row.status, row.schedule_update) == ("csms", "Accepted", {"limit": 10.0})


async def test_use_priority_charging_is_recorded_with_the_answer(csms):
    async with station21(csms, "V21-USEPRIO"):
        await db(_transaction, "V21-USEPRIO")
        await csms.call(
            "V21-USEPRIO", "UsePriorityCharging", {"transactionId": "TX-1", "activate": True}
        )
    row = await db(PriorityCharging.objects.get, station__identity="V21-USEPRIO")
    assert (row.origin, row.status, row.activated) == ("csms", "Accepted", True)


async def test_request_battery_swap_is_recorded_with_the_answer(csms):
    async with station21(csms, "V21-REQSWAP"):
        await csms.call(
            "V21-REQSWAP",
            "RequestBatterySwap",
            {"requestId": 4, "idToken": {"idToken": "TOKEN2", "type": "Central"}},
        )
    swap = await db(BatterySwap.objects.get, station__identity="V21-REQSWAP")
    assert (swap.event_type, swap.status, swap.request_id) == ("Requested", "Accepted", 4)


async def test_notify_allowed_energy_transfer_is_recorded(csms):
    async with station21(csms, "V21-AET") as cp:
        await csms.call(
            "V21-AET",
            "NotifyAllowedEnergyTransfer",
            {"transactionId": "TX-1", "allowedEnergyTransfer": ["AC_three_phase"]},
        )
    assert cp.received[0][0] == "NotifyAllowedEnergyTransfer"
    row = await db(GridSignal.objects.get, station__identity="V21-AET")
    assert (row.action, row.allowed_energy_transfer, row.status) == (
        "NotifyAllowedEnergyTransfer",
        ["AC_three_phase"],
        "Accepted",
    )


async def test_notify_web_payment_started_is_recorded(csms):
    async with station21(csms, "V21-WEBPAY") as cp:
        await csms.call("V21-WEBPAY", "NotifyWebPaymentStarted", {"evseId": 1, "timeout": 120})
    assert cp.received == [("NotifyWebPaymentStarted", {"evse_id": 1, "timeout": 120})]
    payment = await db(WebPayment.objects.get, station__identity="V21-WEBPAY")
    assert (payment.evse_id, payment.timeout) == (1, 120)


async def test_afrr_signal_is_recorded_with_the_answer(csms):
    async with station21(csms, "V21-AFRR"):
        await csms.call("V21-AFRR", "AFRRSignal", {"timestamp": NOW, "signal": -1})
    row = await db(GridSignal.objects.get, station__identity="V21-AFRR")
    assert (row.action, row.signal, row.status) == ("AFRRSignal", -1, "Accepted")


# --- the registry ------------------------------------------------------------------------

STATION_TO_CSMS = {
    "BatterySwap",
    "OpenPeriodicEventStream",
    "ClosePeriodicEventStream",
    "NotifyPeriodicEventStream",
    "GetCertificateChainStatus",
    "NotifyDERAlarm",
    "NotifyDERStartStop",
    "ReportDERControl",
    "NotifyPriorityCharging",
    "NotifySettlement",
    "PullDynamicScheduleUpdate",
    "VatNumberValidation",
}
CSMS_TO_STATION = {
    "SetDefaultTariff",
    "GetTariffs",
    "ClearTariffs",
    "ChangeTransactionTariff",
    "SetDERControl",
    "GetDERControl",
    "ClearDERControl",
    "AdjustPeriodicEventStream",
    "GetPeriodicEventStream",
    "UpdateDynamicSchedule",
    "UsePriorityCharging",
    "RequestBatterySwap",
    "NotifyAllowedEnergyTransfer",
    "NotifyWebPaymentStarted",
    "AFRRSignal",
}


def test_ocpp_actions_shows_the_27_actions_of_21_each_in_its_direction():
    from ocpp_router.registry import REGISTRIES

    registry = REGISTRIES["2.1"]
    assert STATION_TO_CSMS <= set(registry.handlers)
    assert CSMS_TO_STATION <= registry.sendable
    assert not STATION_TO_CSMS & registry.sendable
    assert not CSMS_TO_STATION & set(registry.handlers)
    out = io.StringIO()
    call_command("ocpp_actions", ocpp_version="2.1", supported=True, stdout=out)
    lines = {line.split()[0]: line.split()[1:] for line in out.getvalue().splitlines()[2:] if line}
    for action in STATION_TO_CSMS:
        assert lines[action] == ["yes", "-"], action
    for action in CSMS_TO_STATION:
        assert lines[action] == ["-", "yes"], action


pytestmark = pytest.mark.django_db(transaction=True)


# --- cost with the 2.1 engine ------------------------------------------------------------

VAT_TARIFF = {
    "energy": {"prices": [{"priceKwh": 0.30}], "taxRates": [{"type": "VAT", "tax": 21}]},
    "fixedFee": {"prices": [{"priceFixed": 1.0}], "taxRates": [{"type": "VAT", "tax": 21}]},
}


def _meter(wh: int, at: str) -> list[dict]:
    return [{"timestamp": at, "sampled_value": [{"value": wh}]}]


async def test_i03_transaction_ended_total_cost_comes_from_the_21_tariff_with_vat(csms):
    from transactions.models import Tariff

    await db(
        Tariff.objects.create, name="2.1", currency="EUR", price_per_kwh=0, definition=VAT_TARIFF
    )
    async with station21(csms, "V21-COST") as cp:
        common = {"transaction_info": {"transaction_id": "TXC"}, "evse": {"id": 1}}
        await cp.call(
            call21.TransactionEvent(
                event_type="Started",
                timestamp="2026-12-07T10:00:00Z",
                trigger_reason="Authorized",
                seq_no=0,
                meter_value=_meter(0, "2026-12-07T10:00:00Z"),
                **common,
            )
        )
        ended = await cp.call(
            call21.TransactionEvent(
                event_type="Ended",
                timestamp="2026-12-07T11:00:00Z",
                trigger_reason="StopAuthorized",
                seq_no=1,
                meter_value=_meter(10_000, "2026-12-07T11:00:00Z"),
                **common,
            )
        )
    # (1 + 10 kWh x 0.30) x 1.21
    assert ended.total_cost == pytest.approx(4.84)
    tx = await db(Transaction.objects.select_related("tariff").get, transaction_id="TXC")
    assert tx.total_cost == Decimal("4.84")
    from transactions.tariffs import cost_details

    details = cost_details(
        tariff=tx.tariff, energy_wh=tx.energy_wh, started_at=tx.started_at, until=tx.stopped_at
    )
    assert details["totalCost"]["energy"] == {"exclTax": 3.0, "inclTax": 3.63}
    assert details["totalUsage"]["energy"] == 10000.0


async def test_16_stop_transaction_cost_comes_from_the_same_engine(csms):
    from ocpp.v16 import call as call16

    from transactions.models import IdToken, Tariff

    await db(IdToken.objects.create, value="TAG16", type="Central", status="Accepted")
    await db(
        Tariff.objects.create, name="2.1", currency="EUR", price_per_kwh=0, definition=VAT_TARIFF
    )
    async with connect(csms, "V16-COST", "1.6") as cp:
        await cp.call(call16.BootNotification(charge_point_vendor="Acme", charge_point_model="X"))
        started = await cp.call(
            call16.StartTransaction(
                connector_id=1, id_tag="TAG16", meter_start=0, timestamp="2026-12-07T10:00:00Z"
            )
        )
        await cp.call(
            call16.StopTransaction(
                transaction_id=started.transaction_id,
                meter_stop=10_000,
                timestamp="2026-12-07T11:00:00Z",
            )
        )
    tx = await db(Transaction.objects.get, station__identity="V16-COST")
    assert tx.total_cost == Decimal("4.84")

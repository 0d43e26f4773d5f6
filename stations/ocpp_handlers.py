"""OCPP handlers of the stations block: BootNotification, Heartbeat, StatusNotification."""

from __future__ import annotations

import secrets
from typing import Any

from commands.services import command_after_reply
from ocpp_router import gate
from ocpp_router.datetimes import from_ocpp, ocpp_now, utcnow
from ocpp_router.outbound import Outcome
from ocpp_router.registry import ocpp_handler, ocpp_request_check, ocpp_result, ocpp_sendable
from ocpp_router.rpc import V16, V21, V201
from ocpp_router.session import CallContext, ResultContext
from stations import rules, services


def _boot_answer(ctx: CallContext, decision: rules.BootDecision) -> dict[str, Any]:
    gate.booted(ctx.session, decision.status)
    if decision.fetch_inventory:
        # OCPP 2.0.1 B02.FR.01 (1.6 section 4.2.1): while Pending the CSMS may retrieve
        # the station's configuration; once the station takes the request its next boot is
        # Accepted.
        station_pk = ctx.station_pk

        def received(outcome: Outcome) -> None:
            status = (outcome.response or {}).get("status", "")
            if outcome.ok and (ctx.version == V16 or status == "Accepted"):
                services.station_inventory_received(station_pk=station_pk, at=utcnow())

        if ctx.version == V16:
            command_after_reply(
                ctx,
                action="GetConfiguration",
                payload={},
                origin="stations.boot",
                on_outcome=received,
            )
        else:
            command_after_reply(
                ctx,
                action="GetBaseReport",
                payload={"requestId": secrets.randbelow(2**31), "reportBase": "FullInventory"},
                origin="stations.boot",
                on_outcome=received,
            )
    return {"status": decision.status, "currentTime": ocpp_now(), "interval": decision.interval}


@ocpp_handler(V16, "BootNotification")
def boot_notification_16(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    decision = services.station_boot(
        station_pk=ctx.station_pk,
        protocol=ctx.version,
        reason="",
        vendor=payload["chargePointVendor"],
        model=payload["chargePointModel"],
        serial_number=payload.get("chargePointSerialNumber")
        or payload.get("chargeBoxSerialNumber", ""),
        firmware_version=payload.get("firmwareVersion", ""),
        iccid=payload.get("iccid", ""),
        imsi=payload.get("imsi", ""),
        meter_type=payload.get("meterType", ""),
        meter_serial_number=payload.get("meterSerialNumber", ""),
        payload=payload,
        at=utcnow(),
    )
    return _boot_answer(ctx, decision)


@ocpp_handler(V201, "BootNotification")
@ocpp_handler(V21, "BootNotification")
def boot_notification_2(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    station = payload["chargingStation"]
    modem = station.get("modem", {})
    decision = services.station_boot(
        station_pk=ctx.station_pk,
        protocol=ctx.version,
        reason=payload["reason"],
        vendor=station["vendorName"],
        model=station["model"],
        serial_number=station.get("serialNumber", ""),
        firmware_version=station.get("firmwareVersion", ""),
        iccid=modem.get("iccid", ""),
        imsi=modem.get("imsi", ""),
        payload=payload,
        at=utcnow(),
    )
    return _boot_answer(ctx, decision)


# Inline: answered on the event loop; the time is written in the next batch.
@ocpp_handler(V16, "Heartbeat", inline=True)
@ocpp_handler(V201, "Heartbeat", inline=True)
@ocpp_handler(V21, "Heartbeat", inline=True)
def heartbeat(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.station_heartbeat(station_pk=ctx.station_pk, at=utcnow())
    return {"currentTime": ocpp_now()}


@ocpp_handler(V16, "StatusNotification")
def status_notification_16(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    # 1.6: connector 0 is the station itself; every other connector is an EVSE of its own
    # with connector 1.
    connector_id = payload["connectorId"]
    services.connector_status_update(
        station_pk=ctx.station_pk,
        identity=ctx.session.station_id,
        evse_id=connector_id,
        connector_id=1 if connector_id else 0,
        status=payload["status"],
        error_code=payload["errorCode"],
        info=payload.get("info", ""),
        vendor_id=payload.get("vendorId", ""),
        vendor_error_code=payload.get("vendorErrorCode", ""),
        timestamp=from_ocpp(payload.get("timestamp")),
    )
    return {}


@ocpp_handler(V201, "StatusNotification")
@ocpp_handler(V21, "StatusNotification")
def status_notification_2(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.connector_status_update(
        station_pk=ctx.station_pk,
        identity=ctx.session.station_id,
        evse_id=payload["evseId"],
        connector_id=payload["connectorId"],
        status=payload["connectorStatus"],
        timestamp=from_ocpp(payload["timestamp"]),
    )
    return {}


# CSMS-initiated actions of the stations block.
ocpp_sendable(V16, "Reset", "ChangeAvailability", "UnlockConnector", "TriggerMessage")
ocpp_sendable(V16, "GetConfiguration", "ChangeConfiguration")
for _version in (V201, V21):
    ocpp_sendable(_version, "Reset", "ChangeAvailability", "UnlockConnector", "TriggerMessage")
    ocpp_sendable(_version, "GetVariables", "SetVariables", "GetBaseReport", "GetReport")
# ClearCache empties the station's authorization cache (1.6 section 5.4, 2.0.1 C11); the
# admin sends it to every protocol.
for _version in (V16, V201, V21):
    ocpp_sendable(_version, "ClearCache")


# --- B09 SetNetworkProfile, A05 security profile upgrade ---------------------------------


def _network_profile_check(station_pk: int, payload: dict[str, Any]) -> None:
    services.network_profile_check(station_pk=station_pk, payload=payload)


def _network_profile_result(ctx: ResultContext, request: dict, response: dict) -> None:
    if response.get("status") == "Accepted":
        services.security_profile_pending_set(
            station_pk=ctx.station_pk, profile=int(request["connectionData"]["securityProfile"])
        )


for _version in (V201, V21):
    ocpp_request_check(_version, "SetNetworkProfile")(_network_profile_check)
    ocpp_result(_version, "SetNetworkProfile")(_network_profile_result)

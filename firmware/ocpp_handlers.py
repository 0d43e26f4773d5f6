"""OCPP handlers and result hooks of firmware (L), diagnostics and logs (N01)."""

from __future__ import annotations

from typing import Any

from firmware import services
from firmware.choices import FirmwareUpdateKind, LogRequestKind
from ocpp_router.datetimes import utcnow
from ocpp_router.registry import ocpp_handler, ocpp_result
from ocpp_router.rpc import V16, V21, V201
from ocpp_router.session import CallContext, ResultContext


@ocpp_result(V16, "UpdateFirmware")
@ocpp_result(V16, "SignedUpdateFirmware")
@ocpp_result(V201, "UpdateFirmware")
@ocpp_result(V21, "UpdateFirmware")
def update_firmware_result(ctx: ResultContext, request: dict, response: dict) -> None:
    services.firmware_update_result(
        station_pk=ctx.station_pk,
        action=ctx.action,
        request=request,
        response=response,
        at=utcnow(),
    )


@ocpp_handler(V16, "FirmwareStatusNotification")
@ocpp_handler(V201, "FirmwareStatusNotification")
@ocpp_handler(V21, "FirmwareStatusNotification")
def firmware_status_notification(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.firmware_status_record(
        station_pk=ctx.station_pk,
        kind=FirmwareUpdateKind.UPDATE,
        status=payload["status"],
        request_id=payload.get("requestId"),
        at=utcnow(),
    )
    return {}


@ocpp_handler(V16, "SignedFirmwareStatusNotification")
def signed_firmware_status_notification(
    ctx: CallContext, payload: dict[str, Any]
) -> dict[str, Any]:
    services.firmware_status_record(
        station_pk=ctx.station_pk,
        kind=FirmwareUpdateKind.SIGNED_UPDATE,
        status=payload["status"],
        request_id=payload.get("requestId"),
        at=utcnow(),
    )
    return {}


@ocpp_result(V201, "PublishFirmware")
@ocpp_result(V21, "PublishFirmware")
def publish_firmware_result(ctx: ResultContext, request: dict, response: dict) -> None:
    services.firmware_publish_result(
        station_pk=ctx.station_pk, request=request, response=response, at=utcnow()
    )


@ocpp_result(V201, "UnpublishFirmware")
@ocpp_result(V21, "UnpublishFirmware")
def unpublish_firmware_result(ctx: ResultContext, request: dict, response: dict) -> None:
    services.firmware_unpublish_result(
        station_pk=ctx.station_pk,
        checksum=request["checksum"],
        status=response["status"],
        at=utcnow(),
    )


@ocpp_handler(V201, "PublishFirmwareStatusNotification")
@ocpp_handler(V21, "PublishFirmwareStatusNotification")
def publish_firmware_status_notification(
    ctx: CallContext, payload: dict[str, Any]
) -> dict[str, Any]:
    services.firmware_publish_status_record(
        station_pk=ctx.station_pk,
        status=payload["status"],
        request_id=payload.get("requestId"),
        locations=payload.get("location", []),
        at=utcnow(),
    )
    return {}


@ocpp_result(V16, "GetDiagnostics")
@ocpp_result(V16, "GetLog")
@ocpp_result(V201, "GetLog")
@ocpp_result(V21, "GetLog")
def get_log_result(ctx: ResultContext, request: dict, response: dict) -> None:
    services.log_request_result(
        station_pk=ctx.station_pk,
        action=ctx.action,
        request=request,
        response=response,
        at=utcnow(),
    )


@ocpp_handler(V16, "DiagnosticsStatusNotification")
def diagnostics_status_notification(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.log_status_record(
        station_pk=ctx.station_pk,
        kind=LogRequestKind.DIAGNOSTICS,
        status=payload["status"],
        request_id=None,
        at=utcnow(),
    )
    return {}


@ocpp_handler(V16, "LogStatusNotification")
@ocpp_handler(V201, "LogStatusNotification")
@ocpp_handler(V21, "LogStatusNotification")
def log_status_notification(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.log_status_record(
        station_pk=ctx.station_pk,
        kind=LogRequestKind.LOG,
        status=payload["status"],
        request_id=payload.get("requestId"),
        at=utcnow(),
    )
    return {}

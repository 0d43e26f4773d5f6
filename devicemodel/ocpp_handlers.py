"""OCPP handlers and result hooks of the device model block: configuration (1.6), variables and
reports (2.x B), monitoring and events (N), display messages (O), customer information,
DataTransfer (P) and security events."""

from __future__ import annotations

from typing import Any

from devicemodel import datatransfer, services
from devicemodel.choices import DataTransferDirection, ReportKind
from ocpp_router.datetimes import from_ocpp, utcnow
from ocpp_router.registry import ocpp_handler, ocpp_result, ocpp_sendable
from ocpp_router.rpc import V16, V21, V201
from ocpp_router.session import CallContext, ResultContext

V2 = (V201, V21)

# --- 1.6 configuration -----------------------------------------------------------------


@ocpp_result(V16, "GetConfiguration")
def get_configuration_result(ctx: ResultContext, request: dict, response: dict) -> None:
    services.configuration_store(
        station_pk=ctx.station_pk,
        keys=response.get("configurationKey", []),
        unknown=response.get("unknownKey", []),
        at=utcnow(),
    )


@ocpp_result(V16, "ChangeConfiguration")
def change_configuration_result(ctx: ResultContext, request: dict, response: dict) -> None:
    services.configuration_change_result(
        station_pk=ctx.station_pk,
        key=request["key"],
        value=request["value"],
        status=response["status"],
        at=utcnow(),
    )


ocpp_sendable(V16, "ExtendedTriggerMessage")

# --- 2.x variables and reports ---------------------------------------------------------


def _status_info(response: dict) -> str:
    info = response.get("statusInfo") or {}
    return " ".join(filter(None, [info.get("reasonCode", ""), info.get("additionalInfo", "")]))


def get_variables_result(ctx: ResultContext, request: dict, response: dict) -> None:
    services.variables_get_result(
        station_pk=ctx.station_pk, results=response["getVariableResult"], at=utcnow()
    )


def set_variables_result(ctx: ResultContext, request: dict, response: dict) -> None:
    services.variables_set_result(
        station_pk=ctx.station_pk,
        requested=request["setVariableData"],
        results=response["setVariableResult"],
        at=utcnow(),
    )


def _report_answered(kind: str):
    def hook(ctx: ResultContext, request: dict, response: dict) -> None:
        criteria = {k: v for k, v in request.items() if k != "requestId"}
        services.report_request_answered(
            station_pk=ctx.station_pk,
            kind=kind,
            request_id=request["requestId"],
            criteria=criteria,
            status=response["status"],
            status_info=_status_info(response),
            at=utcnow(),
        )

    hook.__name__ = f"{kind}_result"
    return hook


def notify_report(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.notify_report_store(
        station_pk=ctx.station_pk,
        request_id=payload["requestId"],
        seq_no=payload["seqNo"],
        tbc=payload.get("tbc", False),
        generated_at=from_ocpp(payload["generatedAt"]),
        report_data=payload.get("reportData", []),
        payload=payload,
        at=utcnow(),
    )
    return {}


# --- 2.x monitoring and events ---------------------------------------------------------


def set_variable_monitoring_result(ctx: ResultContext, request: dict, response: dict) -> None:
    services.monitors_set_result(
        station_pk=ctx.station_pk,
        requested=request["setMonitoringData"],
        results=response["setMonitoringResult"],
        at=utcnow(),
    )


def clear_variable_monitoring_result(ctx: ResultContext, request: dict, response: dict) -> None:
    services.monitors_clear_result(
        station_pk=ctx.station_pk, results=response["clearMonitoringResult"]
    )


def set_monitoring_base_result(ctx: ResultContext, request: dict, response: dict) -> None:
    if response["status"] == "Accepted":
        services.monitoring_setting_store(
            station_pk=ctx.station_pk, base=request["monitoringBase"], at=utcnow()
        )


def set_monitoring_level_result(ctx: ResultContext, request: dict, response: dict) -> None:
    if response["status"] == "Accepted":
        services.monitoring_setting_store(
            station_pk=ctx.station_pk, level=request["severity"], at=utcnow()
        )


def notify_monitoring_report(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.monitoring_report_store(
        station_pk=ctx.station_pk,
        request_id=payload["requestId"],
        seq_no=payload["seqNo"],
        tbc=payload.get("tbc", False),
        generated_at=from_ocpp(payload["generatedAt"]),
        monitors=payload.get("monitor", []),
        payload=payload,
        at=utcnow(),
    )
    return {}


def notify_event(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.events_store(station_pk=ctx.station_pk, events=payload["eventData"], at=utcnow())
    return {}


# --- 2.x display messages and customer information -------------------------------------


def set_display_message_result(ctx: ResultContext, request: dict, response: dict) -> None:
    services.display_message_set_result(
        station_pk=ctx.station_pk,
        message=request["message"],
        status=response["status"],
        at=utcnow(),
    )


def clear_display_message_result(ctx: ResultContext, request: dict, response: dict) -> None:
    services.display_message_clear_result(
        station_pk=ctx.station_pk, message_id=request["id"], status=response["status"], at=utcnow()
    )


def notify_display_messages(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.display_messages_store(
        station_pk=ctx.station_pk,
        request_id=payload["requestId"],
        tbc=payload.get("tbc", False),
        messages=payload.get("messageInfo", []),
        payload=payload,
        at=utcnow(),
    )
    return {}


def notify_customer_information(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.customer_information_part_store(
        station_pk=ctx.station_pk,
        request_id=payload["requestId"],
        seq_no=payload["seqNo"],
        tbc=payload.get("tbc", False),
        generated_at=from_ocpp(payload["generatedAt"]),
        payload=payload,
        at=utcnow(),
    )
    return {}


for _version in V2:
    ocpp_result(_version, "GetVariables")(get_variables_result)
    ocpp_result(_version, "SetVariables")(set_variables_result)
    ocpp_result(_version, "GetBaseReport")(_report_answered(ReportKind.BASE_REPORT))
    ocpp_result(_version, "GetReport")(_report_answered(ReportKind.REPORT))
    ocpp_handler(_version, "NotifyReport")(notify_report)
    ocpp_result(_version, "SetVariableMonitoring")(set_variable_monitoring_result)
    ocpp_result(_version, "ClearVariableMonitoring")(clear_variable_monitoring_result)
    ocpp_result(_version, "SetMonitoringBase")(set_monitoring_base_result)
    ocpp_result(_version, "SetMonitoringLevel")(set_monitoring_level_result)
    ocpp_result(_version, "GetMonitoringReport")(_report_answered(ReportKind.MONITORING_REPORT))
    ocpp_handler(_version, "NotifyMonitoringReport")(notify_monitoring_report)
    ocpp_handler(_version, "NotifyEvent")(notify_event)
    ocpp_result(_version, "SetDisplayMessage")(set_display_message_result)
    ocpp_result(_version, "GetDisplayMessages")(_report_answered(ReportKind.DISPLAY_MESSAGES))
    ocpp_result(_version, "ClearDisplayMessage")(clear_display_message_result)
    ocpp_handler(_version, "NotifyDisplayMessages")(notify_display_messages)
    ocpp_result(_version, "CustomerInformation")(_report_answered(ReportKind.CUSTOMER_INFORMATION))
    ocpp_handler(_version, "NotifyCustomerInformation")(notify_customer_information)


# --- DataTransfer (1.6 and 2.x, both directions) ---------------------------------------


@ocpp_handler(V16, "DataTransfer")
@ocpp_handler(V201, "DataTransfer")
@ocpp_handler(V21, "DataTransfer")
def data_transfer(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    vendor_id = payload["vendorId"]
    message_id = payload.get("messageId", "")
    answer, parsed = datatransfer.resolve(
        ctx, ctx.version, vendor_id, message_id, payload.get("data")
    )
    services.data_transfer_record(
        station_pk=ctx.station_pk,
        direction=DataTransferDirection.IN,
        vendor_id=vendor_id,
        message_id=message_id,
        data=parsed,
        status=answer.status,
        response_data=answer.data,
        status_info=answer.info,
    )
    result: dict[str, Any] = {"status": answer.status}
    if answer.data is not None:
        # 1.6 `data` is a string; 2.x takes any JSON value.
        result["data"] = datatransfer.encode_for(ctx.version, answer.data)
    if answer.info and ctx.version != V16:
        result["statusInfo"] = {"reasonCode": answer.status, "additionalInfo": answer.info[:512]}
    return result


@ocpp_result(V16, "DataTransfer")
@ocpp_result(V201, "DataTransfer")
@ocpp_result(V21, "DataTransfer")
def data_transfer_result(ctx: ResultContext, request: dict, response: dict) -> None:
    services.data_transfer_record(
        station_pk=ctx.station_pk,
        direction=DataTransferDirection.OUT,
        vendor_id=request["vendorId"],
        message_id=request.get("messageId", ""),
        data=request.get("data"),
        status=response["status"],
        response_data=response.get("data"),
        status_info=_status_info(response),
    )


# --- security events -------------------------------------------------------------------


@ocpp_handler(V16, "SecurityEventNotification")
@ocpp_handler(V201, "SecurityEventNotification")
@ocpp_handler(V21, "SecurityEventNotification")
def security_event_notification(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.station_security_event_store(
        station_pk=ctx.station_pk,
        event_type=payload["type"],
        timestamp=from_ocpp(payload["timestamp"]),
        tech_info=payload.get("techInfo", ""),
    )
    return {}


# --- OCPP 2.1 periodic event streams (N11-N15) ------------------------------------------


@ocpp_handler(V21, "OpenPeriodicEventStream")
def open_periodic_event_stream(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.event_stream_open(
        station_pk=ctx.station_pk, stream=payload["constantStreamData"], at=utcnow()
    )
    return {"status": "Accepted"}


@ocpp_handler(V21, "ClosePeriodicEventStream")
def close_periodic_event_stream(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.event_stream_close(station_pk=ctx.station_pk, stream_id=payload["id"], at=utcnow())
    return {}


@ocpp_handler(V21, "NotifyPeriodicEventStream")
def notify_periodic_event_stream(ctx: CallContext, payload: dict[str, Any]) -> None:
    """A SEND: stored, never answered."""
    services.event_stream_data_store(
        station_pk=ctx.station_pk,
        stream_id=payload["id"],
        basetime=from_ocpp(payload["basetime"]),
        data=payload["data"],
        at=utcnow(),
    )


@ocpp_result(V21, "AdjustPeriodicEventStream")
def adjust_periodic_event_stream_result(
    ctx: ResultContext, request: dict[str, Any], response: dict[str, Any]
) -> None:
    if response["status"] == "Accepted":
        services.event_stream_adjusted(
            station_pk=ctx.station_pk,
            stream_id=request["id"],
            params=request["params"],
            at=utcnow(),
        )


@ocpp_result(V21, "GetPeriodicEventStream")
def get_periodic_event_stream_result(
    ctx: ResultContext, request: dict[str, Any], response: dict[str, Any]
) -> None:
    services.event_streams_reported(
        station_pk=ctx.station_pk, streams=response.get("constantStreamData", []), at=utcnow()
    )

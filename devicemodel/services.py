"""State changes of the device model, configuration, monitoring, reports, display messages
and DataTransfer. Payload pieces arrive in the wire's camelCase; handlers pass them as is."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max

from devicemodel.choices import (
    AttributeType,
    DisplayMessageState,
    ReportKind,
    ReportStatus,
    VariableOperationKind,
)
from devicemodel.models import (
    Component,
    ConfigurationKey,
    DataTransferMessage,
    DeviceEvent,
    DisplayMessage,
    MonitoringSetting,
    PeriodicEventStream,
    PeriodicEventStreamValue,
    ReportPart,
    ReportRequest,
    Variable,
    VariableAttribute,
    VariableCharacteristics,
    VariableMonitor,
    VariableOperation,
)
from ocpp_router.datetimes import from_ocpp, utcnow
from stations import redaction
from stations.models import ChargingStation
from stations.security_events import security_event_record

logger = logging.getLogger(__name__)

Json = dict[str, Any]

# Answers to a report request that mean no report will follow.
FINAL_ANSWERS = {
    ReportStatus.REJECTED,
    ReportStatus.NOT_SUPPORTED,
    ReportStatus.EMPTY_RESULT_SET,
    ReportStatus.UNKNOWN,
    ReportStatus.INVALID,
}


# --- components and variables ----------------------------------------------------------


def component_get_or_create(*, station_pk: int, component: Json) -> Component:
    evse = component.get("evse") or {}
    obj, _ = Component.objects.get_or_create(
        station_id=station_pk,
        name=component["name"],
        instance=component.get("instance", ""),
        evse_id=evse.get("id"),
        connector_id=evse.get("connectorId"),
    )
    return obj


def variable_get_or_create(*, station_pk: int, component: Json, variable: Json) -> Variable:
    obj, _ = Variable.objects.get_or_create(
        component=component_get_or_create(station_pk=station_pk, component=component),
        name=variable["name"],
        instance=variable.get("instance", ""),
    )
    return obj


def _attribute_store(
    *, variable: Variable, type: str, value: str | None, at: datetime, **extra: Any
) -> VariableAttribute:
    attribute, created = VariableAttribute.objects.select_for_update().get_or_create(
        variable=variable, type=type, defaults={"value": value, "updated": at, **extra}
    )
    if not created:
        attribute.value = value
        attribute.updated = at
        for name, field_value in extra.items():
            setattr(attribute, name, field_value)
        attribute.save(update_fields=["value", "updated", *extra])
    return attribute


def _stored_value(item: Json, value: str | None) -> str | None:
    """`value` of the variable `item` names, as the device model keeps it: a station password
    is never stored (stations.redaction)."""
    return redaction.variable_value(item["component"]["name"], item["variable"]["name"], value)


def device_model_apply(*, station_pk: int, report_data: list[Json], at: datetime) -> int:
    """Store the components, variables, attributes and characteristics of NotifyReport data."""
    with transaction.atomic():
        for item in report_data:
            variable = variable_get_or_create(
                station_pk=station_pk, component=item["component"], variable=item["variable"]
            )
            for attribute in item["variableAttribute"]:
                _attribute_store(
                    variable=variable,
                    type=attribute.get("type", AttributeType.ACTUAL),
                    value=_stored_value(item, attribute.get("value")),
                    at=at,
                    # OCPP 2.0.1 VariableAttributeType defaults.
                    mutability=attribute.get("mutability", "ReadWrite"),
                    persistent=attribute.get("persistent", False),
                    constant=attribute.get("constant", False),
                )
            characteristics = item.get("variableCharacteristics")
            if characteristics:
                VariableCharacteristics.objects.update_or_create(
                    variable=variable,
                    defaults={
                        "unit": characteristics.get("unit", ""),
                        "data_type": characteristics["dataType"],
                        "min_limit": characteristics.get("minLimit"),
                        "max_limit": characteristics.get("maxLimit"),
                        "max_elements": characteristics.get("maxElements"),
                        "values_list": characteristics.get("valuesList", ""),
                        "supports_monitoring": characteristics["supportsMonitoring"],
                    },
                )
    return len(report_data)


def _operation(
    *,
    station_pk: int,
    kind: str,
    component: Json,
    variable: Json,
    attribute_type: str,
    value: str | None,
    status: str,
    status_info: Json | None,
    model_variable: Variable | None,
    at: datetime,
) -> VariableOperation:
    evse = component.get("evse") or {}
    info = status_info or {}
    value = redaction.variable_value(component["name"], variable["name"], value)
    return VariableOperation.objects.create(
        station_id=station_pk,
        variable=model_variable,
        kind=kind,
        component_name=component["name"],
        component_instance=component.get("instance", ""),
        evse_id=evse.get("id"),
        connector_id=evse.get("connectorId"),
        variable_name=variable["name"],
        variable_instance=variable.get("instance", ""),
        attribute_type=attribute_type,
        value=value,
        status=status,
        status_reason=info.get("reasonCode", "")[:20],
        status_info=info.get("additionalInfo", ""),
        timestamp=at,
    )


def variables_get_result(*, station_pk: int, results: list[Json], at: datetime) -> int:
    """Record a GetVariables answer; values read with status Accepted update the model.
    Returns how many values were stored."""
    stored = 0
    with transaction.atomic():
        for result in results:
            attribute_type = result.get("attributeType", AttributeType.ACTUAL)
            accepted = result["attributeStatus"] == "Accepted"
            variable = None
            if accepted:
                variable = variable_get_or_create(
                    station_pk=station_pk,
                    component=result["component"],
                    variable=result["variable"],
                )
                _attribute_store(
                    variable=variable,
                    type=attribute_type,
                    value=_stored_value(result, result.get("attributeValue")),
                    at=at,
                )
                stored += 1
            _operation(
                station_pk=station_pk,
                kind=VariableOperationKind.GET,
                component=result["component"],
                variable=result["variable"],
                attribute_type=attribute_type,
                value=result.get("attributeValue"),
                status=result["attributeStatus"],
                status_info=result.get("attributeStatusInfo"),
                model_variable=variable,
                at=at,
            )
    return stored


def _same_target(data: Json, result: Json) -> bool:
    def key(item: Json) -> tuple:
        component, variable = item["component"], item["variable"]
        evse = component.get("evse") or {}
        return (
            component["name"],
            component.get("instance", ""),
            evse.get("id"),
            evse.get("connectorId"),
            variable["name"],
            variable.get("instance", ""),
            item.get("attributeType", AttributeType.ACTUAL),
        )

    return key(data) == key(result)


def variables_set_result(
    *, station_pk: int, requested: list[Json], results: list[Json], at: datetime
) -> int:
    """Record a SetVariables answer. OCPP 2.0.1 B05: only values the station accepted
    (Accepted, or RebootRequired: stored, applied after a reboot) enter the model; every
    other status is recorded as a refused operation. Returns how many values were stored."""
    stored = 0
    with transaction.atomic():
        for result in results:
            data = next((d for d in requested if _same_target(d, result)), None)
            value = data["attributeValue"] if data else None
            attribute_type = result.get("attributeType", AttributeType.ACTUAL)
            variable = None
            if result["attributeStatus"] in {"Accepted", "RebootRequired"} and data:
                variable = variable_get_or_create(
                    station_pk=station_pk,
                    component=result["component"],
                    variable=result["variable"],
                )
                _attribute_store(
                    variable=variable,
                    type=attribute_type,
                    value=_stored_value(result, value),
                    at=at,
                )
                stored += 1
            _operation(
                station_pk=station_pk,
                kind=VariableOperationKind.SET,
                component=result["component"],
                variable=result["variable"],
                attribute_type=attribute_type,
                value=value,
                status=result["attributeStatus"],
                status_info=result.get("attributeStatusInfo"),
                model_variable=variable,
                at=at,
            )
    return stored


# --- 1.6 configuration -----------------------------------------------------------------


def configuration_store(
    *, station_pk: int, keys: list[Json], unknown: list[str], at: datetime
) -> None:
    """Record a 1.6 GetConfiguration answer: known keys with their value and readonly flag,
    and the keys the station does not know."""
    with transaction.atomic():
        for item in keys:
            ConfigurationKey.objects.update_or_create(
                station_id=station_pk,
                key=item["key"],
                defaults={
                    # The station's password is never stored (stations.redaction).
                    "value": redaction.key_value(item["key"], item.get("value")),
                    "readonly": item["readonly"],
                    "unknown": False,
                    "updated": at,
                },
            )
        for key in unknown:
            ConfigurationKey.objects.update_or_create(
                station_id=station_pk,
                key=key,
                defaults={"value": None, "unknown": True, "updated": at},
            )


def configuration_change_result(
    *, station_pk: int, key: str, value: str, status: str, at: datetime
) -> ConfigurationKey | None:
    """Record a 1.6 ChangeConfiguration answer: Accepted and RebootRequired change the value
    (RebootRequired is noted); Rejected and NotSupported keep it."""
    with transaction.atomic():
        config = (
            ConfigurationKey.objects.select_for_update()
            .filter(station_id=station_pk, key=key)
            .first()
        )
        if status in {"Accepted", "RebootRequired"}:
            if config is None:
                config = ConfigurationKey(station_id=station_pk, key=key)
            config.value = redaction.key_value(key, value)
            config.unknown = False
            config.reboot_required = status == "RebootRequired"
            config.last_change_status = status
            config.updated = at
            config.save()
        elif config is not None:
            config.last_change_status = status
            config.updated = at
            config.save(update_fields=["last_change_status", "updated"])
        else:
            logger.info("Station %s refused to set unknown key %s: %s", station_pk, key, status)
    return config


# --- multi-part reports ----------------------------------------------------------------

DEVICE_REPORT_KINDS = [ReportKind.BASE_REPORT, ReportKind.REPORT]


def report_request_answered(
    *,
    station_pk: int,
    kind: str,
    request_id: int,
    criteria: Json,
    status: str,
    status_info: str = "",
    at: datetime,
) -> ReportRequest:
    """Record the station's answer to a report request. Its parts may already be in (the
    station sends them right after answering, and they are handled concurrently), so an
    Accepted answer never overrides a report that is receiving or complete."""
    with transaction.atomic():
        # NotifyReport names no kind: parts handled before this answer were filed as a base
        # report; GetReport's answer takes them over.
        kinds = DEVICE_REPORT_KINDS if kind in DEVICE_REPORT_KINDS else [kind]
        report = (
            ReportRequest.objects.select_for_update()
            .filter(station_id=station_pk, kind__in=kinds, request_id=request_id)
            .first()
        )
        if report is None:
            report = ReportRequest.objects.create(
                station_id=station_pk,
                kind=kind,
                request_id=request_id,
                criteria=criteria,
                requested_at=at,
            )
        report.kind = kind
        report.criteria = criteria
        if status in FINAL_ANSWERS:
            report.status = status
            report.completed_at = at
        elif report.status in {ReportStatus.REQUESTED, *FINAL_ANSWERS}:
            report.status = status
            report.completed_at = None
        report.status_info = status_info
        report.save(update_fields=["kind", "criteria", "status", "status_info", "completed_at"])
    return report


def report_part_store(
    *,
    station_pk: int,
    kind: str,
    request_id: int,
    seq_no: int | None,
    tbc: bool,
    generated_at: datetime | None,
    payload: Json,
    at: datetime,
) -> ReportRequest:
    """Store one part of a multi-part report; the report is Complete once the last part
    (tbc false) and every part before it have arrived, in whatever order they came."""
    with transaction.atomic():
        report, _ = ReportRequest.objects.select_for_update().get_or_create(
            station_id=station_pk,
            kind=kind,
            request_id=request_id,
            defaults={"requested_at": generated_at or at, "status": ReportStatus.RECEIVING},
        )
        newest = report.parts.aggregate(newest=Max("generated_at"))["newest"]
        if (
            report.status == ReportStatus.COMPLETE
            and generated_at
            and newest
            and generated_at > newest
        ):
            # A newer report under a requestId the station reuses: start afresh. A part sent
            # again (its answer was lost) carries the same generatedAt and only replaces itself.
            report.parts.all().delete()
            report.status = ReportStatus.RECEIVING
            report.completed_at = None
        if seq_no is None:
            # NotifyDisplayMessages carries no seqNo: parts are numbered as they arrive.
            seq_no = report.parts.aggregate(last=Max("seq_no"))["last"]
            seq_no = 0 if seq_no is None else seq_no + 1
        ReportPart.objects.update_or_create(
            report=report,
            seq_no=seq_no,
            defaults={
                "tbc": tbc,
                "generated_at": generated_at,
                "payload": payload,
                "received_at": at,
            },
        )
        parts = list(report.parts.values_list("seq_no", "tbc"))
        report.parts_received = len(parts)
        last = [number for number, more in parts if not more]
        if last and len(parts) == last[0] + 1:
            report.status = ReportStatus.COMPLETE
            report.completed_at = at
        elif report.status != ReportStatus.COMPLETE:
            report.status = ReportStatus.RECEIVING
        report.save(update_fields=["parts_received", "status", "completed_at"])
    return report


def notify_report_store(
    *,
    station_pk: int,
    request_id: int,
    seq_no: int,
    tbc: bool,
    generated_at: datetime | None,
    report_data: list[Json],
    payload: Json,
    at: datetime,
) -> ReportRequest:
    """A NotifyReport part: store it and apply its data to the device model."""
    with transaction.atomic():
        report = ReportRequest.objects.filter(
            station_id=station_pk,
            request_id=request_id,
            kind__in=DEVICE_REPORT_KINDS,
        ).first()
        report = report_part_store(
            station_pk=station_pk,
            kind=report.kind if report else ReportKind.BASE_REPORT,
            request_id=request_id,
            seq_no=seq_no,
            tbc=tbc,
            generated_at=generated_at,
            payload=redaction.redact("NotifyReport", payload),
            at=at,
        )
        device_model_apply(station_pk=station_pk, report_data=report_data, at=at)
    return report


# --- monitoring and events -------------------------------------------------------------


def _monitor_store(
    *, station_pk: int, variable: Variable, monitor: Json, at: datetime
) -> VariableMonitor:
    obj, _ = VariableMonitor.objects.update_or_create(
        station_id=station_pk,
        monitor_id=monitor["id"],
        defaults={
            "variable": variable,
            "type": monitor["type"],
            "value": monitor["value"],
            "severity": monitor["severity"],
            "transaction": monitor.get("transaction", False),
            "updated": at,
        },
    )
    return obj


def monitors_set_result(
    *, station_pk: int, requested: list[Json], results: list[Json], at: datetime
) -> int:
    """Record a SetVariableMonitoring answer: accepted monitors are stored under the id the
    station gave them (OCPP 2.0.1 N04.FR.*). Returns how many were stored."""
    stored = 0
    with transaction.atomic():
        for result in results:
            if result["status"] != "Accepted" or "id" not in result:
                logger.info(
                    "Station %s refused a %s monitor on %s.%s: %s",
                    station_pk,
                    result["type"],
                    result["component"]["name"],
                    result["variable"]["name"],
                    result["status"],
                )
                continue
            data = next(
                (
                    d
                    for d in requested
                    if d["component"] == result["component"]
                    and d["variable"] == result["variable"]
                    and d["type"] == result["type"]
                ),
                None,
            )
            variable = variable_get_or_create(
                station_pk=station_pk, component=result["component"], variable=result["variable"]
            )
            monitor = {
                "id": result["id"],
                "type": result["type"],
                "severity": result["severity"],
                "value": data["value"] if data else 0,
                "transaction": data.get("transaction", False) if data else False,
            }
            _monitor_store(station_pk=station_pk, variable=variable, monitor=monitor, at=at)
            stored += 1
    return stored


def monitors_clear_result(*, station_pk: int, results: list[Json]) -> int:
    """Forget monitors the station cleared (status Accepted; NotFound ones are gone too)."""
    gone = [r["id"] for r in results if r["status"] in {"Accepted", "NotFound"}]
    deleted, _ = VariableMonitor.objects.filter(station_id=station_pk, monitor_id__in=gone).delete()
    return deleted


def monitoring_setting_store(
    *, station_pk: int, at: datetime, base: str | None = None, level: int | None = None
) -> MonitoringSetting:
    with transaction.atomic():
        setting, _ = MonitoringSetting.objects.select_for_update().get_or_create(
            station_id=station_pk, defaults={"updated": at}
        )
        if base is not None:
            setting.monitoring_base = base
        if level is not None:
            setting.monitoring_level = level
        setting.updated = at
        setting.save()
    return setting


def monitoring_report_store(
    *,
    station_pk: int,
    request_id: int,
    seq_no: int,
    tbc: bool,
    generated_at: datetime | None,
    monitors: list[Json],
    payload: Json,
    at: datetime,
) -> ReportRequest:
    """A NotifyMonitoringReport part: store it and the monitors it lists."""
    with transaction.atomic():
        report = report_part_store(
            station_pk=station_pk,
            kind=ReportKind.MONITORING_REPORT,
            request_id=request_id,
            seq_no=seq_no,
            tbc=tbc,
            generated_at=generated_at,
            payload=payload,
            at=at,
        )
        for item in monitors:
            variable = variable_get_or_create(
                station_pk=station_pk, component=item["component"], variable=item["variable"]
            )
            for monitor in item["variableMonitoring"]:
                _monitor_store(station_pk=station_pk, variable=variable, monitor=monitor, at=at)
    return report


def events_store(*, station_pk: int, events: list[Json], at: datetime) -> list[DeviceEvent]:
    """Store the events of a NotifyEvent (OCPP 2.0.1 N07/N08)."""
    stored = []
    with transaction.atomic():
        for event in map(redaction.redact_event_item, events):
            variable = variable_get_or_create(
                station_pk=station_pk, component=event["component"], variable=event["variable"]
            )
            severity = None
            monitor_id = event.get("variableMonitoringId")
            if monitor_id is not None:
                severity = (
                    VariableMonitor.objects.filter(station_id=station_pk, monitor_id=monitor_id)
                    .values_list("severity", flat=True)
                    .first()
                )
            stored.append(
                DeviceEvent.objects.create(
                    station_id=station_pk,
                    variable=variable,
                    event_id=event["eventId"],
                    timestamp=from_ocpp(event["timestamp"]) or at,
                    trigger=event["trigger"],
                    cause=event.get("cause"),
                    actual_value=event["actualValue"],
                    tech_code=event.get("techCode", ""),
                    tech_info=event.get("techInfo", ""),
                    cleared=event.get("cleared", False),
                    transaction_id=event.get("transactionId", ""),
                    variable_monitoring_id=monitor_id,
                    event_notification_type=event["eventNotificationType"],
                    component_name=event["component"]["name"],
                    variable_name=event["variable"]["name"],
                    severity=severity,
                    payload=event,
                    received_at=at,
                )
            )
    return stored


# --- display messages and customer information -----------------------------------------


def _display_message_values(message: Json, at: datetime) -> Json:
    content = message["message"]
    return {
        "priority": message["priority"],
        "message_state": message.get("state", ""),
        "start_at": from_ocpp(message.get("startDateTime")),
        "end_at": from_ocpp(message.get("endDateTime")),
        "transaction_id": message.get("transactionId", ""),
        "content": content["content"],
        "language": content.get("language", ""),
        "format": content["format"],
        "payload": message,
        "updated": at,
    }


def display_message_set_result(
    *, station_pk: int, message: Json, status: str, at: datetime
) -> DisplayMessage:
    """Record a SetDisplayMessage answer: Accepted means the station shows the message."""
    values = _display_message_values(message, at)
    values["state"] = (
        DisplayMessageState.SET if status == "Accepted" else DisplayMessageState.REJECTED
    )
    values["last_status"] = status
    with transaction.atomic():
        existing = DisplayMessage.objects.filter(
            station_id=station_pk, message_id=message["id"], state=DisplayMessageState.SET
        ).exists()
        if existing and status != "Accepted":
            # A refused replacement leaves the message the station shows in place.
            DisplayMessage.objects.filter(station_id=station_pk, message_id=message["id"]).update(
                last_status=status, updated=at
            )
            return DisplayMessage.objects.get(station_id=station_pk, message_id=message["id"])
        obj, _ = DisplayMessage.objects.update_or_create(
            station_id=station_pk, message_id=message["id"], defaults=values
        )
    return obj


def display_messages_store(
    *,
    station_pk: int,
    request_id: int,
    tbc: bool,
    messages: list[Json],
    payload: Json,
    at: datetime,
) -> ReportRequest:
    """A NotifyDisplayMessages part: the messages the station holds."""
    with transaction.atomic():
        report = report_part_store(
            station_pk=station_pk,
            kind=ReportKind.DISPLAY_MESSAGES,
            request_id=request_id,
            seq_no=None,
            tbc=tbc,
            generated_at=None,
            payload=payload,
            at=at,
        )
        for message in messages:
            values = _display_message_values(message, at)
            values["state"] = DisplayMessageState.SET
            DisplayMessage.objects.update_or_create(
                station_id=station_pk, message_id=message["id"], defaults=values
            )
    return report


def display_message_clear_result(
    *, station_pk: int, message_id: int, status: str, at: datetime
) -> int:
    """Record a ClearDisplayMessage answer: Accepted (or Unknown: nothing to show) clears."""
    if status not in {"Accepted", "Unknown"}:
        return 0
    return DisplayMessage.objects.filter(station_id=station_pk, message_id=message_id).update(
        state=DisplayMessageState.CLEARED, last_status=status, updated=at
    )


def customer_information_part_store(
    *,
    station_pk: int,
    request_id: int,
    seq_no: int,
    tbc: bool,
    generated_at: datetime | None,
    payload: Json,
    at: datetime,
) -> ReportRequest:
    return report_part_store(
        station_pk=station_pk,
        kind=ReportKind.CUSTOMER_INFORMATION,
        request_id=request_id,
        seq_no=seq_no,
        tbc=tbc,
        generated_at=generated_at,
        payload=payload,
        at=at,
    )


# --- DataTransfer ----------------------------------------------------------------------


def data_transfer_record(
    *,
    station_pk: int,
    direction: str,
    vendor_id: str,
    message_id: str,
    data: Any,
    status: str,
    response_data: Any = None,
    status_info: str = "",
    at: datetime | None = None,
) -> DataTransferMessage:
    return DataTransferMessage.objects.create(
        station_id=station_pk,
        direction=direction,
        vendor_id=vendor_id,
        message_id=message_id,
        data=data,
        status=status,
        response_data=response_data,
        status_info=status_info,
        timestamp=at or utcnow(),
    )


# --- security events -------------------------------------------------------------------

# The security events list (OCPP 2.0.1 Part 2 Appendices, "Security Events"; 1.6 Improved
# Security whitepaper, Appendix 1) marks events as critical or not. We store critical ones
# with severity 3 (the 2.x monitoring scale's "Critical") and the others with 7 ("Notice");
# a type outside the list has no severity.
CRITICAL_SECURITY_EVENTS = frozenset(
    {
        "FirmwareUpdated",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "MemoryExhaustion",
        "TamperDetectionActivated",
        "MaintenanceLoginAccepted",
        "MaintenanceLoginFailed",
    }
)
NOTICE_SECURITY_EVENTS = frozenset(
    {
        "FailedToAuthenticateAtCsms",
        "CsmsFailedToAuthenticate",
        "CentralSystemFailedToAuthenticate",
        "ReconfigurationOfSecurityParameters",
        "InvalidMessages",
        "AttemptedReplayAttacks",
        "InvalidFirmwareSignature",
        "InvalidFirmwareSigningCertificate",
        "InvalidCsmsCertificate",
        "InvalidCentralSystemCertificate",
        "InvalidChargingStationCertificate",
        "InvalidChargePointCertificate",
        "InvalidTLSVersion",
        "InvalidTLSCipherSuite",
    }
)
SEVERITY_CRITICAL = 3
SEVERITY_NOTICE = 7


def security_event_severity(event_type: str) -> int | None:
    if event_type in CRITICAL_SECURITY_EVENTS:
        return SEVERITY_CRITICAL
    if event_type in NOTICE_SECURITY_EVENTS:
        return SEVERITY_NOTICE
    return None


def station_security_event_store(
    *, station_pk: int, event_type: str, timestamp: datetime | None, tech_info: str
) -> None:
    """A SecurityEventNotification from a station."""
    remote = (
        ChargingStation.objects.filter(pk=station_pk)
        .values_list("remote_address", flat=True)
        .first()
    )
    security_event_record(
        type=event_type,
        source="station",
        station_pk=station_pk,
        timestamp=timestamp,
        tech_info=tech_info,
        severity=security_event_severity(event_type),
        remote_address=remote or "",
    )


# --- Periodic event streams (OCPP 2.1 N11-N15) ------------------------------------------


def _stream_params(params: Json) -> dict[str, int | None]:
    return {"interval": params.get("interval"), "values": params.get("values")}


def event_stream_open(*, station_pk: int, stream: Json, at: datetime) -> PeriodicEventStream:
    """OpenPeriodicEventStream: the station starts a stream on one of its monitors (a stream
    id the station reuses reopens the row)."""
    monitor_id = stream["variableMonitoringId"]
    monitor = (
        VariableMonitor.objects.filter(station_id=station_pk, monitor_id=monitor_id)
        .only("variable_id")
        .first()
    )
    with transaction.atomic():
        row, _ = PeriodicEventStream.objects.update_or_create(
            station_id=station_pk,
            stream_id=stream["id"],
            defaults={
                "variable_monitoring_id": monitor_id,
                "variable_id": monitor.variable_id if monitor else None,
                **_stream_params(stream["params"]),
                "is_open": True,
                "opened_at": at,
                "closed_at": None,
                "updated": at,
            },
        )
    return row


def event_stream_close(*, station_pk: int, stream_id: int, at: datetime) -> bool:
    """ClosePeriodicEventStream; False when the CSMS knew no such open stream."""
    return bool(
        PeriodicEventStream.objects.filter(
            station_id=station_pk, stream_id=stream_id, is_open=True
        ).update(is_open=False, closed_at=at, updated=at)
    )


def event_stream_data_store(
    *, station_pk: int, stream_id: int, basetime: datetime, data: list[Json], at: datetime
) -> int:
    """NotifyPeriodicEventStream: each element's `t` is seconds after `basetime`. Data of a
    stream the CSMS never saw opened opens it (its monitor unknown: -1), so none is lost."""
    stream = PeriodicEventStream.objects.filter(station_id=station_pk, stream_id=stream_id).first()
    if stream is None:
        stream = PeriodicEventStream.objects.create(
            station_id=station_pk,
            stream_id=stream_id,
            variable_monitoring_id=-1,
            opened_at=at,
            updated=at,
        )
    rows = [
        PeriodicEventStreamValue(
            stream=stream,
            timestamp=basetime + timedelta(seconds=float(element["t"])),
            value=element["v"],
            received_at=at,
        )
        for element in data
    ]
    PeriodicEventStreamValue.objects.bulk_create(rows)
    return len(rows)


def event_stream_adjusted(*, station_pk: int, stream_id: int, params: Json, at: datetime) -> None:
    """The station accepted AdjustPeriodicEventStream: its new interval and values."""
    PeriodicEventStream.objects.filter(station_id=station_pk, stream_id=stream_id).update(
        **_stream_params(params), updated=at
    )


def event_streams_reported(*, station_pk: int, streams: list[Json], at: datetime) -> None:
    """GetPeriodicEventStream: the streams the station reports are open, any other closed."""
    for stream in streams:
        event_stream_open(station_pk=station_pk, stream=stream, at=at)
    PeriodicEventStream.objects.filter(station_id=station_pk, is_open=True).exclude(
        stream_id__in=[stream["id"] for stream in streams]
    ).update(is_open=False, closed_at=at, updated=at)

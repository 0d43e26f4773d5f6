"""Reads shared by the API, the admin and the handlers."""

from __future__ import annotations

from django.db.models import QuerySet

from devicemodel.models import (
    Component,
    ConfigurationKey,
    DataTransferMessage,
    DeviceEvent,
    DisplayMessage,
    ReportRequest,
    Variable,
    VariableAttribute,
    VariableMonitor,
    VariableOperation,
)


def component_list() -> QuerySet[Component]:
    return Component.objects.select_related("station")


def variable_list() -> QuerySet[Variable]:
    return Variable.objects.select_related("component__station", "characteristics")


def attribute_list() -> QuerySet[VariableAttribute]:
    return VariableAttribute.objects.select_related("variable__component__station")


def variable_operation_list() -> QuerySet[VariableOperation]:
    return VariableOperation.objects.select_related("station")


def configuration_key_list() -> QuerySet[ConfigurationKey]:
    return ConfigurationKey.objects.select_related("station")


def report_request_list() -> QuerySet[ReportRequest]:
    return ReportRequest.objects.select_related("station").prefetch_related("parts")


def monitor_list() -> QuerySet[VariableMonitor]:
    return VariableMonitor.objects.select_related("station", "variable__component")


def event_list() -> QuerySet[DeviceEvent]:
    return DeviceEvent.objects.select_related("station")


def display_message_list() -> QuerySet[DisplayMessage]:
    return DisplayMessage.objects.select_related("station")


def data_transfer_list() -> QuerySet[DataTransferMessage]:
    return DataTransferMessage.objects.select_related("station")


def customer_information_text(report: ReportRequest) -> str:
    """The customer information report assembled from its parts, in seqNo order."""
    return "".join(part.payload.get("data", "") for part in report.parts.order_by("seq_no"))


# Where a 2.x station announces its per-request limits (OCPP 2.0.1 appendix: DeviceDataCtrlr
# and MonitoringCtrlr ItemsPerMessage/BytesPerMessage, instance = the request).
_LIMIT_COMPONENT = {
    "GetVariables": "DeviceDataCtrlr",
    "SetVariables": "DeviceDataCtrlr",
    "GetReport": "DeviceDataCtrlr",
    "SetVariableMonitoring": "MonitoringCtrlr",
    "ClearVariableMonitoring": "MonitoringCtrlr",
}


def _positive_int(value: str | None) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def message_limits(*, station_pk: int, version: str, action: str) -> tuple[int | None, int | None]:
    """(items, bytes) one `action` request may carry to the station, as it reported them in
    its reports, GetVariables or GetConfiguration answers; None where it said nothing."""
    if version == "1.6":
        if action != "GetConfiguration":
            return None, None
        value = (
            ConfigurationKey.objects.filter(station_id=station_pk, key="GetConfigurationMaxKeys")
            .values_list("value", flat=True)
            .first()
        )
        return _positive_int(value), None
    component = _LIMIT_COMPONENT.get(action)
    if component is None:
        return None, None
    rows = VariableAttribute.objects.filter(
        variable__component__station_id=station_pk,
        variable__component__name=component,
        type="Actual",
    ).values_list("variable__name", "variable__instance", "value")
    limits: dict[str, int | None] = {"ItemsPerMessage": None, "BytesPerMessage": None}
    for name, instance, value in rows:
        for kind in limits:
            # 2.0.1 names the variable ItemsPerMessage with the request as its instance;
            # some stations (and OCPP 2.0) spell it ItemsPerMessageGetVariables.
            if (name == kind and instance == action) or name == f"{kind}{action}":
                limits[kind] = _positive_int(value)
    return limits["ItemsPerMessage"], limits["BytesPerMessage"]

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

from __future__ import annotations

import django_filters

from csms.api.stations import StationFilterSet
from devicemodel.models import (
    Component,
    ConfigurationKey,
    DataTransferMessage,
    DeviceEvent,
    DisplayMessage,
    MonitoringSetting,
    PeriodicEventStream,
    PeriodicEventStreamValue,
    ReportRequest,
    Variable,
    VariableAttribute,
    VariableMonitor,
    VariableOperation,
)


class ComponentFilter(StationFilterSet):
    class Meta:
        model = Component
        fields = ["name", "instance", "evse_id", "connector_id"]


class VariableFilter(StationFilterSet):
    station_path = "component__station__identity"
    component = django_filters.CharFilter(field_name="component__name")
    component_instance = django_filters.CharFilter(field_name="component__instance")
    evse_id = django_filters.NumberFilter(field_name="component__evse_id")
    connector_id = django_filters.NumberFilter(field_name="component__connector_id")

    class Meta:
        model = Variable
        fields = ["component", "component_instance", "name", "instance"]


class VariableAttributeFilter(StationFilterSet):
    station_path = "variable__component__station__identity"
    component = django_filters.CharFilter(field_name="variable__component__name")
    variable_name = django_filters.CharFilter(field_name="variable__name")
    evse_id = django_filters.NumberFilter(field_name="variable__component__evse_id")

    class Meta:
        model = VariableAttribute
        fields = ["component", "variable_name", "type", "mutability"]


class VariableOperationFilter(StationFilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")

    class Meta:
        model = VariableOperation
        fields = ["kind", "status", "component_name", "variable_name"]


class ConfigurationKeyFilter(StationFilterSet):
    class Meta:
        model = ConfigurationKey
        fields = ["key", "readonly", "unknown", "reboot_required"]


class ReportRequestFilter(StationFilterSet):
    class Meta:
        model = ReportRequest
        fields = ["kind", "request_id", "status"]


class VariableMonitorFilter(StationFilterSet):
    component = django_filters.CharFilter(field_name="variable__component__name")
    variable_name = django_filters.CharFilter(field_name="variable__name")

    class Meta:
        model = VariableMonitor
        fields = ["component", "variable_name", "type", "severity"]


class DeviceEventFilter(StationFilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = DeviceEvent
        fields = [
            "trigger",
            "cleared",
            "tech_code",
            "component_name",
            "variable_name",
            "event_notification_type",
            "transaction_id",
        ]


class DisplayMessageFilter(StationFilterSet):
    class Meta:
        model = DisplayMessage
        fields = ["state", "priority", "message_id"]


class DataTransferMessageFilter(StationFilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")

    class Meta:
        model = DataTransferMessage
        fields = ["direction", "vendor_id", "message_id", "status"]


class MonitoringSettingFilter(StationFilterSet):
    class Meta:
        model = MonitoringSetting
        fields = ["monitoring_base", "monitoring_level"]


# --- OCPP 2.1 ---------------------------------------------------------------------


class PeriodicEventStreamFilter(StationFilterSet):
    class Meta:
        model = PeriodicEventStream
        fields = ["is_open"]


class PeriodicEventStreamValueFilter(StationFilterSet):
    station_path = "stream__station__identity"

    class Meta:
        model = PeriodicEventStreamValue
        fields = ["stream"]

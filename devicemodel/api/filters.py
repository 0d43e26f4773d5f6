from __future__ import annotations

import django_filters

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


class ComponentFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station__identity")

    class Meta:
        model = Component
        fields = ["station", "name", "instance", "evse_id", "connector_id"]


class VariableFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="component__station__identity")
    component = django_filters.CharFilter(field_name="component__name")
    component_instance = django_filters.CharFilter(field_name="component__instance")
    evse_id = django_filters.NumberFilter(field_name="component__evse_id")
    connector_id = django_filters.NumberFilter(field_name="component__connector_id")

    class Meta:
        model = Variable
        fields = ["station", "component", "component_instance", "name", "instance"]


class VariableAttributeFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="variable__component__station__identity")
    component = django_filters.CharFilter(field_name="variable__component__name")
    variable_name = django_filters.CharFilter(field_name="variable__name")
    evse_id = django_filters.NumberFilter(field_name="variable__component__evse_id")

    class Meta:
        model = VariableAttribute
        fields = ["station", "component", "variable_name", "type", "mutability"]


class VariableOperationFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station__identity")
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")

    class Meta:
        model = VariableOperation
        fields = ["station", "kind", "status", "component_name", "variable_name"]


class ConfigurationKeyFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station__identity")

    class Meta:
        model = ConfigurationKey
        fields = ["station", "key", "readonly", "unknown", "reboot_required"]


class ReportRequestFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station__identity")

    class Meta:
        model = ReportRequest
        fields = ["station", "kind", "request_id", "status"]


class VariableMonitorFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station__identity")
    component = django_filters.CharFilter(field_name="variable__component__name")
    variable_name = django_filters.CharFilter(field_name="variable__name")

    class Meta:
        model = VariableMonitor
        fields = ["station", "component", "variable_name", "type", "severity"]


class DeviceEventFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station__identity")
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = DeviceEvent
        fields = [
            "station",
            "trigger",
            "cleared",
            "tech_code",
            "component_name",
            "variable_name",
            "event_notification_type",
            "transaction_id",
        ]


class DisplayMessageFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station__identity")

    class Meta:
        model = DisplayMessage
        fields = ["station", "state", "priority", "message_id"]


class DataTransferMessageFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station__identity")
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")

    class Meta:
        model = DataTransferMessage
        fields = ["station", "direction", "vendor_id", "message_id", "status"]

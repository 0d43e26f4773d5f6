from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import viewsets

from csms.api.pagination import NewestFirstCursorPagination
from devicemodel import selectors
from devicemodel.api import filters, serializers
from devicemodel.api.filters import PeriodicEventStreamFilter, PeriodicEventStreamValueFilter
from devicemodel.api.serializers import (
    PeriodicEventStreamSerializer,
    PeriodicEventStreamValueSerializer,
)
from devicemodel.models import MonitoringSetting, PeriodicEventStream, PeriodicEventStreamValue


class ComponentViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = selectors.component_list()
    serializer_class = serializers.ComponentSerializer
    filterset_class = filters.ComponentFilter


class VariableViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = selectors.variable_list().prefetch_related("attributes")
    serializer_class = serializers.VariableSerializer
    filterset_class = filters.VariableFilter


class VariableAttributeViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = selectors.attribute_list()
    serializer_class = serializers.VariableAttributeSerializer
    filterset_class = filters.VariableAttributeFilter


class VariableOperationViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = selectors.variable_operation_list()
    serializer_class = serializers.VariableOperationSerializer
    filterset_class = filters.VariableOperationFilter


class ConfigurationKeyViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = selectors.configuration_key_list()
    serializer_class = serializers.ConfigurationKeySerializer
    filterset_class = filters.ConfigurationKeyFilter


class ReportRequestViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = selectors.report_request_list()
    serializer_class = serializers.ReportRequestSerializer
    filterset_class = filters.ReportRequestFilter


class VariableMonitorViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = selectors.monitor_list()
    serializer_class = serializers.VariableMonitorSerializer
    filterset_class = filters.VariableMonitorFilter


class DeviceEventViewSet(viewsets.ReadOnlyModelViewSet):
    """Events the stations notify (NotifyEvent), newest first (cursor: append-only)."""

    queryset = selectors.event_list()
    serializer_class = serializers.DeviceEventSerializer
    filterset_class = filters.DeviceEventFilter
    pagination_class = NewestFirstCursorPagination
    filter_backends = [DjangoFilterBackend]


class DisplayMessageViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = selectors.display_message_list()
    serializer_class = serializers.DisplayMessageSerializer
    filterset_class = filters.DisplayMessageFilter


class DataTransferMessageViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = selectors.data_transfer_list()
    serializer_class = serializers.DataTransferMessageSerializer
    filterset_class = filters.DataTransferMessageFilter


class MonitoringSettingViewSet(viewsets.ReadOnlyModelViewSet):
    """Each station's monitoring base and level, as last accepted (2.x)."""

    queryset = MonitoringSetting.objects.select_related("station")
    serializer_class = serializers.MonitoringSettingSerializer
    filterset_class = filters.MonitoringSettingFilter
    ordering = ["station__identity"]


# --- OCPP 2.1 ---------------------------------------------------------------------


class PeriodicEventStreamViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = PeriodicEventStream.objects.select_related("station", "variable")
    serializer_class = PeriodicEventStreamSerializer
    filterset_class = PeriodicEventStreamFilter


class PeriodicEventStreamValueViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = PeriodicEventStreamValue.objects.select_related("stream")
    serializer_class = PeriodicEventStreamValueSerializer
    filterset_class = PeriodicEventStreamValueFilter

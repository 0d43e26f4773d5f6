from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import viewsets

from csms.api.pagination import NewestFirstCursorPagination
from stations import selectors
from stations.api import filters, serializers
from stations.models import BootNotification, Evse, SecurityEvent


class ChargingStationViewSet(viewsets.ModelViewSet):
    """Charging stations, addressed by their OCPP identity (`station_id`)."""

    queryset = selectors.station_list()
    serializer_class = serializers.ChargingStationSerializer
    lookup_field = "identity"
    lookup_url_kwarg = "station_id"
    lookup_value_regex = "[^/]+"
    filterset_class = filters.StationFilter
    ordering_fields = ["identity", "created", "last_seen", "last_boot_at", "vendor", "model"]
    ordering = ["identity"]


class EvseViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Evse.objects.select_related("station").prefetch_related("connectors")
    serializer_class = serializers.EvseSerializer
    filterset_class = filters.EvseFilter
    ordering_fields = ["evse_id", "station__identity"]
    ordering = ["station__identity", "evse_id"]


class ConnectorViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = selectors.connector_list()
    serializer_class = serializers.ConnectorSerializer
    filterset_class = filters.ConnectorFilter
    ordering_fields = ["connector_id", "status", "status_timestamp", "updated"]
    ordering = ["evse__station__identity", "evse__evse_id", "connector_id"]


class BootNotificationViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = BootNotification.objects.select_related("station")
    serializer_class = serializers.BootNotificationSerializer
    filterset_class = filters.BootFilter
    ordering_fields = ["timestamp"]
    ordering = ["-timestamp"]


class OcppMessageViewSet(viewsets.ReadOnlyModelViewSet):
    """The OCPP message log, newest first (cursor pagination: it is large and append-only)."""

    queryset = selectors.message_list()
    serializer_class = serializers.OcppMessageSerializer
    filterset_class = filters.MessageFilter
    pagination_class = NewestFirstCursorPagination
    filter_backends = [DjangoFilterBackend]  # the cursor fixes the order


class SecurityEventViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = SecurityEvent.objects.select_related("station")
    serializer_class = serializers.SecurityEventSerializer
    """Security events, newest first (cursor pagination: append-only)."""

    filterset_class = filters.SecurityEventFilter
    pagination_class = NewestFirstCursorPagination
    filter_backends = [DjangoFilterBackend]

import django_filters

from csms.api.stations import StationFilterSet
from stations.models import (
    BootNotification,
    ChargingStation,
    Connector,
    Evse,
    OcppMessage,
    SecurityEvent,
)


class StationFilter(StationFilterSet):
    station_path = "identity"
    station_id__in = django_filters.BaseInFilter(field_name="identity")
    online = django_filters.BooleanFilter(field_name="is_online")
    vendor = django_filters.CharFilter()
    model = django_filters.CharFilter()
    firmware_version = django_filters.CharFilter()

    class Meta:
        model = ChargingStation
        fields = ["enabled", "protocol", "registration_status", "security_profile", "status"]


class EvseFilter(StationFilterSet):
    class Meta:
        model = Evse
        fields = ["evse_id"]


class ConnectorFilter(StationFilterSet):
    station_path = "evse__station__identity"
    evse_id = django_filters.NumberFilter(field_name="evse__evse_id")

    class Meta:
        model = Connector
        fields = ["connector_id", "status", "error_code"]


class BootFilter(StationFilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = BootNotification
        fields = ["status", "protocol", "reason"]


class MessageFilter(StationFilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = OcppMessage
        fields = ["direction", "message_type", "action", "message_id", "error_code"]


class SecurityEventFilter(StationFilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = SecurityEvent
        fields = ["type", "source", "identity", "severity"]

"""Serializers of the stations data API. A station is addressed by its OCPP identity,
exposed as `station_id` everywhere in the API."""

from __future__ import annotations

from rest_framework import serializers

from csms.api.stations import StationIdField, StationScopedSerializer
from stations.models import (
    BootNotification,
    ChargingStation,
    Connector,
    Evse,
    OcppMessage,
    SecurityEvent,
)


class ConnectorSerializer(serializers.ModelSerializer):
    station_id = StationIdField(source="evse.station")
    evse_id = serializers.IntegerField(source="evse.evse_id", read_only=True)

    class Meta:
        model = Connector
        fields = [
            "id",
            "station_id",
            "evse_id",
            "connector_id",
            "status",
            "error_code",
            "info",
            "vendor_id",
            "vendor_error_code",
            "status_timestamp",
            "updated",
        ]
        read_only_fields = fields


class EvseConnectorSerializer(ConnectorSerializer):
    class Meta(ConnectorSerializer.Meta):
        fields = [f for f in ConnectorSerializer.Meta.fields if f not in ("station_id", "evse_id")]
        read_only_fields = fields


class EvseSerializer(StationScopedSerializer):
    connectors = EvseConnectorSerializer(many=True, read_only=True)

    class Meta:
        model = Evse
        fields = ["id", "station_id", "evse_id", "connectors"]
        read_only_fields = fields


class StationEvseSerializer(EvseSerializer):
    class Meta(EvseSerializer.Meta):
        fields = ["evse_id", "connectors"]
        read_only_fields = fields


# To expose a new ChargingStation field, add it to one of these lists.
# Set by operators (and by the apps that own them: boot configuration, credentials).
STATION_WRITABLE = ["station_id", "enabled", "security_profile", "account"]
# Reported by the station or kept by the CSMS.
STATION_READ_ONLY = [
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "iccid",
    "imsi",
    "meter_type",
    "meter_serial_number",
    "registration_status",
    "last_boot_at",
    "protocol",
    "is_online",
    "connected_since",
    "last_seen",
    "last_heartbeat",
    "remote_address",
    "status",
    "error_code",
    "created",
    "updated",
]


class ChargingStationSerializer(serializers.ModelSerializer):
    station_id = serializers.CharField(
        source="identity",
        max_length=48,
        help_text="The identity the station connects with (last segment of its URL).",
    )
    evses = StationEvseSerializer(many=True, read_only=True)

    class Meta:
        model = ChargingStation
        fields = [*STATION_WRITABLE, *STATION_READ_ONLY, "evses"]
        read_only_fields = STATION_READ_ONLY

    def validate_station_id(self, value: str) -> str:
        # The websocket route refuses these (they cannot be a URL path segment's content).
        if any(ch in value for ch in "/\\?#") or any(
            ord(ch) < 32 or ord(ch) == 127 for ch in value
        ):
            raise serializers.ValidationError(
                "A station_id holds no control characters and none of / \\ ? #."
            )
        queryset = ChargingStation.objects.filter(identity=value)
        if self.instance is not None:
            queryset = queryset.exclude(pk=self.instance.pk)
        if queryset.exists():
            raise serializers.ValidationError("A station with this station_id exists.")
        return value


class BootNotificationSerializer(StationScopedSerializer):
    class Meta:
        model = BootNotification
        fields = [
            "id",
            "station_id",
            "timestamp",
            "protocol",
            "reason",
            "vendor",
            "model",
            "serial_number",
            "firmware_version",
            "status",
            "interval",
            "payload",
        ]
        read_only_fields = fields


class OcppMessageSerializer(StationScopedSerializer):
    class Meta:
        model = OcppMessage
        fields = [
            "id",
            "station_id",
            "timestamp",
            "direction",
            "message_type",
            "message_id",
            "action",
            "payload",
            "error_code",
            "error_description",
            "soap_xml",
            "answers",
        ]
        read_only_fields = fields


class SecurityEventSerializer(StationScopedSerializer):
    class Meta:
        model = SecurityEvent
        fields = [
            "id",
            "station_id",
            "identity",
            "source",
            "type",
            "timestamp",
            "tech_info",
            "severity",
            "remote_address",
            "count",
            "last_seen",
        ]
        read_only_fields = fields

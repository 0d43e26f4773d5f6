from __future__ import annotations

from rest_framework import serializers

from csms.api.stations import StationIdField, StationScopedSerializer
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


class ComponentSerializer(StationScopedSerializer):
    class Meta:
        model = Component
        fields = ["id", "station_id", "name", "instance", "evse_id", "connector_id"]


class VariableCharacteristicsSerializer(serializers.ModelSerializer):
    class Meta:
        model = VariableCharacteristics
        exclude = ["id", "variable"]


class VariableAttributeSerializer(serializers.ModelSerializer):
    station_id = StationIdField(source="variable.component.station")
    component = serializers.CharField(source="variable.component.name", read_only=True)
    component_instance = serializers.CharField(source="variable.component.instance", read_only=True)
    evse_id = serializers.IntegerField(source="variable.component.evse_id", read_only=True)
    connector_id = serializers.IntegerField(
        source="variable.component.connector_id", read_only=True
    )
    variable_name = serializers.CharField(source="variable.name", read_only=True)
    variable_instance = serializers.CharField(source="variable.instance", read_only=True)

    class Meta:
        model = VariableAttribute
        fields = [
            "id",
            "station_id",
            "component",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable",
            "variable_name",
            "variable_instance",
            "type",
            "value",
            "mutability",
            "persistent",
            "constant",
            "updated",
        ]


class VariableSerializer(serializers.ModelSerializer):
    component = ComponentSerializer(read_only=True)
    attributes = VariableAttributeSerializer(many=True, read_only=True)
    characteristics = VariableCharacteristicsSerializer(read_only=True)

    class Meta:
        model = Variable
        fields = ["id", "component", "name", "instance", "attributes", "characteristics"]


class VariableOperationSerializer(StationScopedSerializer):
    class Meta:
        model = VariableOperation
        exclude = ["station"]


class ConfigurationKeySerializer(StationScopedSerializer):
    class Meta:
        model = ConfigurationKey
        exclude = ["station"]


class ReportPartSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReportPart
        fields = ["seq_no", "tbc", "generated_at", "received_at", "payload"]


class ReportRequestSerializer(StationScopedSerializer):
    parts = ReportPartSerializer(many=True, read_only=True)

    class Meta:
        model = ReportRequest
        exclude = ["station"]


class VariableMonitorSerializer(StationScopedSerializer):
    component = serializers.CharField(source="variable.component.name", read_only=True)
    variable_name = serializers.CharField(source="variable.name", read_only=True)

    class Meta:
        model = VariableMonitor
        exclude = ["station"]


class DeviceEventSerializer(StationScopedSerializer):
    class Meta:
        model = DeviceEvent
        exclude = ["station"]


class DisplayMessageSerializer(StationScopedSerializer):
    class Meta:
        model = DisplayMessage
        exclude = ["station"]


class DataTransferMessageSerializer(StationScopedSerializer):
    class Meta:
        model = DataTransferMessage
        exclude = ["station"]


class MonitoringSettingSerializer(StationScopedSerializer):
    class Meta:
        model = MonitoringSetting
        exclude = ["station"]


# --- OCPP 2.1 ---------------------------------------------------------------------


class PeriodicEventStreamSerializer(StationScopedSerializer):
    class Meta:
        model = PeriodicEventStream
        exclude = ["station"]


class PeriodicEventStreamValueSerializer(serializers.ModelSerializer):
    class Meta:
        model = PeriodicEventStreamValue
        fields = "__all__"

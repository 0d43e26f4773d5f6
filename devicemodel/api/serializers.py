from __future__ import annotations

from rest_framework import serializers

from devicemodel.models import (
    Component,
    ConfigurationKey,
    DataTransferMessage,
    DeviceEvent,
    DisplayMessage,
    ReportPart,
    ReportRequest,
    Variable,
    VariableAttribute,
    VariableCharacteristics,
    VariableMonitor,
    VariableOperation,
)


class ComponentSerializer(serializers.ModelSerializer):
    station = serializers.SlugRelatedField(slug_field="identity", read_only=True)

    class Meta:
        model = Component
        fields = ["id", "station", "name", "instance", "evse_id", "connector_id"]


class VariableCharacteristicsSerializer(serializers.ModelSerializer):
    class Meta:
        model = VariableCharacteristics
        exclude = ["id", "variable"]


class VariableAttributeSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="variable.component.station.identity", read_only=True)
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
            "station",
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


class VariableOperationSerializer(serializers.ModelSerializer):
    station = serializers.SlugRelatedField(slug_field="identity", read_only=True)

    class Meta:
        model = VariableOperation
        fields = "__all__"


class ConfigurationKeySerializer(serializers.ModelSerializer):
    station = serializers.SlugRelatedField(slug_field="identity", read_only=True)

    class Meta:
        model = ConfigurationKey
        fields = "__all__"


class ReportPartSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReportPart
        fields = ["seq_no", "tbc", "generated_at", "received_at", "payload"]


class ReportRequestSerializer(serializers.ModelSerializer):
    station = serializers.SlugRelatedField(slug_field="identity", read_only=True)
    parts = ReportPartSerializer(many=True, read_only=True)

    class Meta:
        model = ReportRequest
        fields = "__all__"


class VariableMonitorSerializer(serializers.ModelSerializer):
    station = serializers.SlugRelatedField(slug_field="identity", read_only=True)
    component = serializers.CharField(source="variable.component.name", read_only=True)
    variable_name = serializers.CharField(source="variable.name", read_only=True)

    class Meta:
        model = VariableMonitor
        fields = "__all__"


class DeviceEventSerializer(serializers.ModelSerializer):
    station = serializers.SlugRelatedField(slug_field="identity", read_only=True)

    class Meta:
        model = DeviceEvent
        fields = "__all__"


class DisplayMessageSerializer(serializers.ModelSerializer):
    station = serializers.SlugRelatedField(slug_field="identity", read_only=True)

    class Meta:
        model = DisplayMessage
        fields = "__all__"


class DataTransferMessageSerializer(serializers.ModelSerializer):
    station = serializers.SlugRelatedField(slug_field="identity", read_only=True)

    class Meta:
        model = DataTransferMessage
        fields = "__all__"

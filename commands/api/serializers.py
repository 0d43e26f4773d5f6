from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from commands.choices import CommandStatus
from commands.models import CallbackDelivery, Command
from csms import egress
from csms.api.stations import StationIdField


class CommandSerializer(serializers.ModelSerializer):
    """The command record: what was sent to which station, and what came back."""

    station_id = StationIdField()
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, default=None, allow_null=True
    )
    status = serializers.ChoiceField(choices=CommandStatus.choices, read_only=True)
    request = serializers.JSONField(read_only=True, help_text="The OCPP request payload sent.")
    response = serializers.JSONField(
        read_only=True, allow_null=True, help_text="The station's answer (CALLRESULT payload)."
    )
    error = serializers.JSONField(
        read_only=True,
        allow_null=True,
        help_text="code, description and details: the station's CALLERROR, our refusal, "
        "Timeout, StationOffline or ChannelLayerUnavailable.",
    )

    class Meta:
        model = Command
        fields = [
            "id",
            "station_id",
            "action",
            "protocol",
            "status",
            "request",
            "response",
            "error",
            "created",
            "completed",
            "created_by",
            "origin",
            "batch",
            "callback_url",
        ]
        read_only_fields = fields


class CallbackDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = CallbackDelivery
        fields = ["attempt", "at", "status_code", "error", "delivered"]
        read_only_fields = fields


class CommandDetailSerializer(CommandSerializer):
    deliveries = CallbackDeliverySerializer(many=True, read_only=True)

    class Meta(CommandSerializer.Meta):
        fields = [*CommandSerializer.Meta.fields, "deliveries"]
        read_only_fields = fields


class CallOptionsSerializer(serializers.Serializer):
    """Query parameters of every message-API call."""

    wait = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Wait for the station's answer (200), or answer 202 at once (false).",
    )
    callback_url = serializers.URLField(
        required=False,
        allow_blank=True,
        default="",
        help_text="POST the command record here when it ends (implies wait=false).",
    )
    timeout = serializers.FloatField(
        required=False,
        default=None,
        allow_null=True,
        min_value=0.1,
        help_text="Seconds to wait for the station's answer (default CSMS_CALL_TIMEOUT).",
    )

    def validate_callback_url(self, value: str) -> str:
        if value and not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Only http and https callback URLs are supported.")
        egress.validate_url(value)
        return value

    def validate_timeout(self, value: float | None) -> float | None:
        if value is not None and value > settings.CSMS_API_MAX_CALL_TIMEOUT:
            raise serializers.ValidationError(
                f"At most {settings.CSMS_API_MAX_CALL_TIMEOUT:g} seconds."
            )
        return value

    def validate(self, attrs):
        if attrs.get("callback_url"):
            attrs["wait"] = False
        return attrs


class StationSelectionSerializer(serializers.Serializer):
    station_ids = serializers.ListField(
        child=serializers.CharField(max_length=48),
        required=False,
        allow_empty=False,
        help_text="The stations to send to, by station_id.",
    )
    filter = serializers.DictField(
        required=False,
        help_text='Or a station filter of GET /api/stations/ (e.g. {"online": true, '
        '"model": "AC-22"}).',
    )

    def validate(self, attrs):
        if ("station_ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError("Give either station_ids or filter.")
        return attrs


class FanOutSerializer(StationSelectionSerializer):
    action = serializers.CharField(max_length=64, help_text="The OCPP action, e.g. Reset.")
    payload = serializers.JSONField(
        required=False, help_text="The OCPP request payload, for stations of every version."
    )
    payloads = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text='Or one payload per OCPP version: {"1.6": {...}, "2.0.1": {...}}.',
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if ("payload" in attrs) == ("payloads" in attrs):
            raise serializers.ValidationError("Give either payload or payloads.")
        return attrs


# --- version-agnostic operations --------------------------------------------------------
class StartSessionOperationSerializer(serializers.Serializer):
    id_token = serializers.CharField(max_length=255, help_text="idTag (1.6) / idToken (2.x).")
    id_token_type = serializers.CharField(
        max_length=20, required=False, help_text="2.x IdToken type (default Central)."
    )
    evse_id = serializers.IntegerField(min_value=1, required=False)
    remote_start_id = serializers.IntegerField(
        min_value=1, required=False, help_text="2.x remoteStartId (default: a random one)."
    )


class StopSessionOperationSerializer(serializers.Serializer):
    transaction_id = serializers.CharField(max_length=36)


class ResetOperationSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=["hard", "soft"],
        default="soft",
        help_text="hard: 1.6 Hard / 2.x Immediate; soft: 1.6 Soft / 2.x OnIdle.",
    )
    evse_id = serializers.IntegerField(min_value=1, required=False, help_text="2.x only.")


class UnlockOperationSerializer(serializers.Serializer):
    evse_id = serializers.IntegerField(min_value=1)
    connector_id = serializers.IntegerField(min_value=1, required=False)


class ChangeAvailabilityOperationSerializer(serializers.Serializer):
    operative = serializers.BooleanField()
    evse_id = serializers.IntegerField(
        min_value=1, required=False, help_text="Omit for the whole station."
    )
    connector_id = serializers.IntegerField(min_value=1, required=False)


class TriggerMessageOperationSerializer(serializers.Serializer):
    message = serializers.CharField(
        max_length=50, help_text="requestedMessage, e.g. StatusNotification or Heartbeat."
    )
    evse_id = serializers.IntegerField(min_value=1, required=False)
    connector_id = serializers.IntegerField(min_value=1, required=False)


OPERATION_SERIALIZERS = {
    "start-session": StartSessionOperationSerializer,
    "stop-session": StopSessionOperationSerializer,
    "reset": ResetOperationSerializer,
    "unlock": UnlockOperationSerializer,
    "change-availability": ChangeAvailabilityOperationSerializer,
    "trigger-message": TriggerMessageOperationSerializer,
}

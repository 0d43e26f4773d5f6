from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from csms.api.stations import StationIdAliasMixin, StationScopedSerializer
from firmware.models import FirmwareFile, FirmwarePublication, FirmwareUpdate, LogRequest


class FirmwareFileSerializer(serializers.ModelSerializer):
    file = serializers.FileField(write_only=True)
    filename = serializers.CharField(read_only=True)

    class Meta:
        model = FirmwareFile
        fields = [
            "id",
            "name",
            "version",
            "file",
            "filename",
            "size",
            "sha256",
            "md5",
            "signing_certificate",
            "signature",
            "uploaded_at",
        ]
        read_only_fields = ["size", "sha256", "md5", "uploaded_at"]


class FirmwareLinkSerializer(serializers.Serializer):
    valid_until = serializers.DateTimeField(required=False)


class FirmwareUpdateSerializer(StationScopedSerializer):
    class Meta:
        model = FirmwareUpdate
        exclude = ["station"]


class FirmwarePublicationSerializer(StationScopedSerializer):
    class Meta:
        model = FirmwarePublication
        exclude = ["station"]


class LogRequestSerializer(StationScopedSerializer):
    file = serializers.SerializerMethodField()

    class Meta:
        model = LogRequest
        exclude = ["station", "location"]

    def get_file(self, obj: LogRequest) -> str | None:
        """Staff download link of the uploaded file."""
        if not obj.file:
            return None
        path = reverse("firmware:admin-log", kwargs={"pk": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class FirmwareUpdateCreateSerializer(StationIdAliasMixin, serializers.Serializer):
    """Send UpdateFirmware (or, with `signed` on 1.6, SignedUpdateFirmware) to a station."""

    station_id = serializers.CharField(
        source="station", help_text="Identity (station_id) of a connected station."
    )
    firmware = serializers.PrimaryKeyRelatedField(queryset=FirmwareFile.objects.all())
    retrieve_at = serializers.DateTimeField(required=False)
    install_at = serializers.DateTimeField(required=False)
    retries = serializers.IntegerField(required=False, min_value=0)
    retry_interval = serializers.IntegerField(required=False, min_value=0)
    signed = serializers.BooleanField(default=False)


class LogRequestCreateSerializer(StationIdAliasMixin, serializers.Serializer):
    """Ask a station for diagnostics (1.6 GetDiagnostics) or a log (GetLog)."""

    station_id = serializers.CharField(
        source="station", help_text="Identity (station_id) of a connected station."
    )
    kind = serializers.ChoiceField(
        choices=["GetDiagnostics", "GetLog"], required=False, help_text="Default: GetLog."
    )
    log_type = serializers.ChoiceField(
        choices=["DiagnosticsLog", "SecurityLog", "DataCollectorLog"], default="DiagnosticsLog"
    )
    oldest_at = serializers.DateTimeField(required=False)
    latest_at = serializers.DateTimeField(required=False)
    retries = serializers.IntegerField(required=False, min_value=0)
    retry_interval = serializers.IntegerField(required=False, min_value=0)


class OutcomeSerializer(serializers.Serializer):
    status = serializers.CharField()
    response = serializers.JSONField(allow_null=True)
    error_code = serializers.CharField()
    error_description = serializers.CharField()

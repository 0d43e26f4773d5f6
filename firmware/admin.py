"""Firmware files, updates, publications and log requests in the operator's admin; the
station page gets "Update firmware" and "Get log" operations."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from firmware import services
from firmware.choices import LogRequestKind, LogType
from firmware.models import FirmwareFile, FirmwarePublication, FirmwareUpdate, LogRequest
from ocpp_router.outbound import Outcome
from ocpp_router.rpc import V16
from stations.admin_commands import CommandResult
from stations.admin_panels import register_station_operation
from stations.models import ChargingStation
from stations.services import StationNotConnected


@admin.register(FirmwareFile)
class FirmwareFileAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "filename", "size", "md5", "uploaded_at", "download"]
    search_fields = ["name", "version", "sha256", "md5"]
    readonly_fields = ["size", "sha256", "md5", "uploaded_at", "download"]
    fields = [
        "name",
        "version",
        "file",
        "signing_certificate",
        "signature",
        "size",
        "sha256",
        "md5",
        "uploaded_at",
        "download",
    ]

    @admin.display(description="download")
    def download(self, obj: FirmwareFile) -> str:
        if not obj.pk or not obj.file:
            return "-"
        url = reverse("firmware:admin-firmware", kwargs={"pk": obj.pk})
        return format_html('<a href="{}">{}</a>', url, obj.filename)

    def save_model(self, request, obj, form, change):
        if "file" in form.changed_data:
            obj.size, obj.sha256, obj.md5 = services.firmware_file_measure(
                form.cleaned_data["file"]
            )
        super().save_model(request, obj, form, change)


@admin.register(FirmwareUpdate)
class FirmwareUpdateAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = [
        "station",
        "kind",
        "request_id",
        "firmware",
        "response_status",
        "status",
        "retrieve_at",
        "updated",
    ]
    list_filter = ["kind", "status", "response_status"]
    search_fields = ["station__identity", "firmware__name"]
    list_select_related = ["station", "firmware"]
    date_hierarchy = "created"


@admin.register(FirmwarePublication)
class FirmwarePublicationAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["station", "request_id", "firmware", "response_status", "status", "updated"]
    list_filter = ["status", "response_status"]
    search_fields = ["station__identity", "checksum"]
    list_select_related = ["station", "firmware"]


@admin.register(LogRequest)
class LogRequestAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = [
        "station",
        "kind",
        "log_type",
        "request_id",
        "response_status",
        "status",
        "uploaded_at",
        "download",
    ]
    list_filter = ["kind", "log_type", "status", "response_status"]
    search_fields = ["station__identity", "filename"]
    list_select_related = ["station"]
    date_hierarchy = "created"
    readonly_fields = ["download", "file_size", "uploaded_at", "history"]

    @admin.display(description="uploaded file")
    def download(self, obj: LogRequest) -> str:
        if not obj.file:
            return "-"
        url = reverse("firmware:admin-log", kwargs={"pk": obj.pk})
        return format_html('<a href="{}">{}</a>', url, obj.file.name.rsplit("/", 1)[-1])


# --- station-page operations --------------------------------------------------------------


def _public_base(request: HttpRequest) -> str:
    return settings.CSMS_PUBLIC_URL or request.build_absolute_uri("/")


def _result(identity: str, outcome: Outcome) -> CommandResult:
    return CommandResult(identity, outcome.action, outcome.request, outcome=outcome)


class UpdateFirmwareForm(forms.Form):
    firmware = forms.ModelChoiceField(
        queryset=FirmwareFile.objects.all(),
        help_text="Sent as a signed download link, valid for CSMS_FIRMWARE_URL_TTL seconds.",
    )
    retrieve_at = forms.DateTimeField(required=False, help_text="Empty: now.")
    install_at = forms.DateTimeField(required=False, help_text="2.x only; empty: at once.")
    retries = forms.IntegerField(required=False, min_value=0)
    retry_interval = forms.IntegerField(required=False, min_value=0, help_text="Seconds.")
    signed = forms.BooleanField(
        required=False, help_text="1.6: SignedUpdateFirmware (security extension)."
    )

    def __init__(self, station: ChargingStation, data: Any = None) -> None:
        super().__init__(data)
        if station.protocol != V16:
            del self.fields["signed"]


def _update_firmware(
    request: HttpRequest, station: ChargingStation, cleaned: dict[str, Any]
) -> CommandResult:
    options = {k: v for k, v in cleaned.items() if k != "firmware" and v not in (None, "")}
    try:
        _, outcome = services.firmware_update_send(
            identity=station.identity,
            firmware_pk=cleaned["firmware"].pk,
            base_url=_public_base(request),
            **options,
        )
    except StationNotConnected as exc:
        return CommandResult(station.identity, "UpdateFirmware", {}, problem=str(exc))
    return _result(station.identity, outcome)


class GetLogForm(forms.Form):
    kind = forms.ChoiceField(choices=LogRequestKind.choices, initial=LogRequestKind.LOG)
    log_type = forms.ChoiceField(choices=LogType.choices, initial=LogType.DIAGNOSTICS)
    oldest_at = forms.DateTimeField(required=False)
    latest_at = forms.DateTimeField(required=False)
    retries = forms.IntegerField(required=False, min_value=0)
    retry_interval = forms.IntegerField(required=False, min_value=0, help_text="Seconds.")

    def __init__(self, station: ChargingStation, data: Any = None) -> None:
        super().__init__(data)
        if station.protocol != V16:
            # GetDiagnostics exists in OCPP 1.6 only.
            del self.fields["kind"]


def _get_log(
    request: HttpRequest, station: ChargingStation, cleaned: dict[str, Any]
) -> CommandResult:
    options = {k: v for k, v in cleaned.items() if v not in (None, "")}
    try:
        _, outcome = services.log_request_send(
            identity=station.identity, base_url=_public_base(request), **options
        )
    except StationNotConnected as exc:
        return CommandResult(station.identity, "GetLog", {}, problem=str(exc))
    return _result(station.identity, outcome)


register_station_operation(
    "update_firmware", "Update firmware", form=UpdateFirmwareForm, perform=_update_firmware
)
register_station_operation("get_log", "Get log", form=GetLogForm, perform=_get_log)

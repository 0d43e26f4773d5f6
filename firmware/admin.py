from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from firmware import services
from firmware.models import FirmwareFile, FirmwarePublication, FirmwareUpdate, LogRequest


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
    list_display = ["station", "request_id", "firmware", "response_status", "status", "updated"]
    list_filter = ["status", "response_status"]
    search_fields = ["station__identity", "checksum"]
    list_select_related = ["station", "firmware"]


@admin.register(LogRequest)
class LogRequestAdmin(admin.ModelAdmin):
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

"""Firmware files and their installation and publication on stations; diagnostics and log
uploads. Files live in the configured storage (CSMS_STORAGE)."""

from __future__ import annotations

from django.db import models

from firmware.choices import FirmwareUpdateKind, LogRequestKind, LogType
from stations.models import ChargingStation


class FirmwareFile(models.Model):
    """A firmware image an operator uploaded; stations download it from a signed link."""

    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50, blank=True)
    file = models.FileField(upload_to="firmware/%Y/%m/", max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    # PublishFirmware identifies the image by its MD5 checksum (OCPP 2.0.1 L03).
    md5 = models.CharField(max_length=32, blank=True)
    signing_certificate = models.TextField(
        blank=True, help_text="PEM certificate of the signer, sent with signed updates."
    )
    signature = models.TextField(blank=True, help_text="Base64 signature of the image.")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()

    @property
    def filename(self) -> str:
        return self.file.name.rsplit("/", 1)[-1]


class FirmwareUpdate(models.Model):
    """One UpdateFirmware / SignedUpdateFirmware sent to a station and its progress."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="firmware_updates"
    )
    firmware = models.ForeignKey(
        FirmwareFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="updates"
    )
    kind = models.CharField(max_length=25, choices=FirmwareUpdateKind.choices)
    request_id = models.IntegerField(null=True, blank=True)
    location = models.CharField(max_length=2000)
    retrieve_at = models.DateTimeField()
    install_at = models.DateTimeField(null=True, blank=True)
    retries = models.PositiveIntegerField(null=True, blank=True)
    retry_interval = models.PositiveIntegerField(null=True, blank=True)
    response_status = models.CharField(max_length=30, blank=True)
    status = models.CharField(max_length=40, blank=True, help_text="Last status notified.")
    history = models.JSONField(default=list, blank=True)
    created = models.DateTimeField()
    updated = models.DateTimeField()

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["station", "-created"])]

    def __str__(self) -> str:
        return f"{self.station} {self.kind} #{self.request_id or self.pk}: {self.status or '-'}"


class FirmwarePublication(models.Model):
    """A PublishFirmware to a local controller (2.x L03) and its progress."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="firmware_publications"
    )
    firmware = models.ForeignKey(
        FirmwareFile,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="publications",
    )
    request_id = models.IntegerField()
    location = models.CharField(max_length=2000)
    checksum = models.CharField(max_length=32)
    response_status = models.CharField(max_length=30, blank=True)
    status = models.CharField(max_length=40, blank=True)
    published_locations = models.JSONField(default=list, blank=True)
    history = models.JSONField(default=list, blank=True)
    unpublished_status = models.CharField(max_length=30, blank=True)
    created = models.DateTimeField()
    updated = models.DateTimeField()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.station} PublishFirmware #{self.request_id}: {self.status or '-'}"


class LogRequest(models.Model):
    """A GetDiagnostics or GetLog: where the station uploads to, its progress, the file."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="log_requests"
    )
    kind = models.CharField(max_length=20, choices=LogRequestKind.choices)
    log_type = models.CharField(max_length=20, choices=LogType.choices, blank=True)
    request_id = models.IntegerField(null=True, blank=True)
    location = models.CharField(max_length=2000)
    oldest_at = models.DateTimeField(null=True, blank=True)
    latest_at = models.DateTimeField(null=True, blank=True)
    response_status = models.CharField(max_length=30, blank=True)
    filename = models.CharField(max_length=255, blank=True, help_text="Name the station gave.")
    status = models.CharField(max_length=40, blank=True, help_text="Last status notified.")
    history = models.JSONField(default=list, blank=True)
    file = models.FileField(upload_to="logs/%Y/%m/", max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField()
    updated = models.DateTimeField()

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["station", "-created"])]

    def __str__(self) -> str:
        return f"{self.station} {self.kind} #{self.request_id or self.pk}: {self.status or '-'}"

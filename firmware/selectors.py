"""Reads shared by the API, the admin and the views."""

from __future__ import annotations

from django.db.models import QuerySet

from firmware.models import FirmwareFile, FirmwarePublication, FirmwareUpdate, LogRequest


def firmware_file_list() -> QuerySet[FirmwareFile]:
    return FirmwareFile.objects.all()


def firmware_update_list() -> QuerySet[FirmwareUpdate]:
    return FirmwareUpdate.objects.select_related("station", "firmware")


def firmware_publication_list() -> QuerySet[FirmwarePublication]:
    return FirmwarePublication.objects.select_related("station", "firmware")


def log_request_list() -> QuerySet[LogRequest]:
    return LogRequest.objects.select_related("station")

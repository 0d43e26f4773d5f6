from __future__ import annotations

import django_filters

from csms.api.stations import StationFilterSet
from firmware.models import FirmwarePublication, FirmwareUpdate, LogRequest


class FirmwareUpdateFilter(StationFilterSet):
    class Meta:
        model = FirmwareUpdate
        fields = ["kind", "request_id", "status", "response_status", "firmware"]


class FirmwarePublicationFilter(StationFilterSet):
    class Meta:
        model = FirmwarePublication
        fields = ["request_id", "status", "checksum", "firmware"]


class LogRequestFilter(StationFilterSet):
    uploaded = django_filters.BooleanFilter(
        field_name="uploaded_at", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = LogRequest
        fields = ["kind", "log_type", "request_id", "status", "uploaded"]

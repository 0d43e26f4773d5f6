from __future__ import annotations

import django_filters

from firmware.models import FirmwarePublication, FirmwareUpdate, LogRequest


class FirmwareUpdateFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station__identity")

    class Meta:
        model = FirmwareUpdate
        fields = ["station", "kind", "request_id", "status", "response_status", "firmware"]


class FirmwarePublicationFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station__identity")

    class Meta:
        model = FirmwarePublication
        fields = ["station", "request_id", "status", "checksum", "firmware"]


class LogRequestFilter(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station__identity")
    uploaded = django_filters.BooleanFilter(
        field_name="uploaded_at", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = LogRequest
        fields = ["station", "kind", "log_type", "request_id", "status", "uploaded"]

"""Read-only data API of smart charging; profiles are set through the message API
(`POST /api/stations/{id}/commands/SetChargingProfile`), which records them here."""

import django_filters
from rest_framework import viewsets

from smartcharging.api.serializers import (
    ChargingLimitSerializer,
    ChargingProfileSerializer,
    CompositeScheduleSerializer,
)
from smartcharging.models import ChargingLimit, ChargingProfile, CompositeSchedule


class ChargingProfileFilter(django_filters.FilterSet):
    station_id = django_filters.CharFilter(field_name="station__identity")

    class Meta:
        model = ChargingProfile
        fields = ["station_id", "evse_id", "profile_id", "purpose", "kind", "status"]


class ChargingProfileViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = ChargingProfile.objects.select_related("station")
    serializer_class = ChargingProfileSerializer
    filterset_class = ChargingProfileFilter
    ordering_fields = ["updated", "stack_level", "profile_id"]


class CompositeScheduleViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = CompositeSchedule.objects.select_related("station")
    serializer_class = CompositeScheduleSerializer
    filterset_fields = {"station__identity": ["exact"], "evse_id": ["exact"]}
    ordering_fields = ["received"]


class ChargingLimitViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = ChargingLimit.objects.select_related("station")
    serializer_class = ChargingLimitSerializer
    filterset_fields = {"station__identity": ["exact"], "source": ["exact"]}
    ordering_fields = ["reported"]

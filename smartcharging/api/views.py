"""Read-only data API of smart charging; profiles are set through the message API
(`POST /api/stations/{id}/commands/SetChargingProfile`), which records them here."""

from rest_framework import viewsets

from csms.api.stations import StationFilterSet
from smartcharging.api.serializers import (
    ChargingLimitSerializer,
    ChargingProfileSerializer,
    CompositeScheduleSerializer,
    EvChargingNeedsSerializer,
    EvChargingScheduleSerializer,
)
from smartcharging.models import (
    ChargingLimit,
    ChargingProfile,
    CompositeSchedule,
    EvChargingNeeds,
    EvChargingSchedule,
)


class ChargingProfileFilter(StationFilterSet):
    class Meta:
        model = ChargingProfile
        fields = ["evse_id", "profile_id", "purpose", "kind", "status"]


class CompositeScheduleFilter(StationFilterSet):
    class Meta:
        model = CompositeSchedule
        fields = ["evse_id"]


class ChargingLimitFilter(StationFilterSet):
    class Meta:
        model = ChargingLimit
        fields = ["source"]


class ChargingProfileViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = ChargingProfile.objects.select_related("station")
    serializer_class = ChargingProfileSerializer
    filterset_class = ChargingProfileFilter
    ordering_fields = ["updated", "stack_level", "profile_id"]


class CompositeScheduleViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = CompositeSchedule.objects.select_related("station")
    serializer_class = CompositeScheduleSerializer
    filterset_class = CompositeScheduleFilter
    ordering_fields = ["received"]


class ChargingLimitViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = ChargingLimit.objects.select_related("station")
    serializer_class = ChargingLimitSerializer
    filterset_class = ChargingLimitFilter
    ordering_fields = ["reported"]


class EvChargingNeedsFilter(StationFilterSet):
    class Meta:
        model = EvChargingNeeds
        fields = ["evse_id"]


class EvChargingScheduleFilter(StationFilterSet):
    class Meta:
        model = EvChargingSchedule
        fields = ["evse_id"]


class EvChargingNeedsViewSet(viewsets.ReadOnlyModelViewSet):
    """Charging needs EVs announced (2.x NotifyEVChargingNeeds)."""

    queryset = EvChargingNeeds.objects.select_related("station")
    serializer_class = EvChargingNeedsSerializer
    filterset_class = EvChargingNeedsFilter
    ordering_fields = ["received"]
    ordering = ["-received", "-id"]


class EvChargingScheduleViewSet(viewsets.ReadOnlyModelViewSet):
    """Charging schedules EVs chose (2.x NotifyEVChargingSchedule)."""

    queryset = EvChargingSchedule.objects.select_related("station")
    serializer_class = EvChargingScheduleSerializer
    filterset_class = EvChargingScheduleFilter
    ordering_fields = ["received"]
    ordering = ["-received", "-id"]

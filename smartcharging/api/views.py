"""Read-only data API of smart charging; profiles are set through the message API
(`POST /api/stations/{id}/commands/SetChargingProfile`), which records them here."""

from datetime import timedelta

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from csms.api.stations import StationFilterSet
from ocpp_router.datetimes import utcnow
from smartcharging import selectors, services
from smartcharging.api.filters import (
    DERControlFilter,
    DEREventFilter,
    DynamicScheduleUpdateFilter,
    GridSignalFilter,
    PriorityChargingFilter,
)
from smartcharging.api.serializers import (
    ChargingLimitSerializer,
    ChargingProfileSerializer,
    CompositeComparisonSerializer,
    CompositeScheduleSerializer,
    ConsumptionSerializer,
    DERControlSerializer,
    DEREventSerializer,
    DynamicScheduleUpdateSerializer,
    EvChargingNeedsSerializer,
    EvChargingScheduleSerializer,
    GrantSerializer,
    GridSignalSerializer,
    PriorityChargingSerializer,
    SitePowerSerializer,
    SiteSerializer,
)
from smartcharging.models import (
    ChargingLimit,
    ChargingProfile,
    CompositeSchedule,
    DERControl,
    DEREvent,
    DynamicScheduleUpdate,
    EvChargingNeeds,
    EvChargingSchedule,
    Grant,
    GridSignal,
    PriorityCharging,
    Site,
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

    @extend_schema(responses=CompositeComparisonSerializer)
    @action(detail=True, methods=["get"])
    def comparison(self, request, pk=None):
        """The schedule the station reported beside the one the CSMS expects from the
        profiles the station accepted (K08 rules), period by period; `differs` flags a
        difference of more than 0.1 A (or 10 W)."""
        reported = self.get_object()
        if not reported.schedule:
            raise ValidationError({"schedule": "The station reported no schedule to compare"})
        result = selectors.composite_comparison(reported)
        evse_id = reported.evse_id
        return Response(
            {
                "unit": result.expected.unit,
                "differs": result.differs,
                "expected": result.expected.as_ocpp(reported.station.protocol, evse_id),
                "rows": result.rows,
            }
        )


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


class SiteViewSet(viewsets.ReadOnlyModelViewSet):
    """Sites under load management (configured in the admin); an energy manager posts the
    site's other consumption, and the site's total power is read over time."""

    queryset = Site.objects.prefetch_related("groups", "members__station")
    serializer_class = SiteSerializer
    filterset_fields = ["enabled"]
    ordering_fields = ["name"]

    @extend_schema(request=ConsumptionSerializer, responses=SiteSerializer)
    @action(detail=True, methods=["post"])
    def consumption(self, request, pk=None):
        """The site's other consumption now (the building without the chargers), in the
        site's unit: the available capacity is the limit less this and the safety margin."""
        site = self.get_object()
        body = ConsumptionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        site = services.site_consumption_report(
            site_pk=site.pk,
            value=body.validated_data["value"],
            at=body.validated_data.get("at") or utcnow(),
        )
        return Response(SiteSerializer(site).data)

    @extend_schema(
        parameters=[OpenApiParameter("hours", int, description="window, default 2")],
        responses=SitePowerSerializer,
    )
    @action(detail=True, methods=["get"])
    def power(self, request, pk=None):
        """Total charging power of the site over time (W), from the stored meter values."""
        site = self.get_object()
        try:
            hours = min(max(float(request.query_params.get("hours", 2)), 0.01), 24 * 7)
        except ValueError:
            raise ValidationError({"hours": "A number of hours, e.g. 2"}) from None
        end = utcnow()
        start = end - timedelta(hours=hours)
        points = selectors.site_power(site, start, end)
        return Response(
            {
                "limit_w": selectors.site_limit_watts(site),
                "start": start,
                "end": end,
                "points": [{"at": at, "watts": watts} for at, watts in points],
            }
        )


class GrantFilter(StationFilterSet):
    class Meta:
        model = Grant
        fields = ["site", "status", "evse_id"]


class GrantViewSet(viewsets.ReadOnlyModelViewSet):
    """What the CSMS granted each session of a site, and what the station answered."""

    queryset = Grant.objects.select_related("station", "transaction")
    serializer_class = GrantSerializer
    filterset_class = GrantFilter
    ordering_fields = ["sent_at"]
    ordering = ["-sent_at", "-id"]


# --- OCPP 2.1 ---------------------------------------------------------------------


class DERControlViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = DERControl.objects.select_related("station")
    serializer_class = DERControlSerializer
    filterset_class = DERControlFilter


class DEREventViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = DEREvent.objects.select_related("station")
    serializer_class = DEREventSerializer
    filterset_class = DEREventFilter


class DynamicScheduleUpdateViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = DynamicScheduleUpdate.objects.select_related("station")
    serializer_class = DynamicScheduleUpdateSerializer
    filterset_class = DynamicScheduleUpdateFilter


class PriorityChargingViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = PriorityCharging.objects.select_related("station")
    serializer_class = PriorityChargingSerializer
    filterset_class = PriorityChargingFilter


class GridSignalViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = GridSignal.objects.select_related("station")
    serializer_class = GridSignalSerializer
    filterset_class = GridSignalFilter

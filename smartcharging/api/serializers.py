from decimal import Decimal

from rest_framework import serializers

from csms.api.stations import StationScopedSerializer
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
    SiteGroup,
    SiteMember,
)


class ChargingProfileSerializer(StationScopedSerializer):
    class Meta:
        model = ChargingProfile
        exclude = ["station"]


class CompositeScheduleSerializer(StationScopedSerializer):
    class Meta:
        model = CompositeSchedule
        exclude = ["station"]


class ChargingLimitSerializer(StationScopedSerializer):
    class Meta:
        model = ChargingLimit
        exclude = ["station"]


class EvChargingNeedsSerializer(StationScopedSerializer):
    class Meta:
        model = EvChargingNeeds
        exclude = ["station"]


class EvChargingScheduleSerializer(StationScopedSerializer):
    class Meta:
        model = EvChargingSchedule
        exclude = ["station"]


class SiteGroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = SiteGroup
        fields = ["id", "name", "limit", "unit"]


class SiteMemberSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station.identity")

    class Meta:
        model = SiteMember
        fields = ["id", "station", "evse_id", "group", "fallback_current", "fallback_status"]


class SiteSerializer(serializers.ModelSerializer):
    groups = SiteGroupSerializer(many=True, read_only=True)
    members = SiteMemberSerializer(many=True, read_only=True)

    class Meta:
        model = Site
        fields = "__all__"


class ConsumptionSerializer(serializers.Serializer):
    value = serializers.DecimalField(max_digits=10, decimal_places=1, min_value=Decimal(0))
    at = serializers.DateTimeField(required=False)


class SitePowerPointSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    watts = serializers.FloatField()


class SitePowerSerializer(serializers.Serializer):
    limit_w = serializers.FloatField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    points = SitePowerPointSerializer(many=True)


class GrantSerializer(StationScopedSerializer):
    transaction_id = serializers.CharField(source="transaction.transaction_id")

    class Meta:
        model = Grant
        exclude = ["station", "transaction"]


class ComparisonRowSerializer(serializers.Serializer):
    start_period = serializers.IntegerField()
    at = serializers.DateTimeField()
    expected = serializers.FloatField(allow_null=True)
    reported = serializers.FloatField(allow_null=True)
    differs = serializers.BooleanField()


class CompositeComparisonSerializer(serializers.Serializer):
    unit = serializers.CharField()
    differs = serializers.BooleanField()
    expected = serializers.DictField(help_text="The composite schedule the CSMS computed.")
    rows = ComparisonRowSerializer(many=True)


# --- OCPP 2.1 ---------------------------------------------------------------------


class DERControlSerializer(StationScopedSerializer):
    class Meta:
        model = DERControl
        exclude = ["station"]


class DEREventSerializer(StationScopedSerializer):
    class Meta:
        model = DEREvent
        exclude = ["station"]


class DynamicScheduleUpdateSerializer(StationScopedSerializer):
    class Meta:
        model = DynamicScheduleUpdate
        exclude = ["station"]


class PriorityChargingSerializer(StationScopedSerializer):
    class Meta:
        model = PriorityCharging
        exclude = ["station"]


class GridSignalSerializer(StationScopedSerializer):
    class Meta:
        model = GridSignal
        exclude = ["station"]

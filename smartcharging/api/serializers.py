from csms.api.stations import StationScopedSerializer
from smartcharging.models import (
    ChargingLimit,
    ChargingProfile,
    CompositeSchedule,
    EvChargingNeeds,
    EvChargingSchedule,
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

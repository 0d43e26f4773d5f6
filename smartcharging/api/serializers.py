from rest_framework import serializers

from csms.api.stations import StationIdField
from smartcharging.models import ChargingLimit, ChargingProfile, CompositeSchedule


class ChargingProfileSerializer(serializers.ModelSerializer):
    station_id = StationIdField()

    class Meta:
        model = ChargingProfile
        exclude = ["station"]


class CompositeScheduleSerializer(serializers.ModelSerializer):
    station_id = StationIdField()

    class Meta:
        model = CompositeSchedule
        exclude = ["station"]


class ChargingLimitSerializer(serializers.ModelSerializer):
    station_id = StationIdField()

    class Meta:
        model = ChargingLimit
        exclude = ["station"]

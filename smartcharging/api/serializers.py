from rest_framework import serializers

from smartcharging.models import ChargingLimit, ChargingProfile, CompositeSchedule


class ChargingProfileSerializer(serializers.ModelSerializer):
    station_id = serializers.CharField(source="station.identity", read_only=True)

    class Meta:
        model = ChargingProfile
        exclude = ["station"]


class CompositeScheduleSerializer(serializers.ModelSerializer):
    station_id = serializers.CharField(source="station.identity", read_only=True)

    class Meta:
        model = CompositeSchedule
        exclude = ["station"]


class ChargingLimitSerializer(serializers.ModelSerializer):
    station_id = serializers.CharField(source="station.identity", read_only=True)

    class Meta:
        model = ChargingLimit
        exclude = ["station"]

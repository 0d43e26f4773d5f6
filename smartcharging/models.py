from __future__ import annotations

from django.db import models

from smartcharging.choices import ProfileKind, ProfilePurpose, ProfileStatus
from stations.models import ChargingStation


class ChargingProfile(models.Model):
    """A charging profile of a station: one the CSMS set, or one the station reported.

    `evse_id` 0 is the station as a whole (1.6 connectorId 0). `schedules` keeps the
    chargingSchedule(s) exactly as on the wire (1.6: one object; 2.x: a list of 1-3).
    """

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="charging_profiles"
    )
    evse_id = models.PositiveIntegerField(default=0)
    profile_id = models.IntegerField(help_text="chargingProfileId (1.6) / id (2.x)")
    stack_level = models.PositiveIntegerField()
    purpose = models.CharField(max_length=40, choices=ProfilePurpose.choices)
    kind = models.CharField(max_length=10, choices=ProfileKind.choices)
    recurrency_kind = models.CharField(max_length=10, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    transaction_id = models.CharField(max_length=36, blank=True)
    schedules = models.JSONField()
    status = models.CharField(
        max_length=15, choices=ProfileStatus.choices, default=ProfileStatus.PENDING
    )
    status_info = models.JSONField(null=True, blank=True)
    limit_source = models.CharField(
        max_length=20, blank=True, help_text="chargingLimitSource of a reported profile"
    )
    protocol = models.CharField(max_length=5)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["station", "evse_id", "-stack_level"]
        indexes = [models.Index(fields=["station", "profile_id"])]

    def __str__(self) -> str:
        return f"{self.station} profile {self.profile_id} ({self.purpose}, {self.status})"


class CompositeSchedule(models.Model):
    """A composite schedule a station calculated on request (GetCompositeSchedule)."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="composite_schedules"
    )
    evse_id = models.PositiveIntegerField()
    requested_duration = models.PositiveIntegerField()
    status = models.CharField(max_length=10)
    schedule_start = models.DateTimeField(null=True, blank=True)
    schedule = models.JSONField(null=True, blank=True)
    received = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received"]

    def __str__(self) -> str:
        return f"{self.station} EVSE {self.evse_id} composite schedule ({self.status})"


class ChargingLimit(models.Model):
    """An external charging limit a 2.x station reported (NotifyChargingLimit), until cleared."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="charging_limits"
    )
    evse_id = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=20)
    is_grid_critical = models.BooleanField(null=True, blank=True)
    schedules = models.JSONField(null=True, blank=True)
    reported = models.DateTimeField()
    cleared = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-reported"]

    def __str__(self) -> str:
        return f"{self.station} limit from {self.source}"


class EvChargingNeeds(models.Model):
    """Charging needs an EV announced through the station (2.x NotifyEVChargingNeeds, ISO 15118)."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="ev_charging_needs"
    )
    evse_id = models.PositiveIntegerField()
    needs = models.JSONField()
    max_schedule_tuples = models.PositiveIntegerField(null=True, blank=True)
    received = models.DateTimeField()

    class Meta:
        ordering = ["-received"]
        verbose_name_plural = "EV charging needs"

    def __str__(self) -> str:
        return f"{self.station} EVSE {self.evse_id} needs at {self.received:%Y-%m-%d %H:%M}"


class EvChargingSchedule(models.Model):
    """The charging schedule an EV chose (2.x NotifyEVChargingSchedule, ISO 15118)."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="ev_charging_schedules"
    )
    evse_id = models.PositiveIntegerField()
    time_base = models.DateTimeField(null=True, blank=True)
    schedule = models.JSONField()
    received = models.DateTimeField()

    class Meta:
        ordering = ["-received"]

    def __str__(self) -> str:
        return f"{self.station} EVSE {self.evse_id} EV schedule at {self.received:%Y-%m-%d %H:%M}"

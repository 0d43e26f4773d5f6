from __future__ import annotations

from django.db import models

from smartcharging.choices import (
    DERControlStatus,
    DEREventKind,
    GrantStatus,
    LimitUnit,
    Origin,
    ProfileKind,
    ProfilePurpose,
    ProfileStatus,
)
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
        return f"{self.station} EVSE {self.evse_id} needs at {self.received:%Y-%m-%d %H:%M:%S}"


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
        return (
            f"{self.station} EVSE {self.evse_id} EV schedule at {self.received:%Y-%m-%d %H:%M:%S}"
        )


class Site(models.Model):
    """A grid connection shared by charging stations: the CSMS keeps the sum of what it
    grants their sessions under the site's limit (less the other consumption measured and a
    safety margin), and under the limit of each group inside it."""

    name = models.CharField(max_length=100, unique=True)
    limit = models.DecimalField(
        max_digits=10, decimal_places=1, help_text="Grid connection limit, in the unit below."
    )
    unit = models.CharField(max_length=1, choices=LimitUnit.choices, default=LimitUnit.AMPERES)
    safety_margin = models.DecimalField(
        max_digits=10, decimal_places=1, default=0, help_text="Kept free, in the same unit."
    )
    voltage = models.PositiveIntegerField(
        default=230, help_text="Nominal phase voltage, to turn amperes into watts."
    )
    phases = models.PositiveSmallIntegerField(
        default=3, help_text="Phases a session uses when neither the station nor the EV says."
    )
    min_current = models.DecimalField(
        max_digits=5,
        decimal_places=1,
        default=6,
        help_text="A per phase below which a session is paused rather than slowed "
        "(IEC 61851: 6 A); the schedule's minChargingRate or the EV's minimum if higher.",
    )
    max_current = models.DecimalField(
        max_digits=5,
        decimal_places=1,
        default=32,
        help_text="A per phase an EVSE can deliver; the EV's maximum if lower.",
    )
    fallback_current = models.DecimalField(
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="TxDefaultProfile limit (A per phase) a station applies when it starts a "
        "session or loses the CSMS; empty: the site's limit shared among all its EVSEs.",
    )
    meter_station = models.ForeignKey(
        ChargingStation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="metered_sites",
        help_text="A station whose MeterValues (Power.Active.Import) measure the site's other "
        "consumption (the building without the chargers).",
    )
    meter_evse_id = models.PositiveIntegerField(default=0)
    other_consumption = models.DecimalField(
        max_digits=10,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="Latest other consumption (site unit), from the meter or the API.",
    )
    other_consumption_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True, help_text="Off: the CSMS sends no profiles.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(limit__gte=0), name="site_limit_positive")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.limit} {self.unit})"


class SiteGroup(models.Model):
    """A part of a site with its own limit (a feeder, a car park)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=100)
    limit = models.DecimalField(max_digits=10, decimal_places=1)
    unit = models.CharField(max_length=1, choices=LimitUnit.choices, default=LimitUnit.AMPERES)

    class Meta:
        ordering = ["site", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="unique_site_group_name")
        ]

    def __str__(self) -> str:
        return f"{self.site.name} / {self.name}"


class SiteMember(models.Model):
    """A station (evse_id 0: all its EVSEs) or one EVSE in a site, and in one of its groups."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="members")
    group = models.ForeignKey(
        SiteGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="site_memberships"
    )
    evse_id = models.PositiveIntegerField(default=0, help_text="0: every EVSE of the station.")
    # The offline fallback (TxDefaultProfile) the station holds for this site.
    fallback_current = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    fallback_status = models.CharField(max_length=10, choices=GrantStatus.choices, blank=True)
    fallback_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["site", "station"]
        constraints = [
            models.UniqueConstraint(fields=["station", "evse_id"], name="unique_site_member")
        ]

    def __str__(self) -> str:
        where = f" EVSE {self.evse_id}" if self.evse_id else ""
        return f"{self.station}{where} in {self.site.name}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.group_id is not None and self.group.site_id != self.site_id:
            raise ValidationError({"group": "The group belongs to another site."})


class Grant(models.Model):
    """What the CSMS granted a charging session of a site (a TxProfile), and what came of it."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="grants")
    station = models.ForeignKey(ChargingStation, on_delete=models.CASCADE, related_name="grants")
    transaction = models.OneToOneField(
        "transactions.Transaction", on_delete=models.CASCADE, related_name="grant"
    )
    evse_id = models.PositiveIntegerField()
    current = models.DecimalField(
        max_digits=6, decimal_places=1, help_text="Last limit sent (A per phase)."
    )
    accepted_current = models.DecimalField(
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="Last limit the station accepted.",
    )
    status = models.CharField(max_length=10, choices=GrantStatus.choices)
    profile_id = models.IntegerField()
    resend = models.BooleanField(
        default=False, help_text="Send again even if unchanged (an EV asked for a schedule)."
    )
    sent_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["site", "station", "evse_id"]
        indexes = [models.Index(fields=["site", "status"])]

    def __str__(self) -> str:
        return f"{self.current} A to {self.station} EVSE {self.evse_id} ({self.status})"


class DERControl(models.Model):
    """A DER control of a station (OCPP 2.1 section R): one the CSMS set with SetDERControl or
    one the station reported (ReportDERControl), with its type and priority; `settings` is
    the control's object as on the wire (its `curve`, `fixedPFAbsorb`, ... value)."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="der_controls"
    )
    control_id = models.CharField(max_length=36)
    control_type = models.CharField(max_length=30)
    is_default = models.BooleanField(default=False)
    priority = models.IntegerField(null=True, blank=True)
    settings = models.JSONField(default=dict)
    status = models.CharField(
        max_length=15, choices=DERControlStatus.choices, default=DERControlStatus.PENDING
    )
    status_info = models.JSONField(null=True, blank=True)
    active = models.BooleanField(default=False, help_text="Started (NotifyDERStartStop).")
    updated = models.DateTimeField()

    class Meta:
        ordering = ["station", "control_type", "priority"]
        constraints = [
            models.UniqueConstraint(fields=["station", "control_id"], name="unique_der_control_id")
        ]

    def __str__(self) -> str:
        return f"{self.station} DER {self.control_type} {self.control_id} ({self.status})"


class DEREvent(models.Model):
    """A DER alarm (NotifyDERAlarm) or a control started or stopped (NotifyDERStartStop)."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="der_events"
    )
    kind = models.CharField(max_length=10, choices=DEREventKind.choices)
    control_type = models.CharField(max_length=30, blank=True)
    control_id = models.CharField(max_length=36, blank=True)
    grid_event_fault = models.CharField(max_length=30, blank=True)
    alarm_ended = models.BooleanField(default=False)
    extra_info = models.CharField(max_length=200, blank=True)
    superseded_ids = models.JSONField(default=list, blank=True)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-timestamp"]
        indexes = [models.Index(fields=["station", "-timestamp"])]

    def __str__(self) -> str:
        return f"{self.station} DER {self.kind} {self.control_type or self.control_id}"


class DynamicScheduleUpdate(models.Model):
    """A limit/setpoint update of a Dynamic charging profile (OCPP 2.1): pushed by
    the CSMS (UpdateDynamicSchedule) or pulled by the station (PullDynamicScheduleUpdate)."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="dynamic_schedule_updates"
    )
    charging_profile_id = models.IntegerField()
    origin = models.CharField(max_length=10, choices=Origin.choices)
    schedule_update = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=15, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["station", "charging_profile_id"])]

    def __str__(self) -> str:
        return f"{self.station} profile {self.charging_profile_id} update ({self.origin})"


class PriorityCharging(models.Model):
    """Priority charging of a transaction (OCPP 2.1): asked by the CSMS with
    UsePriorityCharging, or (de)activated at the station (NotifyPriorityCharging)."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="priority_chargings"
    )
    transaction = models.ForeignKey(
        "transactions.Transaction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="priority_chargings",
    )
    transaction_ref = models.CharField(max_length=36, help_text="The station's transactionId.")
    activated = models.BooleanField()
    origin = models.CharField(max_length=10, choices=Origin.choices)
    status = models.CharField(max_length=15, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["station", "transaction_ref"])]

    def __str__(self) -> str:
        state = "on" if self.activated else "off"
        return f"{self.station} tx {self.transaction_ref} priority {state} ({self.origin})"


class GridSignal(models.Model):
    """What the CSMS told a station about the grid: an aFRR signal (AFRRSignal) or the energy
    transfer modes allowed for a transaction (NotifyAllowedEnergyTransfer), and its answer."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="grid_signals"
    )
    action = models.CharField(max_length=30)
    transaction_id = models.CharField(max_length=36, blank=True)
    signal = models.IntegerField(null=True, blank=True, help_text="AFRRSignal: -1 .. 1 scaled.")
    allowed_energy_transfer = models.JSONField(default=list, blank=True)
    timestamp = models.DateTimeField()
    status = models.CharField(max_length=15, blank=True)

    class Meta:
        ordering = ["-timestamp"]

    def __str__(self) -> str:
        return f"{self.station} {self.action} ({self.status or 'sent'})"
